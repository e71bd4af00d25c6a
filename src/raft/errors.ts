/** Errors the core throws to its caller, with machine-readable codes. */
import type { NodeId } from './types.js';

type RaftErrorCode =
  /** This node is not the leader; `leaderId` is a hint ('' when unknown). */
  | 'NOT_LEADER'
  /** The leader refused the proposal: a leadership transfer is in progress, the
   * uncommitted-bytes bound is reached, or the leader is being removed. Retry later. */
  | 'PROPOSAL_DROPPED'
  /** A membership change is still uncommitted, or the leader has not yet committed an entry of its term. */
  | 'CONF_CHANGE_PENDING'
  /** The membership change makes no sense against the current membership. */
  | 'CONF_CHANGE_INVALID'
  /** pendingReadCountMax ReadIndex requests are already waiting. */
  | 'READ_QUEUE_FULL'
  /** A leadership transfer to a node that cannot take it (itself, a learner, a non-member). */
  | 'TRANSFER_INVALID'
  /** The RaftConfig breaks a rule; the message says which. */
  | 'INVALID_CONFIG'
  /** An argument breaks the API's contract (empty read context, malformed conf change bytes). */
  | 'INVALID_ARGUMENT';

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  /** For NOT_LEADER: the leader this node knows of, '' if none. */
  readonly leaderId: NodeId;
  constructor(code: RaftErrorCode, message: string, options: { leaderId?: NodeId; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RaftError';
    this.code = code;
    this.leaderId = options.leaderId ?? '';
  }
}

/** A broken invariant: a bug in the core or in how the runtime drives it. Never caught. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`raft assertion failed: ${message}`);
}
