/**
 * Snapshot files. Each snapshot is a directory `snapshot-<index>-<term>` holding `data`
 * (the state machine's bytes, streamed, never required in memory), side files the
 * producer names, and `meta.json` (index, term, confState, the runtime's opaque context,
 * sizes and CRC32Cs, format, a delta's parent, the producer's proof: snapshot-meta.ts).
 * A snapshot is written in a `tmp-*` directory, fsynced, renamed into place and the parent
 * directory fsynced, so it appears whole or not at all.
 *
 * Snapshots form chains: a root ('full' or 'base') and the deltas after it, each naming
 * its parent. A delta folds into its root in place (snapshot-fold.ts), so in steady state
 * the store holds one root and few deltas. Kept: the newest `retainCount` snapshots and
 * the newest one the durable log vouches for (`guardRetention`), each with its chain.
 * A fold does not begin while a chain is being read (`readLock`), and a reader waits for a fold that runs.
 * A fold that fails part way (a full disk) leaves its files as a crash would: the next
 * reader or fold first finishes or undoes it (`settleFold`), as open does after a crash.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { ConfState, SnapshotMetadata } from '../raft/types.js';
import { assert } from '../common/assert.js';
import { StorageError, storageErrorFromSystem } from './errors.js';
import { syncDirectory } from './file-io.js';
import { foldDelta, pendingWalPath, recoverFold, removeDirectoryAtomically, type FoldStep } from './snapshot-fold.js';
import {
  checksumFile,
  infoFromMeta,
  readSnapshotInfo,
  replaceMeta,
  snapshotDirectoryName,
  snapshotMetaFileName,
  validateSnapshotMetadata,
  writeSyncedFile,
  type MetaFile,
  type SnapshotInfo,
} from './snapshot-meta.js';
import { SnapshotWriter, temporaryPrefix, type SnapshotLayout, type SnapshotPublisher } from './snapshot-writer.js';

export { validateConfState, validateSnapshotMetadata } from './snapshot-meta.js';

const snapshotDirectoryPattern = /^snapshot-(\d{20})-(\d{20})$/;

export interface SnapshotStoreOptions {
  /** How many snapshots to keep (the newest ones, each with its chain). At least 1. */
  readonly retainCount: number;
  /** Largest snapshot data accepted. */
  readonly snapshotBytesMax: number;
  /** Largest JSON-encoded context accepted. */
  readonly contextBytesMax: number;
  /** Test-only: called after each step of a fold, to crash there. */
  readonly onFoldStep?: (step: FoldStep) => void;
}

/** A fold in progress (`beginFold`): the root's data file, where the delta is placed as its WAL. */
interface SnapshotFold {
  readonly rootDataPath: string;
  /** Places the delta beside the root and gives the root the delta's identity (crash-safe); resolves to the root's data file now (renamed). */
  place(): Promise<string>;
  /** Ends the fold (placed or not); later folds and removals may run. */
  release(): void;
}

function sameSnapshot(info: SnapshotInfo, index: number, term: number): boolean {
  return info.metadata.index === index && info.metadata.term === term;
}

export class SnapshotStore implements SnapshotPublisher {
  #snapshots: SnapshotInfo[] = [];
  #vouchedFor: (metadata: SnapshotMetadata) => boolean = () => false;
  /** Chains being read (materialised for a follower): no fold begins meanwhile. */
  #readerCount = 0;
  #folding = false;
  /** Readers waiting for the fold in progress to end. */
  #foldEnded: (() => void)[] = [];
  /**
   * A fold that threw part way: on disk its files may be half moved (the delta's data
   * beside the root), so this list no longer describes them until `settleFold` has run.
   */
  #unsettledFold: { readonly root: SnapshotInfo; readonly delta: SnapshotInfo } | undefined;

  private constructor(
    readonly directory: string,
    readonly options: SnapshotStoreOptions,
  ) {
    assert(Number.isSafeInteger(options.retainCount) && options.retainCount >= 1, 'retainCount is at least 1');
  }

  get snapshotBytesMax(): number {
    return this.options.snapshotBytesMax;
  }

  /** Opens the directory: finishes or undoes an interrupted fold, removes unfinished `tmp-*` writes, reads every snapshot's metadata. */
  static async open(directory: string, options: SnapshotStoreOptions): Promise<SnapshotStore> {
    const store = new SnapshotStore(directory, options);
    await fs.promises.mkdir(directory, { recursive: true });
    await recoverFold(directory);
    for (const name of (await fs.promises.readdir(directory)).sort()) {
      if (name.startsWith(temporaryPrefix)) {
        await fs.promises.rm(join(directory, name), { recursive: true, force: true });
        continue;
      }
      if (snapshotDirectoryPattern.test(name)) store.#snapshots.push(await readSnapshotInfo(join(directory, name)));
    }
    store.#sortNewestFirst();
    // A delta whose chain lost its root (by hand: the store never removes a kept chain's root) is of no use.
    await store.discardWhere((metadata) => store.#chainOrUndefined(store.find(metadata.index, metadata.term) as SnapshotInfo) === undefined);
    return store;
  }

  /** Snapshots, newest first. */
  list(): readonly SnapshotInfo[] {
    return this.#snapshots;
  }

  latest(): SnapshotInfo | undefined {
    return this.#snapshots[0];
  }

  find(index: number, term: number): SnapshotInfo | undefined {
    return this.#snapshots.find((info) => sameSnapshot(info, index, term));
  }

  /** The snapshot's chain, root first: the root, then every delta up to `info`. */
  chain(info: SnapshotInfo): SnapshotInfo[] {
    const chain = this.#chainOrUndefined(info);
    if (chain === undefined) throw new StorageError('NOT_FOUND', `snapshot ${info.metadata.index}/${info.metadata.term} has lost a link of its chain`);
    return chain;
  }

  #chainOrUndefined(info: SnapshotInfo): SnapshotInfo[] | undefined {
    const chain = [info];
    // Each parent is older than its child: the walk ends within the store's size.
    for (let link = info; link.parent !== undefined; ) {
      const parent = this.find(link.parent.index, link.parent.term);
      if (parent === undefined || parent.metadata.index >= link.metadata.index || chain.length > this.#snapshots.length) return undefined;
      chain.unshift(parent);
      link = parent;
    }
    return chain;
  }

  async begin(metadata: SnapshotMetadata, context: unknown = null, layout: SnapshotLayout = { format: 'full' }): Promise<SnapshotWriter> {
    const validMetadata = validateSnapshotMetadata(metadata, 'snapshot');
    const contextJson = JSON.stringify(context ?? null);
    if (contextJson === undefined || Buffer.byteLength(contextJson) > this.options.contextBytesMax) {
      throw new StorageError('TOO_LARGE', `snapshot context must be JSON of at most contextBytesMax ${this.options.contextBytesMax} bytes`);
    }
    if ((layout.format === 'delta') !== (layout.parent !== undefined)) {
      throw new StorageError('INVALID_ARGUMENT', 'a delta, and only a delta, names a parent');
    }
    return SnapshotWriter.create(this, validMetadata, JSON.parse(contextJson), layout, this.directory);
  }

  /** Writes a whole snapshot from bytes already in memory. */
  async writeBytes(metadata: SnapshotMetadata, data: Uint8Array, context: unknown = null): Promise<SnapshotInfo> {
    const writer = await this.begin(metadata, context);
    try {
      await writer.write(data);
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer.commit();
  }

  async #describe(writer: SnapshotWriter): Promise<MetaFile> {
    const { dataBytes, dataCrc32c } = await checksumFile(writer.dataPath, this.options.snapshotBytesMax);
    if (dataBytes > this.options.snapshotBytesMax) {
      throw new StorageError('TOO_LARGE', `snapshot data ${dataBytes} bytes exceeds snapshotBytesMax ${this.options.snapshotBytesMax}`);
    }
    const files: Record<string, { bytes: number; crc32c: number }> = {};
    for (const name of writer.layout.files ?? []) {
      const summary = await checksumFile(writer.pathOf(name), this.options.snapshotBytesMax);
      files[name] = { bytes: summary.dataBytes, crc32c: summary.dataCrc32c };
    }
    const { format, parent, proof } = writer.layout;
    if (parent !== undefined) {
      const stored = this.find(parent.index, parent.term);
      if (stored === undefined || parent.index >= writer.metadata.index) {
        throw new StorageError('NOT_FOUND', `delta ${writer.metadata.index}/${writer.metadata.term}: its parent ${parent.index}/${parent.term} is not stored`);
      }
    }
    const layout = { ...(format === 'full' ? {} : { format }), ...(parent === undefined ? {} : { parent }), ...(proof === undefined ? {} : { proof }) };
    return { ...writer.metadata, context: writer.context, dataBytes, dataCrc32c, ...layout, ...(Object.keys(files).length > 0 ? { files } : {}) };
  }

  /** Called by SnapshotWriter.commit once its files are synced and closed. */
  async publish(writer: SnapshotWriter): Promise<SnapshotInfo> {
    const meta = await this.#describe(writer);
    await writeSyncedFile(join(writer.temporaryDirectory, snapshotMetaFileName), JSON.stringify(meta));
    await syncDirectory(writer.temporaryDirectory);
    const existing = this.find(meta.index, meta.term);
    if (existing !== undefined) {
      // Same index and term is the same state (apply is deterministic): keep the durable one.
      await removeDirectoryAtomically(writer.temporaryDirectory, this.directory);
      return existing;
    }
    const finalDirectory = join(this.directory, snapshotDirectoryName(meta.index, meta.term));
    await fs.promises.rename(writer.temporaryDirectory, finalDirectory);
    await syncDirectory(this.directory);
    const info = infoFromMeta(meta, finalDirectory);
    this.#snapshots.push(info);
    this.#sortNewestFirst();
    await this.#removeUnkept();
    return info;
  }

  /**
   * Lost-quorum recovery: gives the stored snapshot (index, term) a new membership and
   * context, keeping its data (the state at that index does not change). meta.json is
   * replaced by an atomic rename, then the directory synced: after a crash the snapshot
   * has the old metadata or the new, never neither.
   */
  async rewriteMembership(index: number, term: number, confState: ConfState, context: unknown): Promise<SnapshotInfo> {
    const contextJson = JSON.stringify(context ?? null);
    if (contextJson === undefined || Buffer.byteLength(contextJson) > this.options.contextBytesMax) {
      throw new StorageError('TOO_LARGE', `snapshot context must be JSON of at most contextBytesMax ${this.options.contextBytesMax} bytes`);
    }
    const metadata = validateSnapshotMetadata({ index, term, confState }, 'rewrite snapshot membership');
    return this.#rewrite(index, term, { confState: metadata.confState, context: JSON.parse(contextJson) }, 'rewriting the metadata of');
  }

  /** Records the producer's proof on a stored snapshot (a received one that became the live state's root), atomically. */
  recordProof(index: number, term: number, proof: string): Promise<SnapshotInfo> {
    return this.#rewrite(index, term, { proof }, 'recording the proof of');
  }

  async #rewrite(index: number, term: number, changes: Partial<MetaFile>, what: string): Promise<SnapshotInfo> {
    const existing = this.find(index, term);
    if (existing === undefined) throw new StorageError('NOT_FOUND', `no snapshot ${index}/${term} to rewrite`);
    const directory = join(existing.dataPath, '..');
    const meta: MetaFile = { ...(await readMetaOf(existing)), ...changes };
    try {
      await replaceMeta(directory, meta);
    } catch (error) {
      throw storageErrorFromSystem(error, `${what} snapshot ${index}/${term}`);
    }
    const info = infoFromMeta(meta, directory);
    this.#snapshots = this.#snapshots.map((other) => (other === existing ? info : other));
    return info;
  }

  /** Removes every snapshot whose metadata `unusable` picks, and the deltas that build on them; returns what it removed. */
  async discardWhere(unusable: (metadata: SnapshotMetadata) => boolean): Promise<SnapshotInfo[]> {
    const discarded = this.#snapshots.filter((info) => {
      const chain = this.#chainOrUndefined(info);
      return chain === undefined || chain.some((link) => unusable(link.metadata));
    });
    this.#snapshots = this.#snapshots.filter((info) => !discarded.includes(info));
    for (const info of discarded) await removeDirectoryAtomically(join(info.dataPath, '..'), this.directory);
    return discarded;
  }

  /** Opens a snapshot's data for reading; the open handle keeps working even if the snapshot is removed meanwhile. */
  async openData(info: SnapshotInfo): Promise<fs.promises.FileHandle> {
    try {
      return await fs.promises.open(info.dataPath, 'r');
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') {
        throw new StorageError('NOT_FOUND', `snapshot ${info.metadata.index}/${info.metadata.term} no longer exists`, { cause: error });
      }
      throw storageErrorFromSystem(error, `opening snapshot ${info.dataPath}`);
    }
  }

  /** Re-reads a snapshot's data and checks its size and CRC32C (a folded base's data: not recorded); throws CORRUPT on mismatch. */
  async verify(info: SnapshotInfo): Promise<void> {
    if (info.dataCrc32c === undefined) return;
    const { dataBytes, dataCrc32c } = await checksumFile(info.dataPath, Math.max(info.dataBytes, this.options.snapshotBytesMax));
    if (dataBytes !== info.dataBytes || dataCrc32c !== info.dataCrc32c) {
      throw new StorageError(
        'CORRUPT',
        `snapshot data ${info.dataPath} does not match its metadata (bytes ${dataBytes}/${info.dataBytes}, crc ${dataCrc32c}/${info.dataCrc32c})`,
      );
    }
  }

  /**
   * Resolves, once no fold is running, to a release: until it is called no fold begins,
   * so no chain's files change (a chain is being read: streamed, materialised, restored).
   */
  async readLock(): Promise<() => void> {
    for (;;) {
      await this.#foldsEnded();
      if (this.#unsettledFold === undefined) break;
      // Rejects while the fold cannot be finished (the disk is still full): the reader fails, not reads half-moved files.
      await this.settleFold();
    }
    this.#readerCount++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#readerCount--;
      void this.#removeUnkept().catch(() => undefined);
    };
  }

  /**
   * Begins folding the oldest delta whose parent is a root, unless there is none, a fold
   * runs, or a chain is being read. The caller first absorbs any WAL waiting beside the
   * root (a fold's earlier delta), then places, then may absorb again, then releases.
   */
  beginFold(): SnapshotFold | undefined {
    if (this.#folding || this.#readerCount > 0 || this.#unsettledFold !== undefined) return undefined;
    const delta = [...this.#snapshots].reverse().find((info) => info.parent !== undefined && this.#chainOrUndefined(info)?.length === 2);
    const root = delta === undefined ? undefined : this.chain(delta)[0];
    if (delta === undefined || root === undefined) return undefined;
    this.#folding = true;
    return {
      rootDataPath: root.dataPath,
      place: async () => {
        try {
          await foldDelta(this.directory, root, delta, this.options.onFoldStep);
        } catch (error) {
          this.#unsettledFold = { root, delta };
          throw error;
        }
        const folded = await readSnapshotInfo(join(delta.dataPath, '..'));
        this.#snapshots = this.#snapshots.filter((info) => info !== root && info !== delta);
        this.#snapshots.push(folded);
        this.#sortNewestFirst();
        return folded.dataPath;
      },
      release: () => this.#endFold(),
    };
  }

  /** Resolves once no fold (or settling) runs. */
  async #foldsEnded(): Promise<void> {
    while (this.#folding) await new Promise<void>((resolve) => this.#foldEnded.push(resolve));
  }

  #endFold(): void {
    this.#folding = false;
    for (const wake of this.#foldEnded.splice(0)) wake();
    void this.#removeUnkept().catch(() => undefined);
  }

  /**
   * Finishes or undoes a fold that threw part way, as open does after a crash (the same
   * steps, each safe to repeat), then reads the two snapshots' descriptions again. Rejects
   * if that fails too (the disk is still full); the next reader or fold tries again.
   */
  async settleFold(): Promise<void> {
    await this.#foldsEnded();
    const unsettled = this.#unsettledFold;
    if (unsettled === undefined) return;
    this.#folding = true;
    try {
      await recoverFold(this.directory, this.options.onFoldStep);
      const directories = [join(unsettled.root.dataPath, '..'), join(unsettled.delta.dataPath, '..')];
      const described: SnapshotInfo[] = [];
      // Finished: the root's directory bears the delta's name; undone: both are as they were.
      for (const directory of directories) if (fs.existsSync(directory)) described.push(await readSnapshotInfo(directory));
      this.#snapshots = [...this.#snapshots.filter((info) => info !== unsettled.root && info !== unsettled.delta), ...described];
      this.#sortNewestFirst();
      this.#unsettledFold = undefined;
    } finally {
      this.#endFold();
    }
  }

  /** Whether a root's data has a fold's WAL waiting beside it. */
  hasPendingWal(info: SnapshotInfo): boolean {
    return fs.existsSync(pendingWalPath(info.dataPath));
  }

  #sortNewestFirst(): void {
    this.#snapshots.sort((a, b) => b.metadata.index - a.metadata.index || b.metadata.term - a.metadata.term);
  }

  /**
   * Retention never removes the newest snapshot that `vouchedFor` accepts (the durable
   * log agrees with it), even when newer ones fill `retainCount`. Received snapshots are
   * stored before their install record is durable: without this, two transfers could
   * evict the snapshot covering the compacted log, and after a crash (which discards the
   * uninstalled ones) the node would have no snapshot for its compacted prefix.
   */
  guardRetention(vouchedFor: (metadata: SnapshotMetadata) => boolean): void {
    this.#vouchedFor = vouchedFor;
  }

  /** Removes what retention does not keep: never during a fold or while a chain is read. */
  async #removeUnkept(): Promise<void> {
    if (this.#folding || this.#readerCount > 0 || this.#unsettledFold !== undefined) return;
    const guarded = this.#snapshots.find((info) => this.#vouchedFor(info.metadata));
    const wanted = this.#snapshots.filter((info, position) => position < this.options.retainCount || info === guarded);
    const kept = new Set(wanted.flatMap((info) => this.#chainOrUndefined(info) ?? [info]));
    const removed = this.#snapshots.filter((info) => !kept.has(info));
    this.#snapshots = this.#snapshots.filter((info) => kept.has(info));
    for (const info of removed) await removeDirectoryAtomically(join(info.dataPath, '..'), this.directory);
  }
}

async function readMetaOf(info: SnapshotInfo): Promise<MetaFile> {
  const text = await fs.promises.readFile(join(info.dataPath, '..', snapshotMetaFileName), 'utf8');
  return JSON.parse(text) as MetaFile;
}
