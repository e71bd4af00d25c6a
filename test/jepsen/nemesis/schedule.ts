/**
 * When faults happen: a quiet spell, then one fault (sometimes two of different kinds at
 * once), held for a while, then healed, until the deadline. Every fault becomes a
 * NemesisEvent in the run's record, with the times it began and was healed.
 */
import type { Prng } from '../../sim/prng.js';
import type { TestNode } from '../../cluster/harness.js';
import { sleep } from '../../cluster/harness.js';
import type { JepsenCluster } from '../cluster.js';
import type { NemesisEvent } from '../history.js';
import type { ActiveFault, Nemesis } from './nemesis.js';

export interface ScheduleOptions {
  readonly quietMsMin: number;
  readonly quietMsMax: number;
  readonly holdMsMin: number;
  readonly holdMsMax: number;
  /** Chance that a second fault of another kind joins the first. */
  readonly pairChance: number;
}

export const scheduleDefaults: ScheduleOptions = { quietMsMin: 1_000, quietMsMax: 4_000, holdMsMin: 2_000, holdMsMax: 8_000, pairChance: 0.3 };

export class NemesisSchedule {
  readonly events: NemesisEvent[] = [];
  readonly #active: { fault: ActiveFault; event: number }[] = [];
  readonly #busy = new Set<TestNode>();
  readonly #turns: Nemesis[] = [];
  #stopping = false;

  constructor(
    private readonly cluster: JepsenCluster,
    private readonly nemeses: readonly Nemesis[],
    private readonly random: Prng,
    private readonly now: () => number,
    private readonly log: (line: string) => void,
    private readonly options: ScheduleOptions = scheduleDefaults,
  ) {}

  /** Runs faults until `deadlineMs` (on `now`'s clock), then heals whatever is active. */
  async run(deadlineMs: number): Promise<void> {
    if (this.nemeses.length === 0) return;
    while (!this.#stopping) {
      await this.#sleepUntil(Math.min(deadlineMs, this.now() + this.#between(this.options.quietMsMin, this.options.quietMsMax)));
      if (this.#stopping || this.now() >= deadlineMs) break;
      const count = this.nemeses.length > 1 && this.random.chance(this.options.pairChance) ? 2 : 1;
      const begun = new Set<Nemesis>();
      for (let slot = 0; slot < count; slot++) {
        const nemesis = await this.#beginNext(begun);
        if (nemesis === undefined) break;
        begun.add(nemesis);
      }
      await this.#sleepUntil(Math.min(deadlineMs, this.now() + this.#between(this.options.holdMsMin, this.options.holdMsMax)));
      await this.healAll();
    }
    await this.healAll();
  }

  /** The kinds take turns in a shuffled order, reshuffled each round: every kind runs, none twice in a row within a round. */
  #nextNemesis(): Nemesis {
    if (this.#turns.length === 0) this.#turns.push(...this.random.shuffle([...this.nemeses]));
    return this.#turns.shift() as Nemesis;
  }

  /**
   * Begins the next kind in turn that can begin now, trying each kind at most once. A kind
   * that declines (a partition with two members left, no leader to kill) or fails keeps its
   * place at the front, so it runs as soon as it can instead of losing its turn: in a short
   * run every kind still comes round (found by the bounded suite under load: a removal left
   * two members whenever the partition's turn came, and it never ran).
   */
  async #beginNext(exclude: ReadonlySet<Nemesis>): Promise<Nemesis | undefined> {
    const passed: Nemesis[] = [];
    let begun: Nemesis | undefined;
    for (let tries = 0; tries < this.nemeses.length && begun === undefined; tries++) {
      const nemesis = this.#nextNemesis();
      if (!exclude.has(nemesis) && (await this.#begin(nemesis))) begun = nemesis;
      else passed.push(nemesis);
    }
    const rest = this.#turns.filter((nemesis) => !passed.includes(nemesis));
    this.#turns.splice(0, this.#turns.length, ...new Set(passed), ...rest);
    return begun;
  }

  stop(): void {
    this.#stopping = true;
  }

  /** True when the fault began (and is recorded); false when the nemesis declined or failed. */
  async #begin(nemesis: Nemesis): Promise<boolean> {
    const leader = await this.cluster.leader();
    const startMs = this.now();
    let fault: ActiveFault | undefined;
    try {
      fault = await nemesis.begin({ cluster: this.cluster, random: this.random, leader, busy: this.#busy, log: this.log });
    } catch (error) {
      this.log(`nemesis ${nemesis.kind} failed to begin: ${String(error)}`);
      return false;
    }
    if (fault === undefined) return false;
    this.log(`${(startMs / 1000).toFixed(1)}s ${fault.description}`);
    this.events.push({ kind: fault.kind, description: fault.description, targets: fault.targets, startMs, leaderAffected: fault.leaderAffected });
    this.#active.push({ fault, event: this.events.length - 1 });
    return true;
  }

  /** Heals every active fault, newest first, and closes their events. */
  async healAll(): Promise<void> {
    while (this.#active.length > 0) {
      const { fault, event } = this.#active.pop() as { fault: ActiveFault; event: number };
      try {
        await fault.heal();
      } catch (error) {
        this.log(`healing "${fault.description}" failed: ${String(error)}`);
      }
      const record = this.events[event] as NemesisEvent;
      this.events[event] = { ...record, endMs: this.now() };
    }
  }

  #between(low: number, high: number): number {
    return this.random.nextIntBetween(low, high);
  }

  async #sleepUntil(targetMs: number): Promise<void> {
    while (!this.#stopping && this.now() < targetMs) await sleep(Math.min(200, targetMs - this.now()));
  }
}
