/**
 * The simulated nodes' replicated state machine: a string key-value map with put and
 * append, and the membership as of the last applied entry (so a snapshot's data carries
 * the membership its entries made, which the simulator compares with the membership the
 * runtime labels the snapshot with). The transaction workload's commits apply here too
 * (transaction-command.ts), with the outcome recorded per idempotency key, in the
 * snapshot like the real dedup table. Apply is deterministic: the same entries give the
 * same map and the same fingerprint on every node.
 */
import assert from 'node:assert/strict';
import type { ConfChange, ConfState, Entry } from '../../src/raft/types.js';
import {
  applyTransactionCommand,
  decodeTransactionCommand,
  isTransactionCommand,
  type TransactionApplyOutcome,
  type TransactionFault,
} from './transaction-command.js';

export interface KvCommand {
  readonly requestId: string;
  readonly kind: 'put' | 'append';
  readonly key: string;
  readonly value: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeKvCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify([command.requestId, command.kind, command.key, command.value]));
}

export function decodeKvCommand(data: Uint8Array): KvCommand {
  const parsed: unknown = JSON.parse(decoder.decode(data));
  assert.ok(Array.isArray(parsed) && parsed.length === 4, 'a kv command is a 4-element array');
  const [requestId, kind, key, value] = parsed as unknown[];
  assert.ok(typeof requestId === 'string' && typeof key === 'string' && typeof value === 'string', 'kv command fields are strings');
  assert.ok(kind === 'put' || kind === 'append', `unknown kv command kind ${String(kind)}`);
  return { requestId, kind, key, value };
}

export function applyConfChange(confState: ConfState, change: ConfChange): ConfState {
  const voters = confState.voters.filter((id) => id !== change.nodeId);
  const learners = confState.learners.filter((id) => id !== change.nodeId);
  if (change.type === 'add-voter') voters.push(change.nodeId);
  if (change.type === 'add-learner') learners.push(change.nodeId);
  return { voters: voters.sort(), learners: learners.sort() };
}

export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  /**
   * The request id of a kv command, '' for a no-op, 'conf:<type>:<id>' for a membership
   * change, 'tx:<idempotency key>:<committed|conflict|duplicate>' for a transaction's commit.
   */
  readonly label: string;
  /** A transaction's commit: what its client is told (a duplicate answers the recorded outcome). */
  readonly transactionAnswer?: 'committed' | 'conflict';
}

/** The label of a transaction commit's entry. */
function transactionLabel(transactionId: string, outcome: TransactionApplyOutcome): string {
  return `tx:${transactionId}:${outcome}`;
}

/** Planted state-machine bugs, for the tests that show the checkers can fail. */
export type StateMachineFault = 'ignore-membership-changes' | 'double-appends';

export class KvStateMachine {
  /** A planted bug, if any (see planted-bugs.ts). */
  fault: StateMachineFault | undefined;
  /** A planted transaction bug, if any (see transaction-command.ts). */
  transactionFault: TransactionFault | undefined;

  private values = new Map<string, string>();
  /** Each transaction commit's outcome by idempotency key (the dedup table): a retried commit answers it. */
  private transactionOutcomes = new Map<string, 'committed' | 'conflict'>();
  private confStateValue: ConfState;
  private appliedIndexValue: number;
  private appliedTermValue: number;

  constructor(
    initialConfState: ConfState,
    private readonly decodeConfChange: (data: Uint8Array) => ConfChange,
    appliedIndex = 0,
    appliedTerm = 0,
  ) {
    this.confStateValue = initialConfState;
    this.appliedIndexValue = appliedIndex;
    this.appliedTermValue = appliedTerm;
  }

  get appliedIndex(): number {
    return this.appliedIndexValue;
  }

  get appliedTerm(): number {
    return this.appliedTermValue;
  }

  get confState(): ConfState {
    return this.confStateValue;
  }

  get(key: string): string {
    return this.values.get(key) ?? '';
  }

  /** Apply the next committed entry; entries must come in index order with no gaps. */
  apply(entry: Entry): AppliedEntry {
    assert.equal(
      entry.index,
      this.appliedIndexValue + 1,
      `apply of ${entry.index} after ${this.appliedIndexValue}: entries must be applied in order without gaps`,
    );
    this.appliedIndexValue = entry.index;
    this.appliedTermValue = entry.term;
    if (entry.type === 'conf-change') {
      const change = this.decodeConfChange(entry.data);
      if (this.fault !== 'ignore-membership-changes') this.confStateValue = applyConfChange(this.confStateValue, change);
      return { index: entry.index, term: entry.term, label: `conf:${change.type}:${change.nodeId}` };
    }
    if (entry.data.byteLength === 0) return { index: entry.index, term: entry.term, label: '' };
    if (isTransactionCommand(entry.data)) return this.applyTransaction(entry);
    const command = decodeKvCommand(entry.data);
    const previous = this.values.get(command.key) ?? '';
    const appended = this.fault === 'double-appends' ? command.value + command.value : command.value;
    this.values.set(command.key, command.kind === 'put' ? command.value : previous + appended);
    return { index: entry.index, term: entry.term, label: command.requestId };
  }

  private applyTransaction(entry: Entry): AppliedEntry {
    const command = decodeTransactionCommand(entry.data);
    const values = this.values;
    const target = {
      get: (key: string) => this.get(key),
      set: (key: string, value: string) => values.set(key, value),
      recordedOutcomes: this.transactionOutcomes,
    };
    const { outcome, answer } = applyTransactionCommand(target, command, this.transactionFault);
    return { index: entry.index, term: entry.term, label: transactionLabel(command.transactionId, outcome), transactionAnswer: answer };
  }

  /** The whole state, as a snapshot's data (transaction outcomes only once there are any: the key-value workload's bytes stay as they were). */
  snapshotData(): Uint8Array {
    const sorted = [...this.values.entries()].sort(([left], [right]) => (left < right ? -1 : 1));
    const state = { values: sorted, confState: this.confStateValue, index: this.appliedIndexValue, term: this.appliedTermValue };
    const transactions = [...this.transactionOutcomes.entries()].sort(([left], [right]) => (left < right ? -1 : 1));
    return encoder.encode(JSON.stringify(transactions.length === 0 ? state : { ...state, transactions }));
  }

  /** Replace the whole state with a snapshot's. */
  restore(data: Uint8Array, index: number, term: number): void {
    if (data.byteLength === 0) {
      // The bootstrap snapshot (index 0) carries no data.
      assert.equal(index, 0, `snapshot at ${index} has no data`);
      return;
    }
    const parsed = JSON.parse(decoder.decode(data)) as {
      values: [string, string][];
      confState: ConfState;
      index: number;
      term: number;
      transactions?: [string, 'committed' | 'conflict'][];
    };
    assert.equal(parsed.index, index, 'snapshot data and metadata disagree on the index');
    assert.equal(parsed.term, term, 'snapshot data and metadata disagree on the term');
    this.values = new Map(parsed.values);
    this.transactionOutcomes = new Map(parsed.transactions ?? []);
    this.confStateValue = parsed.confState;
    this.appliedIndexValue = index;
    this.appliedTermValue = term;
  }

  /** Replace the whole state with a snapshot's, whose data names its own index and term. */
  restoreFrom(data: Uint8Array): { readonly index: number; readonly term: number } {
    const { index, term } = JSON.parse(decoder.decode(data)) as { index: number; term: number };
    this.restore(data, index, term);
    return { index, term };
  }

  /** A digest of the whole state (keys, values, membership, applied index). */
  fingerprint(): string {
    return decoder.decode(this.snapshotData());
  }
}
