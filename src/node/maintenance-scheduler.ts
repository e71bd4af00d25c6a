/**
 * The leader's side of rqlited's -auto-vacuum-int and -auto-optimize-int: once an
 * interval has passed since that maintenance last ran (by the time recorded in the
 * database, so a new leader carries on the old one's schedule; before the first run,
 * since this node started), the leader proposes a maintenance entry, and every node runs
 * it at the same log index (state-machine/maintenance.ts says why it goes through the log).
 */
import { ServiceError } from '../service/service.js';
import { encodeMaintenanceCommand, type MaintenanceKind } from '../state-machine/maintenance.js';
import type { NodeConfig } from './config.js';
import type { NodeLogger } from './logger.js';
import type { ReplicatedLog } from './replicated-log.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';

interface MaintenanceDependencies {
  readonly config: Pick<NodeConfig, 'autoVacuumIntervalMs' | 'autoOptimizeIntervalMs' | 'requestTimeoutMs'>;
  readonly log: Pick<ReplicatedLog, 'isLeader' | 'stopped' | 'propose'>;
  readonly database: { maintenanceTimes(): ReadonlyMap<MaintenanceKind, number> };
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
}

/** How often the leader looks: half the shortest interval, within these bounds. */
const checkIntervalMsMin = 100;
const checkIntervalMsMax = 60_000;

export class MaintenanceScheduler {
  readonly #dependencies: MaintenanceDependencies;
  readonly #intervals: ReadonlyMap<MaintenanceKind, number>;
  readonly #startedAtMs: number;
  /** When this node last proposed each kind: no second proposal while the first is still on its way. */
  readonly #proposedAtMs = new Map<MaintenanceKind, number>();
  #timer: ScheduledTimer | undefined;
  #proposing = false;

  constructor(dependencies: MaintenanceDependencies) {
    this.#dependencies = dependencies;
    const { autoVacuumIntervalMs, autoOptimizeIntervalMs } = dependencies.config;
    const intervals = new Map<MaintenanceKind, number>();
    if (autoVacuumIntervalMs > 0) intervals.set('vacuum', autoVacuumIntervalMs);
    if (autoOptimizeIntervalMs > 0) intervals.set('optimize', autoOptimizeIntervalMs);
    this.#intervals = intervals;
    this.#startedAtMs = dependencies.scheduler.nowMs();
  }

  start(): void {
    if (this.#intervals.size === 0 || this.#timer !== undefined) return;
    const shortestMs = Math.min(...this.#intervals.values());
    const checkMs = Math.min(checkIntervalMsMax, Math.max(checkIntervalMsMin, Math.floor(shortestMs / 2)));
    this.#timer = this.#dependencies.scheduler.setInterval(() => void this.#check(), checkMs);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** The kind that is due now, if any (one at a time). */
  #due(nowMs: number): MaintenanceKind | undefined {
    const recorded = this.#dependencies.database.maintenanceTimes();
    for (const [kind, intervalMs] of this.#intervals) {
      const lastMs = Math.max(recorded.get(kind) ?? this.#startedAtMs, this.#proposedAtMs.get(kind) ?? Number.NEGATIVE_INFINITY);
      if (nowMs - lastMs >= intervalMs) return kind;
    }
    return undefined;
  }

  async #check(): Promise<void> {
    const { log, scheduler, logger, config } = this.#dependencies;
    if (this.#proposing || !log.isLeader || log.stopped) return;
    const nowMs = scheduler.nowMs();
    let kind: MaintenanceKind | undefined;
    try {
      kind = this.#due(nowMs);
    } catch (error) {
      logger.warn({ event: 'maintenance-check-failed', error: String(error) }, 'could not read when maintenance last ran');
      return;
    }
    if (kind === undefined) return;
    this.#proposing = true;
    this.#proposedAtMs.set(kind, nowMs);
    try {
      const outcome = await log.propose(encodeMaintenanceCommand({ kind, timestampMs: nowMs }), config.requestTimeoutMs);
      logger.info({ event: 'maintenance', kind, index: outcome.index }, `every node ran ${kind} at this log index`);
    } catch (error) {
      // A timed-out entry may still apply: wait a whole interval. Anything else was refused: try again soon.
      if (!(error instanceof ServiceError && error.code === 'TIMEOUT')) this.#proposedAtMs.delete(kind);
      logger.warn({ event: 'maintenance-failed', kind, error: String(error) }, `proposing ${kind} failed`);
    } finally {
      this.#proposing = false;
    }
  }
}
