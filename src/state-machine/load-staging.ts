/**
 * The file a load is staged in beside the database while its chunks come through the
 * log (load-entries.ts), and the rules that make it survive crashes and agree on every
 * node. The design is in docs/ARCHITECTURE.md ("Loads through the log"); in short:
 *
 * - `<db>.load-<begin index>-<load id>`: the load whose first chunk applied at that index.
 *   At most one load is open; a first chunk drops any other staged file.
 * - Each chunk's bytes are written at their offset and fsynced before the entry's index
 *   commits in the database, so a replay after a crash writes the same bytes at the same
 *   place again (idempotent) and never finds a chunk missing below the applied index.
 * - A commit first renames the file to `…​.commit-<index>` (durably): after a crash, a
 *   file so named at or below the applied index was swapped in already (it is removed);
 *   above it, the commit replays on it.
 * - At open, a staged file that begins above the applied index is removed: its first
 *   chunk never committed, and replaying it creates the file again.
 * - Every change of the open load bumps `epoch`: a snapshot whose copy overlapped one is
 *   thrown away (a snapshot must never fall inside a load, see `guardSnapshot`).
 */
import { closeSync, fstatSync, openSync, readdirSync, renameSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StateMachineError } from './errors.js';
import { fsyncDirectory, removeIfPresent, syncFile } from './files.js';
import type { LoadEntry } from './load-entries.js';
import type { StatementResult } from './types.js';

export interface OpenLoad {
  readonly loadId: string;
  /** The index of the load's first chunk. */
  readonly beginIndex: number;
  readonly path: string;
  /** Set once the commit entry renamed the file (the commit is then under way). */
  readonly commitIndex: number | undefined;
  /** The database it loads, when not the default one (set by database-loads.ts). */
  readonly database?: string;
}

const indexDigits = 20;
/** A staged file being removed: renamed out of the way at once (atomic), deleted in the background. */
const discardedSuffix = '.discarded';

function failed(error: string): StatementResult[] {
  return [{ kind: 'error', error }];
}

export class LoadStaging {
  readonly #directory: string;
  readonly #prefix: string;
  #open: OpenLoad | undefined;
  #epoch = 0;

  /** `appliedIndex`: the database's, at open; files the log will write again are removed. */
  constructor(databasePath: string, appliedIndex: number) {
    this.#directory = dirname(databasePath);
    this.#prefix = `${basename(databasePath)}.load-`;
    for (const name of readdirSync(this.#directory)) {
      if (name.startsWith(this.#prefix) && name.endsWith(discardedSuffix)) removeIfPresent(join(this.#directory, name));
    }
    for (const found of this.#stagedFiles()) {
      const finished = found.commitIndex !== undefined && found.commitIndex <= appliedIndex;
      if (found.beginIndex > appliedIndex || finished || this.#open !== undefined) removeIfPresent(found.path);
      else this.#open = found;
    }
  }

  /** The load whose chunks are being staged, if any. */
  get openLoad(): OpenLoad | undefined {
    return this.#open;
  }

  /** Bumped whenever a load begins or ends. */
  get epoch(): number {
    return this.#epoch;
  }

  #stagedFiles(): OpenLoad[] {
    const prefix = this.#prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = new RegExp(`^${prefix}(\\d{${indexDigits}})-([0-9a-f]{32})(?:\\.commit-(\\d{${indexDigits}}))?$`);
    const found: OpenLoad[] = [];
    for (const name of readdirSync(this.#directory).sort()) {
      const match = pattern.exec(name);
      if (match === null) continue;
      const commitIndex = match[3] === undefined ? undefined : Number(match[3]);
      found.push({ loadId: match[2] as string, beginIndex: Number(match[1]), path: join(this.#directory, name), commitIndex });
    }
    return found.sort((left, right) => right.beginIndex - left.beginIndex);
  }

  #pathFor(beginIndex: number, loadId: string, commitIndex?: number): string {
    const name = `${this.#prefix}${String(beginIndex).padStart(indexDigits, '0')}-${loadId}`;
    return join(this.#directory, commitIndex === undefined ? name : `${name}.commit-${String(commitIndex).padStart(indexDigits, '0')}`);
  }

  /**
   * Chunk and abort entries (consecutive, in log order): their file work, made durable
   * (one fsync for them all) before the caller commits their indexes. Each entry's results
   * (an error result when it finds no such load open: the same on every node).
   */
  async applyEntries(entries: readonly { readonly index: number; readonly entry: Exclude<LoadEntry, { kind: 'commit' }> }[]): Promise<StatementResult[][]> {
    const written = new Set<string>();
    const results: StatementResult[][] = [];
    for (const { index, entry } of entries) results.push(await this.#applyEntry(index, entry, written));
    for (const path of written) if (path === this.#open?.path) await syncFile(path, { dataOnly: true });
    return results;
  }

  async #applyEntry(index: number, entry: Exclude<LoadEntry, { kind: 'commit' }>, written: Set<string>): Promise<StatementResult[]> {
    if (entry.kind === 'abort') {
      if (this.#open?.loadId !== entry.loadId) return failed(`load ${entry.loadId} is not in progress`);
      this.discardAll();
      return [];
    }
    if (entry.offset === 0) {
      this.discardAll();
      const path = this.#pathFor(index, entry.loadId);
      const results = await this.#write(path, 0, entry.data, 'w', written);
      fsyncDirectory(this.#directory);
      this.#open = { loadId: entry.loadId, beginIndex: index, path, commitIndex: undefined };
      this.#epoch += 1;
      return results;
    }
    const open = this.#open;
    if (open?.loadId !== entry.loadId || open.commitIndex !== undefined) return failed(`load ${entry.loadId} is not in progress`);
    return this.#write(open.path, entry.offset, entry.data, 'r+', written);
  }

  /** Writes at `offset` (synced by the caller, once); a write that would leave a hole is refused (a chunk went missing). */
  async #write(path: string, offset: number, data: Uint8Array, flags: 'w' | 'r+', written: Set<string>): Promise<StatementResult[]> {
    const handle = await open(path, flags);
    try {
      const size = (await handle.stat()).size;
      if (offset > size) return failed(`load chunk at offset ${offset} follows only ${size} staged bytes`);
      let count = 0;
      while (count < data.byteLength) count += (await handle.write(data, count, data.byteLength - count, offset + count)).bytesWritten;
      written.add(path);
      return [];
    } finally {
      await handle.close();
    }
  }

  /**
   * The commit entry at `index`: the staged file of `loadId`, which must hold exactly
   * `totalBytes`, renamed (durably) to its commit name; or why the commit cannot happen
   * (the same answer on every node).
   */
  beginCommit(index: number, loadId: string, totalBytes: number): { readonly path: string } | { readonly error: string } {
    const open = this.#open;
    if (open?.loadId !== loadId) return { error: `load ${loadId} is not in progress` };
    if (open.commitIndex === undefined) {
      const size = this.#size(open.path);
      if (size !== totalBytes) return { error: `load ${loadId} staged ${size} of ${totalBytes} bytes` };
      const committing = this.#pathFor(open.beginIndex, loadId, index);
      renameSync(open.path, committing);
      fsyncDirectory(this.#directory);
      this.#open = { ...open, path: committing, commitIndex: index };
    }
    return { path: this.#open?.path as string };
  }

  #size(path: string): number {
    const descriptor = openSync(path, 'r');
    try {
      return fstatSync(descriptor).size;
    } finally {
      closeSync(descriptor);
    }
  }

  /**
   * `/boot` on a one-node cluster: a file made on this node (in the database's
   * filesystem) becomes the open load without chunk entries, no other node replaying
   * them. Named as beginning at `beginIndex` (the applied index): after a crash before its
   * commit it stays open until the leader aborts it.
   */
  adopt(path: string, loadId: string, beginIndex: number): void {
    this.discardAll();
    const staged = this.#pathFor(beginIndex, loadId);
    renameSync(path, staged);
    fsyncDirectory(this.#directory);
    this.#open = { loadId, beginIndex, path: staged, commitIndex: undefined };
    this.#epoch += 1;
  }

  /**
   * No load is open any more (aborted, committed, or the database was replaced by a
   * snapshot). Unlinking hundreds of megabytes takes a while: the files are renamed away
   * (durably) and deleted off the event loop; what a crash leaves is removed at open.
   */
  discardAll(): void {
    const staged = this.#stagedFiles();
    for (const found of staged) {
      const discarded = `${found.path}${discardedSuffix}`;
      renameSync(found.path, discarded);
      void unlink(discarded).catch(() => undefined);
    }
    if (staged.length > 0) fsyncDirectory(this.#directory);
    if (this.#open !== undefined) this.#epoch += 1;
    this.#open = undefined;
  }

  /**
   * Before a snapshot copy: refuses while a load is open, and returns a check for after
   * the copy, which refuses if a load began or ended meanwhile (the copy may then hold an
   * index inside it, and a node restored from it would miss the chunks before).
   */
  guardSnapshot(): () => void {
    if (this.#open !== undefined) throw new StateMachineError('LOAD_IN_PROGRESS', 'load in progress');
    const epoch = this.#epoch;
    return () => {
      if (this.#epoch !== epoch || this.#open !== undefined) throw new StateMachineError('LOAD_IN_PROGRESS', 'a load began during the snapshot');
    };
  }
}
