/**
 * Requests that wait for apply. A write or a membership change is proposed on the
 * leader and resolves once its entry applied here (matched by index and term); a
 * linearizable read waits for ReadIndex and then for apply; any caller may wait for an
 * index to apply. All fail at once on leadership loss, and are refused with HALTED while
 * the node retries an environmental failure. The runtime is leader-local: it never
 * forwards (the cluster service does).
 */
import { ServiceError } from '../service/service.js';
import { encodeCommand } from '../state-machine/command-codec.js';
import type { QueuedRequest, Statement } from '../state-machine/types.js';
import type { ConfChange } from '../raft/types.js';
import type { MemberDirectory } from './member-directory.js';
import type { ApplyOutcome } from './replicated-log.js';
import type { RuntimeState } from './runtime-state.js';
import type { ScheduledTimer } from './scheduler.js';

export class Proposer {
  readonly #state: RuntimeState;
  readonly #directory: MemberDirectory;

  constructor(state: RuntimeState, directory: MemberDirectory) {
    this.#state = state;
    this.#directory = directory;
  }

  /** Proposes an encoded command (leader only) and resolves with its results once applied here. */
  async propose(data: Uint8Array, timeoutMs: number): Promise<ApplyOutcome> {
    const state = this.#state;
    state.requireCore();
    if (data.byteLength > state.config.entryDataBytesMax) {
      throw new ServiceError('BAD_REQUEST', `write of ${data.byteLength} bytes exceeds the entry bound of ${state.config.entryDataBytesMax} bytes`);
    }
    state.refuseIfHalted();
    if (!state.proposals.hasRoom()) throw new ServiceError('UNAVAILABLE', 'too many writes in flight');
    const position = state.drive((core) => core.propose(data));
    return this.#withTimeout(state.proposals.wait(position.index, position.term), timeoutMs, 'write');
  }

  /** Proposes a membership change (leader only) and resolves once it is applied here. */
  async proposeConfChange(change: ConfChange, timeoutMs: number): Promise<number> {
    const state = this.#state;
    state.requireCore();
    state.refuseIfHalted();
    const position = state.drive((core) => core.proposeConfChange(change));
    this.#directory.learnAddresses(change, false);
    await this.#withTimeout(state.proposals.wait(position.index, position.term), timeoutMs, 'membership change');
    return position.index;
  }

  /**
   * Linearizable read barrier: ReadIndex, then wait for apply. Resolves with the read
   * index. On the leader the read is confirmed by a heartbeat round; a follower or learner
   * asks the leader (MsgReadIndex) and waits until it has applied the index the leader
   * answered, so the local read that follows is linearizable. Reads share rounds: one
   * that arrives while a round is in flight joins the next (pending-reads.ts says why).
   */
  async readBarrier(timeoutMs: number): Promise<number> {
    const state = this.#state;
    state.requireCore();
    state.refuseIfHalted();
    const index = await state.reads.join(timeoutMs);
    await state.appliedWaiters.wait(index, timeoutMs);
    return index;
  }

  /** Resolves once `index` applied here; HALTED at once if it has not and the node is halted. */
  waitForApplied(index: number, timeoutMs: number): Promise<void> {
    if (index > this.#state.appliedWaiters.appliedIndex) {
      try {
        this.#state.refuseIfHalted();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#state.appliedWaiters.wait(index, timeoutMs);
  }

  /** A write's entry data: the statements with this leader's clock and a fresh 64-bit seed. */
  encodeCommandFor(statements: readonly Statement[], transaction: boolean, requestId: string | null, qualifyColumns = false): Uint8Array {
    return encodeCommand({
      statements,
      transaction,
      timestampMs: this.#state.scheduler.nowMs(),
      seed: this.#seed(),
      ...(requestId === null ? {} : { requestId }),
      ...(qualifyColumns ? { qualifyColumns } : {}),
    });
  }

  /** A queued batch's entry data (`?queue`): many requests under one id, with this leader's clock and a fresh seed. */
  encodeQueuedBatchFor(requests: readonly QueuedRequest[], transaction: boolean, batchId: string): Uint8Array {
    return encodeCommand({ statements: [], queued: requests, transaction, timestampMs: this.#state.scheduler.nowMs(), seed: this.#seed(), requestId: batchId });
  }

  #seed(): bigint {
    const random = this.#state.random;
    return (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
  }

  #withTimeout<Value>(promise: Promise<Value>, timeoutMs: number, what: string): Promise<Value> {
    let timer: ScheduledTimer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#state.scheduler.setTimeout(() => reject(new ServiceError('TIMEOUT', `${what} not applied within ${timeoutMs}ms`)), timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => timer?.cancel());
  }
}
