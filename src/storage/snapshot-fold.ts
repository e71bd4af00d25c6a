/**
 * Folding a delta into the root of its chain, in place, so the store keeps one copy of the
 * state and deltas stay few. The root's data is a database file; the delta's data is WAL
 * frames: placed beside the root as its WAL (`data-wal`), the root *is* the delta's state
 * for anyone who opens it with SQLite, and the state machine checkpoints it in later
 * (`absorb`, outside this module: storage knows no SQLite). The steps, with an intent file
 * (`fold.json`) naming both directories so a crash is finished or undone at open:
 *
 *   1. intent written            crash → undone (nothing else changed)
 *   2. `data-wal` placed (the delta's data moved there)
 *                                crash → finished: the root is already the delta's state
 *   3. side files copied         (the delta's internal state replaces the root's)
 *   4. root meta rewritten       (the delta's index, term, membership, context, proof)
 *   5. delta directory removed, root directory renamed to the delta's name
 *   6. intent removed
 *
 * The root must have no `data-wal` of its own when a fold begins (absorbed first), so a
 * `data-wal` beside a root under an intent can only be this fold's. Every step is a rename
 * of a complete, synced file, or a removal after the state no longer needs what it removes.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { syncDirectory } from './file-io.js';
import { copyFileDurably, readMeta, replaceMeta, snapshotDataFileName, writeSyncedFile, type MetaFile, type SnapshotInfo } from './snapshot-meta.js';
import { temporaryPrefix } from './snapshot-writer.js';

const intentFileName = 'fold.json';

/** The steps of a fold, in order (test-only hooks crash after each). */
export type FoldStep = 'intent-written' | 'wal-placed' | 'side-files-copied' | 'meta-rewritten' | 'delta-removed' | 'renamed';

interface FoldIntent {
  /** Directory names in the store. */
  readonly root: string;
  readonly delta: string;
}

/** The WAL a fold places beside a root's data (SQLite's name for it). */
export function pendingWalPath(dataPath: string): string {
  return `${dataPath}-wal`;
}

async function exists(path: string): Promise<boolean> {
  return fs.promises.access(path).then(
    () => true,
    () => false,
  );
}

/** Renames a directory to a `tmp-` name (atomic, synced), then deletes it; open() removes leftovers. */
export async function removeDirectoryAtomically(path: string, parent: string): Promise<void> {
  const doomed = join(parent, `${temporaryPrefix}deleting-${randomBytes(8).toString('hex')}`);
  await fs.promises.rename(path, doomed);
  await syncDirectory(parent);
  await fs.promises.rm(doomed, { recursive: true, force: true });
}

/** The root's new description: the delta's identity and side files, the root's data (changed in place: no CRC). */
async function foldedMeta(rootDirectory: string, delta: MetaFile): Promise<MetaFile> {
  const { parent: _parent, dataCrc32c: _crc, ...identity } = delta;
  const dataBytes = (await fs.promises.stat(join(rootDirectory, snapshotDataFileName))).size;
  return { ...identity, format: 'base', dataBytes };
}

/** Steps 3 to 6, from wherever a crash left them (each is safe to repeat). */
async function finish(store: string, intent: FoldIntent, onStep: ((step: FoldStep) => void) | undefined): Promise<void> {
  const rootDirectory = join(store, intent.root);
  const deltaDirectory = join(store, intent.delta);
  if (await exists(rootDirectory)) {
    const rootMeta = await readMeta(rootDirectory);
    const deltaMeta = await readMeta(deltaDirectory).catch(() => undefined);
    if (deltaMeta !== undefined && (rootMeta.index !== deltaMeta.index || rootMeta.term !== deltaMeta.term)) {
      for (const name of Object.keys(deltaMeta.files ?? {})) await copyFileDurably(join(deltaDirectory, name), join(rootDirectory, name), rootDirectory);
      onStep?.('side-files-copied');
      await replaceMeta(rootDirectory, await foldedMeta(rootDirectory, deltaMeta));
      onStep?.('meta-rewritten');
    }
    if (await exists(deltaDirectory)) await removeDirectoryAtomically(deltaDirectory, store);
    onStep?.('delta-removed');
    await fs.promises.rename(rootDirectory, deltaDirectory);
    await syncDirectory(store);
    onStep?.('renamed');
  }
  await fs.promises.rm(join(store, intentFileName), { force: true });
  await syncDirectory(store);
}

/**
 * Folds `delta` into `root` (its parent, a chain root without a pending WAL): after it the
 * root's directory bears the delta's name and describes the delta's state, its data
 * waiting beside it as `data-wal` until the state machine absorbs it.
 */
export async function foldDelta(store: string, root: SnapshotInfo, delta: SnapshotInfo, onStep?: (step: FoldStep) => void): Promise<void> {
  const rootDirectory = join(root.dataPath, '..');
  const intent: FoldIntent = { root: basename(rootDirectory), delta: basename(join(delta.dataPath, '..')) };
  if (await exists(pendingWalPath(root.dataPath))) throw new Error(`${root.dataPath} still has a WAL to absorb`);
  await fs.promises.rm(join(store, `${intentFileName}.tmp`), { force: true });
  await writeSyncedFile(join(store, `${intentFileName}.tmp`), JSON.stringify(intent));
  await fs.promises.rename(join(store, `${intentFileName}.tmp`), join(store, intentFileName));
  await syncDirectory(store);
  onStep?.('intent-written');
  // Moved, not copied (one filesystem): from here the root is the delta's state, and recovery finishes the fold.
  await fs.promises.rename(delta.dataPath, pendingWalPath(root.dataPath));
  await syncDirectory(rootDirectory);
  await syncDirectory(join(delta.dataPath, '..'));
  onStep?.('wal-placed');
  await finish(store, intent, onStep);
}

/**
 * At open, before the store reads its snapshots, or after a fold threw part way: finishes a
 * fold whose delta was placed (the root already is the delta's state), or forgets one that
 * had not got that far.
 */
export async function recoverFold(store: string, onStep?: (step: FoldStep) => void): Promise<void> {
  await fs.promises.rm(join(store, `${intentFileName}.tmp`), { force: true });
  const text = await fs.promises.readFile(join(store, intentFileName), 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const intent = JSON.parse(text) as FoldIntent;
  const rootData = join(store, intent.root, snapshotDataFileName);
  const rootDirectory = join(store, intent.root);
  const placed = (await exists(pendingWalPath(rootData))) || !(await exists(rootDirectory));
  const rootMeta = (await exists(rootDirectory)) ? await readMeta(rootDirectory) : undefined;
  const deltaMeta = await readMeta(join(store, intent.delta)).catch(() => undefined);
  const rewritten = rootMeta !== undefined && deltaMeta !== undefined && rootMeta.index === deltaMeta.index && rootMeta.term === deltaMeta.term;
  if (placed || rewritten || (rootMeta !== undefined && deltaMeta === undefined)) {
    await finish(store, intent, onStep);
    return;
  }
  await fs.promises.rm(join(store, intentFileName), { force: true });
  await syncDirectory(store);
}
