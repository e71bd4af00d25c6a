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
 * One membership change. `add-voter` of an existing learner promotes it; re-adding a
 * member in its own role with a non-empty context only re-states that context.
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
  /**
   * The persisted hard state and the membership as of the log's start (the snapshot's, or
   * the bootstrap membership), read once when the core starts. The core adds the
   * conf-change entries it finds in the log from firstIndex() on.
   */
  initialState(): { readonly hardState: HardState; readonly confState: ConfState };
  /** Entries in [low, high), at least one even if it alone exceeds bytesMax. */
  entries(low: number, high: number, bytesMax: number): Entry[];
  /** The term of `index`; valid for firstIndex()-1 (the snapshot's index) up to lastIndex(). */
  term(index: number): number;
  /** The index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}

/**
 * What one entry counts for in every byte limit: its data plus this overhead, so even an
 * empty entry has a size. Part of the storage contract: `entries(low, high, bytesMax)`
 * counts entries the same way as the core's own limits do.
 */
export const entryOverheadBytes = 16;

type RaftStorageErrorCode = 'COMPACTED' | 'UNAVAILABLE' | 'SNAPSHOT_TEMPORARILY_UNAVAILABLE';

export class RaftStorageError extends Error {
  readonly code: RaftStorageErrorCode;
  constructor(code: RaftStorageErrorCode, message: string) {
    super(message);
    this.name = 'RaftStorageError';
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------
// Messages, Ready and status: the core's inputs and outputs. All plain data, so the
// transport can serialize a Message with msgpack as it is.
// ---------------------------------------------------------------------------------

/**
 * The kinds of messages peers exchange. Names follow etcd-io/raft.
 * - MsgApp / MsgAppResp: AppendEntries and its answer (also the answer to MsgSnap).
 * - MsgVote / MsgVoteResp, MsgPreVote / MsgPreVoteResp: elections (pre-vote does not bump terms).
 * - MsgHeartbeat / MsgHeartbeatResp: leader liveness, commit propagation, ReadIndex and lease acks.
 * - MsgSnap: a snapshot for a follower whose next entry is compacted away.
 * - MsgTimeoutNow: leadership transfer; the target campaigns at once.
 * - MsgReadIndex / MsgReadIndexResp: a follower's linearizable read point, asked of the leader.
 */
export type MessageType =
  | 'MsgApp'
  | 'MsgAppResp'
  | 'MsgVote'
  | 'MsgVoteResp'
  | 'MsgPreVote'
  | 'MsgPreVoteResp'
  | 'MsgHeartbeat'
  | 'MsgHeartbeatResp'
  | 'MsgSnap'
  | 'MsgTimeoutNow'
  | 'MsgReadIndex'
  | 'MsgReadIndexResp';

export const messageTypes: readonly MessageType[] = [
  'MsgApp',
  'MsgAppResp',
  'MsgVote',
  'MsgVoteResp',
  'MsgPreVote',
  'MsgPreVoteResp',
  'MsgHeartbeat',
  'MsgHeartbeatResp',
  'MsgSnap',
  'MsgTimeoutNow',
  'MsgReadIndex',
  'MsgReadIndexResp',
];

/**
 * One message between peers, flat like etcd's. Fields a type does not use are 0, '',
 * false or empty. Meaning by type:
 * - MsgApp: `index`/`logTerm` = the entry before `entries`; `commit` = leader's commit.
 * - MsgAppResp: `index` = last index now matching (accept) or the rejected `index`
 *   (reject); on reject `rejectHint` = the follower's suggested probe index and
 *   `logTerm` = the term there (fast backtracking).
 * - MsgVote/MsgPreVote: `index`/`logTerm` = the candidate's last entry; `context` is
 *   non-empty for a campaign caused by leadership transfer.
 * - MsgHeartbeat: `commit` = min(follower's match, leader's commit); `context` = the
 *   newest pending ReadIndex context; `index` = the leader's tick count when sent,
 *   echoed in MsgHeartbeatResp (used for leader leases).
 * - MsgSnap: `snapshot` carries the snapshot (its `data` may be empty; see Snapshot).
 * - MsgReadIndex: `context` = the follower's read context.
 * - MsgReadIndexResp: `context` echoed; `index` = the read index once the leader confirmed
 *   its leadership; `reject` = the leader cannot serve it (its read queue is full, or the
 *   receiver of the MsgReadIndex was not the leader).
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly context: Uint8Array;
  readonly snapshot?: Snapshot;
}

export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** Volatile state, reported in Ready only when it changes. */
export interface SoftState {
  /** '' when no leader is known. */
  readonly leaderId: NodeId;
  readonly role: RaftRole;
}

/** A ReadIndex answer: once the state machine has applied `index`, reads for `context` are linearizable. */
export interface ReadState {
  readonly context: Uint8Array;
  readonly index: number;
}

/**
 * What the runtime must do with a Ready. By default (synchronous storage writes), in this order:
 * 1. Persist `snapshot` (if any), then `entries` (appending, truncating any conflicting
 *    suffix already stored), then `hardState` (if any). When `mustSync` is true, fsync
 *    before step 2.
 * 2. Send `messages`. Exception allowing a leader to write its own log in parallel with
 *    replication: messages of type 'MsgApp' may be sent before (or while) step 1
 *    completes when `hardState` is absent or has the same term and vote as the last
 *    persisted one. (The leader counts its own log toward commit only in advance(), so
 *    nothing is committed on the strength of an unpersisted local write.) Every other
 *    message, notably votes and append responses, must wait for step 1.
 * 3. Apply `committedEntries` in order (after step 1: they may include entries persisted
 *    in this very Ready). Answer `readStates` once applied >= their index; answer
 *    `failedReads` at once with an error (leadership was lost).
 * 4. Call advance(ready) with this same object. Call ready() again only after that.
 *
 * With `asyncStorageWrites`, ready() may be called again at once (no advance()): each
 * entry, snapshot and committed entry is handed out exactly once, and the runtime reports
 * back as its work completes:
 * - Saves (snapshot, entries, hard state, as in step 1) go to the disk in the order the
 *   Readies were handed out and complete in that order. When one is durable, call
 *   persistedTo(index, term) of its last entry, and snapshotPersisted(index) once a saved
 *   snapshot is also installed in the state machine.
 * - While a term or vote handed out is not durable yet, every message waits until the
 *   save that carries it (or a later one) completes. Otherwise messages go at once, except
 *   acknowledgements (isDurabilityAcknowledgement: append and vote responses), which wait
 *   until this Ready's save, and every save before it, completes.
 * - `committedEntries` hold only entries already durable here. Apply them in order (a
 *   snapshot's install waits for those handed out before it); call appliedTo(index) after.
 */
export interface Ready {
  /** Undefined when unchanged since the last Ready (as are hardState and snapshot when there is none). */
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /** Contexts of ReadIndex requests that will never be answered: the leader stepped down. */
  readonly failedReads: readonly Uint8Array[];
  /** True when entries or the term/vote changed: these must be fsynced before sending. */
  readonly mustSync: boolean;
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's view of one follower. */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  readonly recentActive: boolean;
  readonly inflightMessageCount: number;
  readonly pendingSnapshotIndex: number;
}

export interface RaftStatus {
  readonly id: NodeId;
  /** 'learner' when this node is a non-voting member and not the leader. */
  readonly role: RaftRole | 'learner';
  readonly term: number;
  readonly vote: NodeId;
  readonly leaderId: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  /** Per peer, leader only (empty otherwise); includes the leader itself. */
  readonly progress: Readonly<Record<NodeId, ProgressStatus>>;
  /** '' when no transfer is in progress. */
  readonly leadTransferee: NodeId;
}

/** Something the core reports for diagnostics. Never needed for correctness. */
export interface RaftLogEvent {
  readonly event: string;
  readonly id: NodeId;
  readonly term: number;
  readonly [detail: string]: unknown;
}

/** Configuration of one node's core. Every limit is checked at construction. */
export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: RaftStorage;
  /** The last index the state machine has applied (0 for a fresh node). */
  readonly applied: number;
  /** Followers campaign after a random timeout in [electionTicks, 2*electionTicks). */
  readonly electionTicks: number;
  /**
   * A candidate or pre-candidate campaigns again after a random timeout in
   * [candidateElectionTicks, 2*candidateElectionTicks) without a result (hashicorp/raft's
   * ElectionTimeout beside its follower HeartbeatTimeout); >= electionTicks. Default electionTicks.
   */
  readonly candidateElectionTicks?: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** 'lease' answers reads from a leader lease; requires checkQuorum. */
  readonly readOnly: 'safe' | 'lease';
  /** How many ticks the lease is shortened by to cover clock drift; < electionTicks. Default 1. */
  readonly leaseDriftTicks?: number;
  readonly messageBytesMax: number;
  readonly inflightMessageCountMax: number;
  /** Bytes of entries in flight to one follower; >= messageBytesMax. */
  readonly inflightBytesMax: number;
  /** Bytes of proposed but uncommitted entries a leader accepts before dropping proposals. */
  readonly uncommittedEntriesBytesMax: number;
  /** ReadIndex requests waiting for an answer, at most. */
  readonly pendingReadCountMax: number;
  /** Bytes of committed entries handed out in one Ready (at least one entry). Default 64 MiB. */
  readonly committedBytesPerReadyMax?: number;
  /**
   * Messages waiting for the next ready(), at most (default 10000). Past it new messages
   * are dropped as a lossy network would (Raft tolerates loss; MsgSnap is never dropped),
   * so a runtime stalled on its disk does not grow the queue without bound.
   */
  readonly queuedMessageCountMax?: number;
  /**
   * Saves are reported back (persistedTo, snapshotPersisted, appliedTo) instead of
   * advance(), so the runtime may save, send and apply in parallel (see Ready). Default false.
   */
  readonly asyncStorageWrites?: boolean;
  /** A seeded source of randomness in [0, 1), used for election jitter. */
  readonly random: () => number;
  readonly logger?: (event: RaftLogEvent) => void;
}
