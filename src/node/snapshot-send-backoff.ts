/**
 * How often the leader tries again to send a snapshot to a follower whose transfers fail.
 * The core asks again at the follower's next heartbeat answer (every heartbeat interval),
 * so a follower that answers heartbeats but cannot take a snapshot (its disk full, its
 * snapshot port cut off) got a new transfer, and the leader logged a warning, several
 * times a second for as long as it lasted. After a failure, transfers to that follower
 * wait a delay that doubles with each failure in a row, from `firstDelayMs` up to
 * `delayMaxMs`; a warning is logged for the 1st, 2nd, 4th, 8th… failure in a row. A
 * success ends the run. At most `followerCountMax` followers are remembered (the oldest
 * run is forgotten first: a follower removed from the cluster never ends its run).
 */
import type { NodeId } from '../raft/types.js';

interface SendBackoffSettings {
  /** The wait after the first failure in a row. */
  readonly firstDelayMs: number;
  /** The longest wait, however many failures. */
  readonly delayMaxMs: number;
}

const defaultSendBackoff: SendBackoffSettings = { firstDelayMs: 250, delayMaxMs: 10_000 };

/** Runs remembered at once; far above any cluster's membership. */
export const followerCountMax = 256;

interface FailureNote {
  /** Failures in a row, this one included. */
  readonly failures: number;
  /** How long transfers to this follower now wait. */
  readonly retryInMs: number;
  /** Whether this failure is one to log (a power of two in the run). */
  readonly logIt: boolean;
}

export class SnapshotSendBackoff {
  readonly #settings: SendBackoffSettings;
  readonly #runs = new Map<NodeId, { failures: number; retryAtMs: number }>();

  constructor(settings: SendBackoffSettings = defaultSendBackoff) {
    if (!(settings.firstDelayMs > 0 && settings.delayMaxMs >= settings.firstDelayMs)) {
      throw new RangeError(`snapshot send backoff: firstDelayMs ${settings.firstDelayMs} must be positive and at most delayMaxMs ${settings.delayMaxMs}`);
    }
    this.#settings = settings;
  }

  /** Whether a transfer to `to` may start at `nowMs`. */
  mayStart(to: NodeId, nowMs: number): boolean {
    const run = this.#runs.get(to);
    return run === undefined || nowMs >= run.retryAtMs;
  }

  failed(to: NodeId, nowMs: number): FailureNote {
    const failures = (this.#runs.get(to)?.failures ?? 0) + 1;
    const doublings = Math.min(failures - 1, 30);
    const retryInMs = Math.min(this.#settings.firstDelayMs * 2 ** doublings, this.#settings.delayMaxMs);
    this.#runs.delete(to);
    this.#runs.set(to, { failures, retryAtMs: nowMs + retryInMs });
    if (this.#runs.size > followerCountMax) this.#runs.delete(this.#runs.keys().next().value as NodeId);
    return { failures, retryInMs, logIt: (failures & (failures - 1)) === 0 };
  }

  /** A transfer to `to` succeeded; returns the failures in a row it ended (0 if none). */
  succeeded(to: NodeId): number {
    const failures = this.#runs.get(to)?.failures ?? 0;
    this.#runs.delete(to);
    return failures;
  }

  get size(): number {
    return this.#runs.size;
  }
}
