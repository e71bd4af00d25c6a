/**
 * The one self-contained file a lagging follower receives. A stored snapshot that is one
 * 'full' file already is streamed as it is. A chain (a base and deltas) is materialised by
 * the state machine into `snapshot-outgoing-<index>-<term>.db` in the data directory,
 * while the store's read lock keeps folds from changing its files; the file is streamed,
 * and removed once every transfer using it has succeeded. After a failed transfer it stays
 * (at most one file, the newest snapshot's), so the next attempt resumes where the
 * follower's copy stopped instead of materialising and streaming from the start.
 */
import { join } from 'node:path';
import type { SnapshotChain } from '../state-machine/snapshot-chains.js';
import type { NodeFiles, NodeStateMachine, NodeStorage, StoredSnapshot } from './ports.js';

/** The chain the state machine materialises: the root, the deltas after it, the newest one's internal state. */
export function chainFor(links: readonly StoredSnapshot[]): SnapshotChain {
  const [root, ...deltas] = links;
  const head = links.at(-1);
  if (root === undefined || head === undefined) throw new Error('an empty snapshot chain');
  return {
    root: { dataPath: root.dataPath, index: root.metadata.index },
    deltas: deltas.map((delta) => ({ dataPath: delta.dataPath, index: delta.metadata.index })),
    internalPath: head.files['internal'],
  };
}

/** Whether the snapshot is one self-contained file the transport can stream as it is (a fold makes a root a 'base'). */
export function isWholeFile(links: readonly StoredSnapshot[]): boolean {
  return links.length === 1 && links[0]?.format === 'full';
}

interface Materialised {
  readonly index: number;
  readonly term: number;
  readonly path: string;
  /** Settles once the file is complete (rejects if materialising failed). */
  readonly ready: Promise<void>;
  users: number;
}

/** A transfer's file and what to do once it is over. */
interface OutgoingFile {
  readonly path: string;
  /** Ends this transfer's use of the file: a success lets it go once no other transfer uses it. */
  release(succeeded: boolean): Promise<void>;
}

interface SendingParts {
  readonly dataDirectory: string;
  readonly storage: NodeStorage;
  readonly stateMachine: NodeStateMachine;
  readonly files: NodeFiles;
}

export class SnapshotSending {
  readonly #parts: SendingParts;
  #current: Materialised | undefined;
  /** Files replaced while transfers still used them: removed when the last one ends. */
  readonly #retired = new Set<Materialised>();

  constructor(parts: SendingParts) {
    this.#parts = parts;
  }

  /**
   * The file to stream for `stored`: its own data (under the store's read lock until the
   * transfer ends: a fold may not change it meanwhile), or the chain materialised (shared
   * by concurrent transfers; the lock is held while it is made).
   */
  async fileFor(stored: StoredSnapshot): Promise<OutgoingFile> {
    const { storage } = this.#parts;
    const { index, term } = stored.metadata;
    const release = await storage.snapshots.readLock();
    const current = storage.snapshots.find(index, term);
    if (current !== undefined && isWholeFile(storage.snapshots.chain(current))) {
      return { path: current.dataPath, release: async () => release() };
    }
    release();
    let materialised = this.#current;
    if (materialised === undefined || materialised.index !== index || materialised.term !== term) {
      if (materialised !== undefined) await this.#retire(materialised);
      materialised = this.#materialise(index, term);
      this.#current = materialised;
    }
    materialised.users++;
    const entry = materialised;
    try {
      await entry.ready;
    } catch (error) {
      await this.#releaseUse(entry, false);
      if (this.#current === entry) this.#current = undefined;
      throw error;
    }
    return { path: entry.path, release: (succeeded) => this.#releaseUse(entry, succeeded) };
  }

  /** Removes every materialised file (the node stops). */
  async close(): Promise<void> {
    const all = [...this.#retired, ...(this.#current === undefined ? [] : [this.#current])];
    this.#retired.clear();
    this.#current = undefined;
    for (const entry of all) await this.#parts.files.remove(entry.path).catch(() => undefined);
  }

  #materialise(index: number, term: number): Materialised {
    const path = join(this.#parts.dataDirectory, `snapshot-outgoing-${index}-${term}.db`);
    const partialPath = `${path}.partial`;
    const ready = (async () => {
      const { storage, stateMachine, files } = this.#parts;
      // Under the read lock the chain is read again: a fold may have shortened it since.
      const release = await storage.snapshots.readLock();
      try {
        const stored = storage.snapshots.find(index, term);
        if (stored === undefined) throw new Error(`snapshot ${index}/${term} is no longer stored`);
        await files.remove(partialPath);
        await stateMachine.materialiseSnapshot(chainFor(storage.snapshots.chain(stored)), partialPath);
        await files.rename(partialPath, path);
      } catch (error) {
        await files.remove(partialPath).catch(() => undefined);
        throw error;
      } finally {
        release();
      }
    })();
    ready.catch(() => undefined);
    return { index, term, path, ready, users: 0 };
  }

  async #retire(entry: Materialised): Promise<void> {
    if (entry.users > 0) {
      this.#retired.add(entry);
      return;
    }
    await entry.ready.catch(() => undefined);
    await this.#parts.files.remove(entry.path);
  }

  async #releaseUse(entry: Materialised, succeeded: boolean): Promise<void> {
    entry.users--;
    if (entry.users > 0) return;
    if (this.#retired.delete(entry) || (succeeded && this.#current === entry)) {
      if (this.#current === entry) this.#current = undefined;
      await this.#parts.files.remove(entry.path);
    }
  }
}
