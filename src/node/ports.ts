/**
 * The narrow interfaces the runtime drives: the subset of each neighbouring module it
 * needs (the Raft core, the durable store, the state machine, the peer transport).
 * Depending on these rather than on the modules' whole classes keeps the seams small;
 * `wiring.ts` adapts the real implementations to them.
 */
import type { ConfChange, ConfState, Entry, HardState, NodeId, RaftStorage, Snapshot, SnapshotMetadata } from '../raft/types.js';
import type { Command, Statement, StatementResult } from '../state-machine/types.js';

/** A Raft message, opaque to the runtime except for routing and snapshots. */
export interface RaftMessage {
  readonly type: string;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly snapshot?: Snapshot | undefined;
}

export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader' | 'learner';

export interface RaftReady {
  readonly softState?: { readonly leaderId: NodeId; readonly role: RaftRole } | undefined;
  readonly hardState?: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot | undefined;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly RaftMessage[];
  readonly readStates: readonly { readonly context: Uint8Array; readonly index: number }[];
  readonly failedReads: readonly Uint8Array[];
  readonly mustSync: boolean;
}

export interface RaftPeerProgress {
  readonly match: number;
  readonly next: number;
  readonly state: string;
  readonly recentActive?: boolean;
}

export interface RaftCoreStatus {
  readonly id: NodeId;
  readonly role: RaftRole;
  readonly term: number;
  readonly leaderId: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  readonly progress?: ReadonlyMap<NodeId, RaftPeerProgress> | Readonly<Record<NodeId, RaftPeerProgress>> | undefined;
}

/** The pure Raft core (src/raft RawNode). */
export interface RaftCore {
  tick(): void;
  step(message: RaftMessage): void;
  campaign(): void;
  propose(data: Uint8Array): { index: number; term: number };
  proposeConfChange(change: ConfChange): { index: number; term: number };
  readIndex(context: Uint8Array): void;
  transferLeadership(to: NodeId): void;
  reportUnreachable(id: NodeId): void;
  reportSnapshot(id: NodeId, status: 'finish' | 'failure'): void;
  hasReady(): boolean;
  ready(): RaftReady;
  advance(ready: RaftReady): void;
  status(): RaftCoreStatus;
}

/** What the runtime keeps beside a snapshot: the members' addresses. */
export interface MemberAddresses {
  readonly raftAddress: string;
  readonly apiAddress: string;
}

export interface StoredSnapshot {
  readonly metadata: SnapshotMetadata;
  /** A file the runtime can stream to a peer or restore from. */
  readonly filePath: string;
  readonly context: Readonly<Record<NodeId, MemberAddresses>>;
}

/** The durable Raft store (src/storage). */
export interface NodeStorage extends RaftStorage {
  hasState(): boolean;
  bootstrap(confState: ConfState): Promise<void>;
  save(batch: { hardState?: HardState | undefined; entries: readonly Entry[]; snapshot?: Snapshot | undefined }): Promise<void>;
  /** Stores a snapshot taken locally from the state machine (file moved into the store). */
  createSnapshot(metadata: SnapshotMetadata, context: Readonly<Record<NodeId, MemberAddresses>>, dataFilePath: string): Promise<StoredSnapshot>;
  /** Stores a snapshot received from the leader; the log is reset by the following save({ snapshot }). */
  receiveSnapshot(metadata: SnapshotMetadata, context: Readonly<Record<NodeId, MemberAddresses>>, dataFilePath: string): Promise<StoredSnapshot>;
  latestSnapshot(): StoredSnapshot | undefined;
  /** Drops log entries up to and including `index` (at or below the latest snapshot). */
  compact(index: number): Promise<void>;
  readonly healthy: boolean;
  close(): Promise<void>;
}

export interface QueryOptions {
  readonly dbTimeoutMs?: number | undefined;
}

/** The SQLite state machine (src/state-machine). */
export interface NodeStateMachine {
  readonly appliedIndex: number;
  readonly healthy: boolean;
  /** Applies one committed entry's data; empty data is a no-op that only advances the index. */
  apply(index: number, data: Uint8Array): readonly StatementResult[];
  query(statements: readonly Statement[], options: QueryOptions): readonly StatementResult[];
  /** Throws a clear error for statements that must never reach the log. */
  validateForWrite(statements: readonly Statement[]): void;
  encodeCommand(command: Command): Uint8Array;
  snapshot(toPath: string): Promise<void> | void;
  restore(fromPath: string): Promise<void> | void;
  checksum(): string;
  sqliteVersion(): string;
  databasePath(): string;
  close(): void;
}

export interface CallTarget {
  readonly id?: NodeId | undefined;
  readonly address?: string | undefined;
}

/** The peer transport (src/transport). */
export interface NodeTransport {
  listen(): Promise<void>;
  send(messages: readonly RaftMessage[]): void;
  onMessage(handler: (message: RaftMessage) => void): void;
  onUnreachable(handler: (id: NodeId) => void): void;
  call(target: CallTarget, method: string, payload: unknown, options: { timeoutMs: number }): Promise<unknown>;
  handle(method: string, handler: (payload: unknown, from: { id?: string | undefined; address?: string | undefined }) => Promise<unknown>): void;
  sendSnapshot(to: NodeId, metadata: unknown, filePath: string): Promise<void>;
  onSnapshot(handler: (metadata: unknown, tempFilePath: string) => Promise<void>): void;
  setPeer(id: NodeId, address: string): void;
  removePeer(id: NodeId): void;
  /** Test-only: drop all traffic to and from every peer (true) or heal (false). */
  isolate(isolated: boolean): void;
  close(): Promise<void>;
}
