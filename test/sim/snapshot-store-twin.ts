/**
 * A simulated node's snapshot store, durable across crashes, as the real one behaves
 * (src/storage snapshot-store.ts): a snapshot is written into a temporary directory by
 * its producer, then published whole (or not at all) under `snapshot-<index>-<term>`; the
 * newest `retainCount` are kept, and beside them the newest one the durable log vouches
 * for (`guardRetention`, finding R2); one with the same index and term as a stored one is the
 * same state and is dropped; temporary directories left by a crash are removed at open.
 * Data lives in files on the node's simulated disk, so the transport streams it and the
 * state machine restores from it by path, as in the real node.
 */
import type { SnapshotMetadata } from '../../src/raft/types.js';
import type { StoredSnapshot } from '../../src/node/ports.js';
import { defaultStorageOptions } from '../../src/storage/options.js';
import type { SimulatedDisk } from './sim-disk.js';

const dataFileName = 'data';

export class SnapshotStoreTwin {
  /** Newest first. */
  #snapshots: StoredSnapshot[] = [];
  #temporaryCount = 0;
  #vouchedFor: (metadata: SnapshotMetadata) => boolean = () => false;

  constructor(
    private readonly disk: SimulatedDisk,
    readonly directory: string,
    private readonly retainCount: number = defaultStorageOptions.snapshotRetainCount,
  ) {}

  latest(): StoredSnapshot | undefined {
    return this.#snapshots[0];
  }

  find(index: number, term: number): StoredSnapshot | undefined {
    return this.#snapshots.find((stored) => stored.metadata.index === index && stored.metadata.term === term);
  }

  list(): readonly StoredSnapshot[] {
    return this.#snapshots;
  }

  /** A fresh temporary directory for one writer. */
  temporaryDirectory(): string {
    this.#temporaryCount++;
    return `${this.directory}/tmp-${this.#temporaryCount}`;
  }

  dataPathIn(directory: string): string {
    return `${directory}/${dataFileName}`;
  }

  /** The durable step of a commit: the temporary directory becomes the snapshot (or is dropped for a duplicate). */
  publish(metadata: SnapshotMetadata, context: unknown, temporaryDirectory: string): StoredSnapshot {
    const existing = this.find(metadata.index, metadata.term);
    if (existing !== undefined) {
      this.disk.removeUnder(`${temporaryDirectory}/`);
      return existing;
    }
    const finalDirectory = `${this.directory}/snapshot-${metadata.index}-${metadata.term}`;
    const dataPath = this.dataPathIn(finalDirectory);
    this.disk.rename(this.dataPathIn(temporaryDirectory), dataPath);
    const stored: StoredSnapshot = { metadata, context, dataPath, format: 'full', proof: undefined, files: {} };
    this.#snapshots.push(stored);
    this.#snapshots.sort((left, right) => right.metadata.index - left.metadata.index || right.metadata.term - left.metadata.term);
    const guarded = this.#snapshots.find((candidate) => this.#vouchedFor(candidate.metadata));
    const kept = this.#snapshots.filter((candidate, position) => position < this.retainCount || candidate === guarded);
    for (const removed of this.#snapshots.filter((candidate) => !kept.includes(candidate))) this.disk.remove(removed.dataPath);
    this.#snapshots = kept;
    return stored;
  }

  /** As the real store: the state machine's proof, recorded on a stored snapshot. */
  recordProof(index: number, term: number, proof: string): StoredSnapshot | undefined {
    const position = this.#snapshots.findIndex((stored) => stored.metadata.index === index && stored.metadata.term === term);
    const existing = this.#snapshots[position];
    if (existing === undefined) return undefined;
    const updated = { ...existing, proof };
    this.#snapshots[position] = updated;
    return updated;
  }

  /** As the real store: retention never removes the newest snapshot `vouchedFor` accepts. */
  guardRetention(vouchedFor: (metadata: SnapshotMetadata) => boolean): void {
    this.#vouchedFor = vouchedFor;
  }

  /** Open: unfinished writes are removed. */
  removeTemporaryDirectories(): void {
    this.disk.removeUnder(`${this.directory}/tmp-`);
  }

  /** Open: removes every snapshot `unusable` picks; returns their metadata. */
  discardWhere(unusable: (metadata: SnapshotMetadata) => boolean): SnapshotMetadata[] {
    const discarded = this.#snapshots.filter((stored) => unusable(stored.metadata));
    this.#snapshots = this.#snapshots.filter((stored) => !unusable(stored.metadata));
    for (const stored of discarded) this.disk.remove(stored.dataPath);
    return discarded.map((stored) => stored.metadata);
  }
}
