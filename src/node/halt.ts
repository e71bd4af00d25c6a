/**
 * Halting (design decision 2): an environmental failure while persisting or applying
 * stops the node where it is and retries the same step every `haltRetryIntervalMs`; it
 * never skips. While it lasts, `state.haltError` says why (readiness, /status, and the
 * HALTED refusals of new requests read it), and a leader hands its leadership over
 * (leadership.ts; with the etcd log, etcd-log.ts resigns the leader key) so that the
 * cluster keeps writing while this node's disk is full.
 */
import { StateMachineError, StateMachineHaltedError } from '../state-machine/errors.js';
import { StorageError } from '../storage/errors.js';
import type { RuntimeState } from './runtime-state.js';
import { sleep } from './scheduler.js';

/** A halted leader hands leadership over once the same step has failed this many times (a one-off failure does not move leadership). */
export const haltHandOverAttempt = 2;

/**
 * At most one hand-over for a halt per this many ms per node: when every node's disk is
 * full, leadership moves around at that pace instead of with every retry.
 */
export const haltHandOverSpacingMs = 10_000;

/**
 * When a halted leader hands over (leadership.ts) or resigns the etcd key (etcd-log.ts):
 * from attempt haltHandOverAttempt of a failing step on, at most once per haltHandOverSpacingMs.
 */
export class HaltHandOverPacing {
  #lastMs: number | undefined;

  /** True when a leader halted at `attempt` should hand over now; a true answer counts as a hand-over at `nowMs`. */
  due(attempt: number, nowMs: number): boolean {
    if (attempt < haltHandOverAttempt) return false;
    if (this.#lastMs !== undefined && nowMs - this.#lastMs < haltHandOverSpacingMs) return false;
    this.#lastMs = nowMs;
    return true;
  }
}

/**
 * Environmental failures: the disk or database refused for a reason outside the program
 * (StorageError DISK_FULL / IO_ERROR, StateMachineHaltedError, StateMachineError
 * ENVIRONMENT from file work such as a snapshot's restore). Retried, never skipped.
 */
export function isEnvironmentalFailure(error: unknown): boolean {
  if (error instanceof StateMachineHaltedError) return true;
  if (error instanceof StateMachineError && error.code === 'ENVIRONMENT') return true;
  return error instanceof StorageError && (error.code === 'DISK_FULL' || error.code === 'IO_ERROR');
}

/**
 * Runs `operation` until it succeeds. An environmental failure halts the node and is
 * retried after `haltRetryIntervalMs`; anything else (a broken invariant) is thrown, and
 * so is the failure once the node is stopping.
 */
export async function retryWhileHalted<Value>(state: RuntimeState, what: string, operation: () => Promise<Value> | Value): Promise<Value> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const value = await operation();
      if (state.haltError !== undefined) state.logger.info({ event: 'resumed', what }, `${what} resumed`);
      state.haltError = undefined;
      return value;
    } catch (error) {
      if (!isEnvironmentalFailure(error)) throw error;
      state.haltError = error as Error;
      state.logger.error({ event: 'halted', what, attempt, reason: haltReason(error), error: String(error) }, `cannot ${what}; retrying`);
      if (state.stopped) throw error;
      state.reportHalt(attempt);
      await sleep(state.scheduler, state.config.haltRetryIntervalMs);
      if (state.stopped) throw error;
    }
  }
}

/** Why the node halted, for its log and /status events: `disk-full` is the one an operator fixes by freeing space. */
function haltReason(error: unknown): 'disk-full' | 'io-error' | 'environment' {
  if (error instanceof StorageError) return error.code === 'DISK_FULL' ? 'disk-full' : 'io-error';
  return /ENOSPC|SQLITE_FULL|disk is full|database or disk is full/i.test(String(error)) ? 'disk-full' : 'environment';
}
