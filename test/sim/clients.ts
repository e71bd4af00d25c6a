/**
 * The simulated clients of the key-value workload (transaction-clients.ts has the
 * transaction workload's; both use the choice of node and the refusal rules here): each
 * has at most one operation in flight, picks a random node
 * (for a write usually the leader that node knows, for a read the follower itself with
 * the scenario's followerReadProbability; a NOT_LEADER hint is followed once), and goes
 * through the runtime's public API (ReplicatedLog): a write is `propose`, a read is
 * `readBarrier` (on a follower: ReadIndex asked of the leader) then a local read of that
 * node's state machine. Every operation is recorded in the
 * history: ok, fail (definitely not applied) or info (unknown).
 */
import { ServiceError } from '../../src/service/service.js';
import type { HistoryRecorder } from './history.js';
import type { KvInput, KvOutput } from './kv-model.js';
import { encodeKvCommand } from './kv-state-machine.js';
import type { Prng } from './prng.js';
import { simulatorTickMs, type Scenario } from './scenario.js';
import type { SimHost, SimProcess } from './sim-host.js';
import type { Trace } from './trace.js';

/**
 * Planted read bugs: every read answered from the local state without ReadIndex, or a
 * follower that reads once the leader answered its read index without waiting to apply
 * it (sim-host.ts plants that one in the core's Ready).
 */
export type PlantedReadFault = 'read-without-read-index' | 'follower-read-without-apply-wait';

export interface ClientContext {
  readonly hosts: ReadonlyMap<string, SimHost>;
  readonly history: HistoryRecorder<KvInput, KvOutput>;
  readonly trace: Trace;
  readonly prng: Prng;
  readonly scenario: Scenario;
  readonly clientCount: number;
  readonly keyCount: number;
  readonly plantedReadFault: PlantedReadFault | undefined;
  /** Why operations failed or ended unknown, counted by reason. */
  readonly unsuccessfulOperationReasons: Record<string, number>;
  readonly nowMs: () => number;
}

/** What the simulator and the fault injector need of a workload's clients. */
export interface WorkloadClients {
  /** Each request's timeout (virtual ms). */
  readonly timeoutMs: number;
  /** Called every simulator tick: idle clients may start an operation. */
  startOperations(): void;
  /** A process ended (crash, stop, removal): what waited on it gets no answer from it. */
  processEnded(process: SimProcess, why: string): void;
  /** The request waiting longest for an answer, if any has waited longer than `ageMs`. */
  oldestWaitingLongerThan(ageMs: number): { operationId: number; ageMs: number } | undefined;
}

/** Refusals that never come after the write reached the log: it definitely did not happen. */
export const refusedBeforeTheLog = new Set(['NOT_LEADER', 'NO_LEADER', 'HALTED', 'BAD_REQUEST']);

export class SimulatedClients implements WorkloadClients {
  private readonly clientBusy: boolean[];
  private valueCounter = 0;
  /** Operations in flight: when each was invoked (virtual ms), for the unanswered-request check. */
  private readonly invokedAtMs = new Map<number, number>();

  constructor(private readonly context: ClientContext) {
    this.clientBusy = new Array<boolean>(context.clientCount).fill(false);
  }

  get timeoutMs(): number {
    return this.context.scenario.clientOperationTimeoutTicks * simulatorTickMs;
  }

  /** Each idle client starts an operation with the scenario's probability. */
  startOperations(): void {
    const { prng, scenario } = this.context;
    for (let clientId = 0; clientId < this.context.clientCount; clientId++) {
      if (this.clientBusy[clientId] === true || !prng.chance(scenario.clientOperationProbabilityPerTick)) continue;
      const choice = chooseProcess(this.context.hosts, this.context.prng);
      if (choice === undefined) continue;
      const key = `k${prng.nextInt(this.context.keyCount)}`;
      const roll = prng.nextInt(10);
      const leaderProbability = roll < 3 ? 1 - scenario.followerReadProbability : 0.9;
      const process = choice.leader !== undefined && choice.towardLeader < leaderProbability ? choice.leader : choice.picked;
      if (roll < 3) this.startRead(clientId, process, key);
      else this.startWrite(clientId, process, key, roll < 6 ? 'put' : 'append');
    }
  }

  private startWrite(clientId: number, process: SimProcess, key: string, kind: 'put' | 'append'): void {
    this.valueCounter++;
    const value = kind === 'put' ? `p${this.valueCounter}` : `a${this.valueCounter}.`;
    const operationId = this.invoke(clientId, { kind, key, value });
    this.propose(operationId, process, encodeKvCommand({ requestId: `w${operationId}`, kind, key, value }), true);
  }

  private propose(operationId: number, process: SimProcess, data: Uint8Array, mayRedirect: boolean): void {
    process.pendingOperations.set(operationId, 'write');
    this.context.trace.record(this.context.nowMs(), 'propose', process.nodeId, `#${operationId}`);
    const outcome = process.runtime.propose(data, this.timeoutMs);
    const refusedAtCall = rejectedAtCall(outcome);
    outcome.then(
      (applied) => {
        if (process.pendingOperations.delete(operationId)) this.finish(operationId, 'ok', `i=${applied.index}`);
      },
      async (error: unknown) => {
        const atCall = await refusedAtCall;
        if (!process.pendingOperations.delete(operationId)) return;
        const redirect = mayRedirect ? redirectTarget(this.context.hosts, error) : undefined;
        if (redirect !== undefined) return this.propose(operationId, redirect, data, false);
        const code = error instanceof ServiceError ? error.code : 'INTERNAL';
        // The contract (src/node replicated-log.ts): a refusal comes at the call, before the
        // command reaches the log; a rejection after that leaves the outcome unknown.
        const definitelyNotApplied = atCall || refusedBeforeTheLog.has(code);
        this.finish(operationId, definitelyNotApplied ? 'fail' : 'info', `write: ${code} ${messageOf(error)}`);
      },
    );
  }

  private startRead(clientId: number, process: SimProcess, key: string): void {
    const operationId = this.invoke(clientId, { kind: 'get', key });
    if (this.context.plantedReadFault === 'read-without-read-index') {
      this.finish(operationId, 'ok', process.host.database.get(key));
      return;
    }
    this.read(operationId, process, key, true);
  }

  private read(operationId: number, process: SimProcess, key: string, mayRedirect: boolean): void {
    process.pendingOperations.set(operationId, 'read');
    process.runtime.readBarrier(this.timeoutMs).then(
      () => {
        if (process.pendingOperations.delete(operationId)) this.finish(operationId, 'ok', process.host.database.get(key));
      },
      (error: unknown) => {
        if (!process.pendingOperations.delete(operationId)) return;
        const redirect = mayRedirect ? redirectTarget(this.context.hosts, error) : undefined;
        if (redirect !== undefined) return this.read(operationId, redirect, key, false);
        this.finish(operationId, 'fail', `read: ${error instanceof ServiceError ? error.code : 'INTERNAL'} ${messageOf(error)}`);
      },
    );
  }

  /** A process ended (crash, stop, removal): its writes' outcomes are unknown, its reads failed. */
  processEnded(process: SimProcess, why: string): void {
    for (const [operationId, kind] of process.pendingOperations) {
      this.finish(operationId, kind === 'write' ? 'info' : 'fail', `${process.nodeId} ${why}`);
    }
    process.pendingOperations.clear();
  }

  private invoke(clientId: number, input: KvInput): number {
    this.clientBusy[clientId] = true;
    const operationId = this.context.history.invoke(clientId, input);
    this.invokedAtMs.set(operationId, this.context.nowMs());
    const value = input.kind === 'get' ? '' : input.value;
    this.context.trace.record(this.context.nowMs(), 'invoke', `c${clientId}`, `#${operationId}`, input.kind, input.key, value);
    return operationId;
  }

  /** Complete an operation; `detail` is a get's value for a successful read, else a reason. */
  finish(operationId: number, outcome: 'ok' | 'fail' | 'info', detail: string): void {
    const history = this.context.history;
    const operation = history.openOperation(operationId);
    this.clientBusy[operation.clientId] = false;
    this.invokedAtMs.delete(operationId);
    if (outcome === 'ok') history.ok(operationId, operation.input.kind === 'get' ? detail : null);
    if (outcome === 'fail') history.fail(operationId, detail);
    if (outcome === 'info') history.info(operationId, detail);
    this.context.trace.record(this.context.nowMs(), outcome, `#${operationId}`, detail);
    if (outcome !== 'ok') {
      const reasons = this.context.unsuccessfulOperationReasons;
      const reason = `${outcome}: ${detail.replace(/\d+/g, 'N')}`;
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
  }

  /** The operation waiting longest for an answer, if any has waited longer than `ageMs`. */
  oldestWaitingLongerThan(ageMs: number): { operationId: number; ageMs: number } | undefined {
    const nowMs = this.context.nowMs();
    for (const [operationId, invokedAtMs] of this.invokedAtMs) {
      if (nowMs - invokedAtMs > ageMs) return { operationId, ageMs: nowMs - invokedAtMs };
    }
    return undefined;
  }
}

/**
 * A random running node, the leader it knows (if that is another running node), and a
 * draw in [0, 1) deciding whether the request goes on to that leader: the caller decides
 * once it knows the operation (draws in the order they always were, so seeds replay).
 */
export function chooseProcess(
  hosts: ReadonlyMap<string, SimHost>,
  prng: Prng,
): { picked: SimProcess; leader: SimProcess | undefined; towardLeader: number } | undefined {
  const up = [...hosts.values()].filter((host) => !host.retired && host.process !== undefined && !host.process.stopping);
  if (up.length === 0) return undefined;
  const picked = prng.pick(up).process as SimProcess;
  const leader = hosts.get(picked.runtime.leaderId)?.process;
  if (picked.runtime.isLeader || leader === undefined || leader.stopping) return { picked, leader: undefined, towardLeader: 1 };
  return { picked, leader, towardLeader: prng.nextFloat() };
}

/** The node a NOT_LEADER refusal points to, if it is running. */
export function redirectTarget(hosts: ReadonlyMap<string, SimHost>, error: unknown): SimProcess | undefined {
  if (!(error instanceof ServiceError) || error.code !== 'NOT_LEADER' || error.leaderApiAddress === null) return undefined;
  const match = /^http:\/\/(.+):api$/.exec(error.leaderApiAddress);
  const leader = match === null ? undefined : hosts.get(match[1] as string)?.process;
  return leader === undefined || leader.stopping ? undefined : leader;
}

/** Whether `promise` had already rejected when the call that returned it did (nothing after the call decided it). */
export function rejectedAtCall(promise: Promise<unknown>): Promise<boolean> {
  const notYet = Symbol('not settled at the call');
  // An already settled promise's reaction is queued before the sentinel's: it wins the race.
  return Promise.race([promise, Promise.resolve(notYet)]).then(
    () => false,
    () => true,
  );
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
