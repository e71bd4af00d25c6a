/**
 * The narrow interfaces the runtime drives: the subset of each neighbouring module it
 * needs (the Raft core, the durable store, the state machine, the peer transport).
 * Depending on these rather than on the modules' whole classes keeps the seams small;
 * `node.ts` passes the real implementations, tests pass in-memory ones.
 */
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, RaftStatus, RaftStorage, Ready, Snapshot, SnapshotMetadata } from '../raft/types.js';
import type { Transport } from '../transport/types.js';
import type { SnapshotChain } from '../state-machine/snapshot-chains.js';
import type { Statement, StatementResult } from '../state-machine/types.js';

/** The pure Raft core (src/raft RawNode): the methods the runtime drives. */
export interface RaftCore {
  tick(): void;
  step(message: Message): void;
  campaign(): void;
  propose(data: Uint8Array): { index: number; term: number };
  proposeConfChange(change: ConfChange): { index: number; term: number };
  /** A read point on any node: the leader's own, or asked of the leader (RawNode.readIndexAnywhere). */
  readIndexAnywhere(context: Uint8Array): void;
  /** Leader: the read round in flight when it skipped voters, else 0 (RawNode.readRoundToHedge); hedgeReadRound asks them. */
  readRoundToHedge(): number;
  hedgeReadRound(round: number): void;
  transferLeadership(to: NodeId): void;
  /** Leader only: the voter a hand-over should go to (the core's one successor policy); undefined otherwise. */
  successor(): NodeId | undefined;
  reportUnreachable(id: NodeId): void;
  forgetFollowerLog(id: NodeId): void;
  reportSnapshot(id: NodeId, status: 'finish' | 'failure'): void;
  hasReady(): boolean;
  /** Asynchronous storage writes (see Ready): each save, snapshot install and apply is reported back. */
  ready(): Ready;
  persistedTo(index: number, term: number): void;
  snapshotPersisted(index: number): void;
  appliedTo(index: number): void;
  status(): RaftStatus;
  /** Membership as of a log index (at or after the first index in the log - 1). */
  confStateAt(index: number): ConfState;
  /** The log's first index, counting a snapshot restored in the core whose save has not landed yet. */
  firstIndex(): number;
}

/** What the runtime keeps beside a snapshot: the members' addresses. */
export interface MemberAddresses {
  readonly raftAddress: string;
  readonly apiAddress: string;
}

/** A stored snapshot: metadata, the runtime's context, its data file, and how it relates to the others. */
export interface StoredSnapshot {
  readonly metadata: SnapshotMetadata;
  readonly context: unknown;
  readonly dataPath: string;
  /**
   * 'full': `dataPath` alone is the state (stream it, restore from it); 'base' and 'delta':
   * a link of a chain (`snapshots.chain`), materialised by the state machine into one file.
   */
  readonly format: 'full' | 'base' | 'delta';
  /** The state machine's proof (which live WAL a later delta may continue from). */
  readonly proof: string | undefined;
  /** Files beside `dataPath`, by name (the internal state: `internal`). */
  readonly files: Readonly<Record<string, string>>;
}

/** Writes one snapshot: a producer writes `dataPath` (and its side files at `pathOf(name)`) itself, then commits. */
export interface SnapshotWriting {
  readonly dataPath: string;
  pathOf(name: string): string;
  commit(): Promise<StoredSnapshot>;
  abort(): Promise<void>;
}

/** How a snapshot is stored: a delta names the snapshot it applies to. */
interface SnapshotLayout {
  readonly format: 'full' | 'base' | 'delta';
  readonly parent?: { readonly index: number; readonly term: number };
  readonly proof?: string;
  readonly files?: readonly string[];
}

/** A fold of a delta into its chain's root (the store's, snapshot-fold.ts): absorb, place, absorb, release. */
interface SnapshotFolding {
  readonly rootDataPath: string;
  /** Resolves to the root's data file after the fold (its directory takes the delta's name). */
  place(): Promise<string>;
  release(): void;
}

/** The durable Raft store (src/storage DurableStorage). */
export interface NodeStorage extends RaftStorage {
  /** True for a node that has never stored anything. */
  isEmpty(): boolean;
  bootstrap(confState: ConfState): Promise<void>;
  save(request: {
    readonly hardState?: HardState;
    readonly entries?: readonly Entry[];
    readonly snapshot?: Snapshot;
    readonly confState?: ConfState;
  }): Promise<void>;
  /** Drops log entries up to and including `index` (a snapshot must cover it). */
  compact(index: number): Promise<void>;
  readonly healthy: boolean;
  readonly snapshots: {
    latest(): StoredSnapshot | undefined;
    find(index: number, term: number): StoredSnapshot | undefined;
    /** The snapshot's chain, root first (a 'full' snapshot alone is its own chain). */
    chain(snapshot: StoredSnapshot): readonly StoredSnapshot[];
    begin(metadata: SnapshotMetadata, context: unknown, layout?: SnapshotLayout): Promise<SnapshotWriting>;
    /** Records the state machine's proof on a stored snapshot it restored byte for byte. */
    recordProof(index: number, term: number, proof: string): Promise<unknown>;
    /** Resolves (once no fold runs) to a release: no fold changes a chain's files until it is called. */
    readLock(): Promise<() => void>;
    /** A fold of the oldest delta into its root, or undefined (none, one runs, or a chain is being read). */
    beginFold(): SnapshotFolding | undefined;
    /** Finishes or undoes a fold that threw part way (rejects while it cannot: the disk is still full). */
    settleFold(): Promise<void>;
    /** Removes the snapshots `unusable` picks, and the deltas built on them (`/reap`). */
    discardWhere(unusable: (metadata: SnapshotMetadata) => boolean): Promise<readonly unknown[]>;
  };
  close(): Promise<void>;
}

/** One entry's outcome from applyBatch (src/state-machine ApplyOutcome). */
export interface BatchOutcome {
  readonly entryIndex: number;
  readonly results: readonly StatementResult[];
  /** At or below the applied index when the batch started: nothing ran, `results` are empty. */
  readonly skipped: boolean;
}

/** Where a capture writes: its data and the internal state at the same index. */
export interface CaptureTarget {
  readonly dataPath: string;
  readonly internalPath: string;
}

export interface CapturedSnapshot {
  readonly appliedIndex: number;
  readonly format: 'full' | 'base' | 'delta';
  readonly proof: string | undefined;
  /** For the log: the snapshot's data bytes, and how long the capture held the event loop. */
  readonly dataBytes?: number;
  readonly eventLoopMs?: number;
}

interface RestoredState {
  readonly appliedIndex: number;
  readonly proof?: string | undefined;
}

/** The SQLite state machine (src/state-machine SqliteStateMachine). */
export interface NodeStateMachine {
  readonly appliedIndex: number;
  readonly healthy: boolean;
  readonly path: string;
  readonly sqliteVersion: string;
  /** Applies one committed entry's command; throws StateMachineHaltedError on an environmental failure. */
  apply(index: number, data: Uint8Array): { readonly results: readonly StatementResult[] };
  /**
   * Applies consecutive committed entries in one SQLite transaction, each with apply()'s
   * results (empty data is a no-op). On StateMachineHaltedError, `outcomesBefore` holds the
   * outcomes of the entries before the failing one that did apply.
   */
  applyBatch(entries: readonly { readonly index: number; readonly data: Uint8Array }[]): readonly BatchOutcome[];
  /** Advances the applied index over an entry that carries no command (no-op, conf change). */
  applyNoop(index: number): { readonly results: readonly StatementResult[] };
  query(statements: readonly Statement[], options?: { readonly transaction?: boolean; readonly timings?: boolean }): readonly StatementResult[];
  /** Writes a consistent self-contained copy of the database to `toPath`; reports the applied index the copy holds. */
  snapshot(toPath: string): Promise<{ readonly appliedIndex: number }>;
  /**
   * A snapshot at the applied index into `target`: a 'delta' after the snapshot whose proof
   * is `previousProof`, a 'base' (data and internal state), or a 'full' self-contained file
   * (data only). Costs what changed since the previous snapshot when it is a delta.
   */
  captureSnapshot(target: CaptureTarget, previousProof: string | undefined): Promise<CapturedSnapshot>;
  /** One self-contained snapshot file at `toPath` from a stored chain; resolves to its index. */
  materialiseSnapshot(chain: SnapshotChain, toPath: string): Promise<number>;
  /** Checkpoints a delta placed beside a stored root (a fold) into it. */
  absorbSnapshotWal(rootPath: string): Promise<void>;
  /** The live WAL's bytes (a snapshot is due past `snapshotWalBytes`). */
  walBytes(): number;
  /** Replaces the database with the snapshot file at `from` (left untouched) or a stored chain; `proof` when later deltas may build on the file. */
  restore(from: string | SnapshotChain): Promise<RestoredState> | RestoredState;
  /**
   * Loads through the log (src/state-machine/machine-loads.ts): a load's entries stage a
   * file and swap it in, asynchronously, apart from commands: a run of chunks and aborts
   * together, a commit alone; outcomes as applyBatch's. Absent in a machine without loads.
   */
  readonly loads?: {
    apply(entries: readonly { readonly index: number; readonly data: Uint8Array }[]): Promise<readonly BatchOutcome[]>;
    /** Drops whatever is staged (lost-quorum recovery: the load's leader is gone for good). */
    discardAll(): void;
  };
  /** Order-independent content checksum at the applied index. */
  checksum(): { readonly checksum: string; readonly appliedIndex: number };
  /** The same, read on a worker thread: it reads every row (/status asks for it). */
  checksumOffThread(): Promise<{ readonly checksum: string; readonly appliedIndex: number }>;
  close(): void;
}

/**
 * The runtime's own file operations (files.ts has the real ones): moving a produced or
 * received snapshot file into the store's writer, removing a leftover copy, and the small
 * address-book file. A simulator passes a twin that keeps them on its simulated disk.
 */
export interface NodeFiles {
  /** Moves a file within one filesystem. */
  rename(fromPath: string, toPath: string): Promise<void>;
  /** Removes a file; a missing one is not an error. */
  remove(path: string): Promise<void>;
  /** A small file's text, or undefined when it does not exist; other failures throw. */
  readTextIfPresent(path: string): string | undefined;
  /** Replaces a small file atomically and durably (temporary file, fsync, rename). */
  writeTextDurably(path: string, text: string): void;
}

/** The peer transport (src/transport), carrying the core's messages. */
export type NodeTransport = Transport<Message>;
