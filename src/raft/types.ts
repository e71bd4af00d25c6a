/**
 * The data types of the Raft core, shared by the core, the storage layer, the
 * transport and the node runtime. Everything here is plain data: no classes with
 * behaviour, no I/O. Indexes and terms are JavaScript numbers (safe up to 2^53, which
 * at a million entries a second lasts 285 years).
 */

/** A member's identity. Stable for the life of the member; never reused. */
export type NodeId = string;

/** What an entry carries: a client command, or a membership change (its data is an encoded ConfChange). */
export type EntryType = 'normal' | 'conf-change';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Opaque to the core. Empty for the no-op a new leader appends at the start of its term. */
  readonly data: Uint8Array;
}

/** What must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  /** The candidate voted for in `term`, or '' for none. */
  readonly vote: NodeId;
  readonly commit: number;
}

/** The membership of the cluster. Learners receive the log but neither vote nor count for quorum. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * One membership change. `add-voter` of an existing learner promotes it.
 * `context` is opaque to the core; the runtime puts the member's addresses there.
 */
export type ConfChangeType = 'add-voter' | 'add-learner' | 'remove-node';

export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  readonly context: Uint8Array;
}

export interface SnapshotMetadata {
  /** The last index the snapshot covers, and its term. */
  readonly index: number;
  readonly term: number;
  /** Membership as of `index`. */
  readonly confState: ConfState;
}

/**
 * A state-machine snapshot. `data` is opaque to the core. The runtime may leave it empty
 * in messages and stream the snapshot file out of band, filling it in on arrival.
 */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/**
 * What the core reads its stable log from. Reads are synchronous: the core is a pure
 * state machine and never waits. The runtime's durable store (src/storage) and the
 * in-memory reference (src/raft/memory-storage.ts) both implement it.
 *
 * Errors are thrown as RaftStorageError with code `COMPACTED` (the index is at or below
 * the snapshot), `UNAVAILABLE` (above the last index), or
 * `SNAPSHOT_TEMPORARILY_UNAVAILABLE` (the runtime is still producing one).
 */
export interface RaftStorage {
  /** The persisted hard state and membership, read once when the core starts. */
  initialState(): { readonly hardState: HardState; readonly confState: ConfState };
  /** Entries in [low, high), at least one even if it alone exceeds maxBytes. */
  entries(low: number, high: number, maxBytes: number): Entry[];
  /** The term of `index`; valid for firstIndex()-1 (the snapshot's index) up to lastIndex(). */
  term(index: number): number;
  /** The index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}

export type RaftStorageErrorCode = 'COMPACTED' | 'UNAVAILABLE' | 'SNAPSHOT_TEMPORARILY_UNAVAILABLE';

export class RaftStorageError extends Error {
  readonly code: RaftStorageErrorCode;
  constructor(code: RaftStorageErrorCode, message: string) {
    super(message);
    this.name = 'RaftStorageError';
    this.code = code;
  }
}
