/**
 * The simulated clients: each has at most one operation in flight, picks a random node
 * (usually forwarded to the leader that node knows, and following one NOT_LEADER hint),
 * writes through propose and reads through ReadIndex, and records every operation in
 * the history: ok, fail (definitely not applied) or info (unknown).
 */
import { RaftError } from '../../src/raft/index.js';
import type { HistoryRecorder } from './history.js';
import type { KvInput, KvOutput } from './kv-model.js';
import { encodeKvCommand } from './kv-state-machine.js';
import type { Prng } from './prng.js';
import type { Scenario } from './scenario.js';
import type { PendingRead, SimNode } from './sim-node.js';
import type { Trace } from './trace.js';

export interface ClientContext {
  readonly nodes: ReadonlyMap<string, SimNode>;
  readonly history: HistoryRecorder<KvInput, KvOutput>;
  readonly trace: Trace;
  readonly prng: Prng;
  readonly scenario: Scenario;
  readonly clientCount: number;
  readonly keyCount: number;
  readonly plantedReadFault: 'read-without-read-index' | undefined;
  /** Why operations failed or ended unknown, counted by reason. */
  readonly unsuccessfulOperationReasons: Record<string, number>;
  readonly now: () => { readonly tick: number; readonly step: number };
}

const encoder = new TextEncoder();

export class SimulatedClients {
  private readonly clientBusy: boolean[];
  private valueCounter = 0;

  constructor(private readonly context: ClientContext) {
    this.clientBusy = new Array<boolean>(context.clientCount).fill(false);
  }

  /** Each idle client starts an operation with the scenario's probability. */
  startOperations(): void {
    const { prng, scenario } = this.context;
    for (let clientId = 0; clientId < this.context.clientCount; clientId++) {
      if (this.clientBusy[clientId] === true || !prng.chance(scenario.clientOperationProbabilityPerTick)) continue;
      const node = this.chooseNode();
      if (node === undefined) continue;
      const key = `k${prng.nextInt(this.context.keyCount)}`;
      const roll = prng.nextInt(10);
      if (roll < 3) this.startRead(clientId, node, key);
      else this.startWrite(clientId, node, key, roll < 6 ? 'put' : 'append');
    }
  }

  /** A random up node; most of the time the request is forwarded to the leader it knows. */
  private chooseNode(): SimNode | undefined {
    const up = [...this.context.nodes.values()].filter((node) => !node.retired && node.isUp);
    if (up.length === 0) return undefined;
    const node = this.context.prng.pick(up);
    const leader = this.context.nodes.get(node.leaderId);
    if (node.role !== 'leader' && leader?.isUp === true && this.context.prng.chance(0.9)) return leader;
    return node;
  }

  private startWrite(clientId: number, node: SimNode, key: string, kind: 'put' | 'append'): void {
    this.valueCounter++;
    const value = kind === 'put' ? `p${this.valueCounter}` : `a${this.valueCounter}.`;
    const operationId = this.invoke(clientId, { kind, key, value });
    const requestId = `w${operationId}`;
    const data = encodeKvCommand({ requestId, kind, key, value });
    let target = node;
    let result = target.request('propose', () => target.core$.propose(data));
    const redirect = this.redirectTarget(result);
    if (redirect !== undefined) {
      // The client follows the leader hint once, as a real client does.
      target = redirect;
      result = target.request('propose', () => target.core$.propose(data));
    }
    if (result instanceof Error) return this.finish(operationId, 'fail', `propose refused: ${result.code}`);
    const displaced = target.pendingWrites.get(result.index);
    // An earlier proposal at this index was truncated from this node's log, yet could
    // still commit through another leader holding it: its outcome is unknown.
    if (displaced !== undefined) this.finish(displaced.operationId, 'info', 'index reused after truncation');
    const { tick, step } = this.context.now();
    target.pendingWrites.set(result.index, { operationId, requestId, term: result.term, deadlineTick: tick + this.context.scenario.clientOperationTimeoutTicks });
    this.context.trace.record(step, 'propose', target.id, requestId, `i=${result.index}/${result.term}`);
  }

  /** The node a NOT_LEADER refusal points to, if it is up. */
  private redirectTarget(result: unknown): SimNode | undefined {
    if (!(result instanceof RaftError) || result.code !== 'NOT_LEADER' || result.leaderId === '') return undefined;
    const leader = this.context.nodes.get(result.leaderId);
    return leader?.isUp === true ? leader : undefined;
  }

  private startRead(clientId: number, node: SimNode, key: string): void {
    const operationId = this.invoke(clientId, { kind: 'get', key });
    if (this.context.plantedReadFault === 'read-without-read-index') {
      return this.finish(operationId, 'ok', node.machine$.get(key));
    }
    const readContext = encoder.encode(`r${operationId}`);
    let target = node;
    let result = target.request('readIndex', () => target.core$.readIndex(readContext));
    const redirect = this.redirectTarget(result);
    if (redirect !== undefined) {
      target = redirect;
      result = target.request('readIndex', () => target.core$.readIndex(readContext));
    }
    if (result instanceof Error) return this.finish(operationId, 'fail', `read refused: ${result.code}`);
    const read: PendingRead = { operationId, key, deadlineTick: this.context.now().tick + this.context.scenario.clientOperationTimeoutTicks, index: undefined };
    target.pendingReads.set(`r${operationId}`, read);
  }

  private invoke(clientId: number, input: KvInput): number {
    this.clientBusy[clientId] = true;
    const operationId = this.context.history.invoke(clientId, input);
    this.context.trace.record(this.context.now().step, 'invoke', `c${clientId}`, `#${operationId}`, input.kind, input.key, input.kind === 'get' ? '' : input.value);
    return operationId;
  }

  /** Complete an operation; `detail` is a get's value for a successful read, else a reason. */
  finish(operationId: number, outcome: 'ok' | 'fail' | 'info', detail: string): void {
    const history = this.context.history;
    const operation = history.openOperation(operationId);
    this.clientBusy[operation.clientId] = false;
    if (outcome === 'ok') history.ok(operationId, operation.input.kind === 'get' ? detail : null);
    if (outcome === 'fail') history.fail(operationId, detail);
    if (outcome === 'info') history.info(operationId, detail);
    this.context.trace.record(this.context.now().step, outcome, `#${operationId}`, detail);
    if (outcome !== 'ok') {
      const reasons = this.context.unsuccessfulOperationReasons;
      const reason = `${outcome}: ${detail.replace(/\d+/g, 'N')}`;
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
  }

  /** `node` applied `label` at `index`: settle the write its client proposed there, if any. */
  completeWrite(node: SimNode, index: number, label: string): void {
    const write = node.pendingWrites.get(index);
    if (write === undefined) return;
    node.pendingWrites.delete(index);
    // The entry committed at this index is unique: if it is not ours, ours never commits.
    if (write.requestId === label) this.finish(write.operationId, 'ok', '');
    else this.finish(write.operationId, 'fail', `index ${index} holds ${label || 'a no-op'}`);
  }

  /** A snapshot jumped `node` past these proposals: whether they are in it is unknown here. */
  abandonWritesCoveredBySnapshot(node: SimNode, snapshotIndex: number): void {
    for (const [index, write] of node.pendingWrites) {
      if (index > snapshotIndex) continue;
      node.pendingWrites.delete(index);
      this.finish(write.operationId, 'info', 'covered by a snapshot');
    }
  }

  /** Writes past their deadline end unknown; reads past theirs fail. */
  expire(): void {
    const tick = this.context.now().tick;
    for (const node of this.context.nodes.values()) {
      for (const [index, write] of node.pendingWrites) {
        if (tick < write.deadlineTick) continue;
        node.pendingWrites.delete(index);
        this.finish(write.operationId, 'info', 'timed out');
      }
      for (const [readKey, read] of node.pendingReads) {
        if (tick < read.deadlineTick) continue;
        node.pendingReads.delete(readKey);
        this.finish(read.operationId, 'fail', 'read timed out');
      }
    }
  }
}
