/**
 * While a load runs on the leader, other writes wait for it. A load replaces the whole
 * database when it commits, and a SQL load runs its statements on a copy taken when it
 * began: a write that committed in between would be lost without a trace. So the leader
 * holds the gate from a load's first step to its commit (or abort), and every other
 * proposal made through the gated log (client writes, queued batches, maintenance)
 * waits for it, up to its own timeout, then goes on as usual. The load's own entries
 * are proposed through the plain log. Membership changes do not pass here: they do not
 * touch the database.
 */
import { ServiceError } from '../service/service.js';
import type { ApplyOutcome, ReplicatedLog } from './replicated-log.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';

export class LoadGate {
  #held: { readonly released: Promise<void>; readonly release: () => void } | undefined;

  get held(): boolean {
    return this.#held !== undefined;
  }

  /** Closes the gate; the returned function opens it again (once). */
  hold(): () => void {
    if (this.#held !== undefined) throw new ServiceError('UNAVAILABLE', 'load in progress');
    let release = (): void => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = { released, release };
    this.#held = held;
    return () => {
      if (this.#held !== held) return;
      this.#held = undefined;
      release();
    };
  }

  /** Resolves once the gate is open; TIMEOUT after `timeoutMs`. */
  async whenOpen(timeoutMs: number, scheduler: Scheduler): Promise<void> {
    while (this.#held !== undefined) {
      let timer: ScheduledTimer | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = scheduler.setTimeout(() => reject(new ServiceError('TIMEOUT', `write waited ${timeoutMs}ms for a load to finish`)), timeoutMs);
      });
      try {
        await Promise.race([this.#held.released, expired]);
      } finally {
        timer?.cancel();
      }
    }
  }
}

/** `log` with its `propose` waiting at the gate first (the waiting counts against the write's timeout). */
export function gatedLog(log: ReplicatedLog, gate: LoadGate, scheduler: Scheduler): ReplicatedLog {
  const propose = async (command: Uint8Array, timeoutMs: number): Promise<ApplyOutcome> => {
    if (!gate.held) return log.propose(command, timeoutMs);
    const startedMs = scheduler.monotonicMs();
    await gate.whenOpen(timeoutMs, scheduler);
    return log.propose(command, Math.max(1, timeoutMs - (scheduler.monotonicMs() - startedMs)));
  };
  return new Proxy(log, {
    get(target, property) {
      if (property === 'propose') return propose;
      // Getters run on the log itself (its private fields); methods keep it as `this`.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...parameters: unknown[]) => unknown).bind(target) : value;
    },
  });
}
