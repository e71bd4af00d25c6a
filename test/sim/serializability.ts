/**
 * The transaction workload's checker. A commit is one log entry, so the commit order is
 * the log order, and the history is serializable exactly when running the committed
 * transactions alone, one after another in log order, explains everything that was
 * observed. The checker replays the log against its own model of the protocol (written
 * apart from the replicas' code in transaction-command.ts, so a bug there cannot hide
 * itself) and demands:
 *
 * 1. Each entry was applied as the model applies it: committed only if every value it
 *    read is what the key held at that position, a conflict (nothing applied) otherwise,
 *    and a commit whose idempotency key already applied answered as a duplicate, never
 *    applied twice. The replicas report what they did in the entry's label.
 * 2. Each client was told the truth: a transaction acknowledged as committed (or as a
 *    conflict) has its first commit in the log with that outcome; one that failed (refused
 *    before the log) has no commit in the log; an unknown one is in the log at most once
 *    (rule 1). The log carries exactly the commit the client sent.
 * 3. Real time: a transaction answered before another was first proposed sits earlier in
 *    the log (strict serializability of the commits).
 * 4. Every node's state equals the model's at the node's applied index.
 * 5. On every node that applied the whole workload: the accounts sum to 0 (transfers move
 *    amounts) and each counter lies between its acknowledged increments and those plus
 *    the unknown ones; every committed read-only snapshot of the accounts sums to 0.
 */
import { accountKeys, counterKeys, type TransactionRecord } from './transaction-clients.js';
import { integerValue, type TransactionCommand, type TransactionWrite } from './transaction-command.js';

/** One transaction commit in the log, as first applied at `index`; `label` says what the replica did (kv-state-machine.ts). */
export interface LoggedCommit {
  readonly index: number;
  readonly label: string;
  readonly command: TransactionCommand;
}

/** A node's final state: its applied index and its values. */
export interface ReplicaState {
  readonly nodeId: string;
  readonly appliedIndex: number;
  get(key: string): string;
}

export type SerializabilityResult =
  | { readonly valid: true; readonly committed: number; readonly conflicts: number; readonly duplicates: number }
  | { readonly valid: false; readonly explanation: string };

interface ModelOutcome {
  readonly outcome: 'committed' | 'conflict';
  readonly index: number;
  /** Why it conflicted: the first read that no longer held. */
  readonly stale?: string;
}

class Inconsistency extends Error {}

export function checkSerializability(
  log: readonly LoggedCommit[],
  transactions: readonly TransactionRecord[],
  replicas: readonly ReplicaState[],
): SerializabilityResult {
  try {
    const replay = replayLog(log, replicas);
    checkClients(transactions, replay.outcomes, log);
    checkRealTime(transactions, replay.outcomes);
    checkReplicas(replicas, replay.statesAt);
    const lastIndex = log.reduce((highest, commit) => Math.max(highest, commit.index), 0);
    checkTotals(
      transactions,
      replicas.filter((replica) => replica.appliedIndex >= lastIndex),
    );
    const outcomes = [...replay.outcomes.values()];
    const committed = outcomes.filter((outcome) => outcome.outcome === 'committed').length;
    return { valid: true, committed, conflicts: outcomes.length - committed, duplicates: replay.duplicates };
  } catch (error) {
    if (error instanceof Inconsistency) return { valid: false, explanation: error.message };
    throw error;
  }
}

/** Rule 1, and the model's states at each replica's applied index (for rule 4). */
function replayLog(
  log: readonly LoggedCommit[],
  replicas: readonly ReplicaState[],
): { outcomes: Map<string, ModelOutcome>; statesAt: Map<number, ReadonlyMap<string, string>>; duplicates: number } {
  const values = new Map<string, string>();
  const outcomes = new Map<string, ModelOutcome>();
  const statesAt = new Map<number, ReadonlyMap<string, string>>();
  const pendingIndexes = [...new Set(replicas.map((replica) => replica.appliedIndex))].sort((left, right) => left - right);
  const captureBefore = (index: number): void => {
    while (pendingIndexes.length > 0 && (pendingIndexes[0] as number) < index) statesAt.set(pendingIndexes.shift() as number, new Map(values));
  };
  let duplicates = 0;
  for (const commit of [...log].sort((left, right) => left.index - right.index)) {
    captureBefore(commit.index);
    const { transactionId } = commit.command;
    const reported = commit.label.split(':')[2];
    const earlier = outcomes.get(transactionId);
    if (earlier !== undefined) {
      duplicates++;
      if (reported !== 'duplicate') {
        const first = `${transactionId} already ${earlier.outcome === 'committed' ? 'applied' : 'conflicted'} at entry ${earlier.index}`;
        throw new Inconsistency(`entry ${commit.index} was applied as ${reported}: ${first}; a retried commit must be answered from its recorded outcome`);
      }
      continue;
    }
    const stale = commit.command.reads.find(([key, value]) => (values.get(key) ?? '') !== value);
    const outcome: ModelOutcome =
      stale === undefined
        ? { outcome: 'committed', index: commit.index }
        : {
            outcome: 'conflict',
            index: commit.index,
            stale: `its read of ${stale[0]} saw ${show(stale[1])} but ${stale[0]} held ${show(values.get(stale[0]) ?? '')}`,
          };
    outcomes.set(transactionId, outcome);
    if (reported !== outcome.outcome) {
      const why = outcome.stale ?? 'every read it made still held';
      throw new Inconsistency(`entry ${commit.index} (${transactionId}) was applied as ${reported}, but at that position ${why}: it is a ${outcome.outcome}`);
    }
    if (outcome.outcome === 'committed') for (const write of commit.command.writes) values.set(write.key, modelWrite(values.get(write.key) ?? '', write));
  }
  captureBefore(Infinity);
  return { outcomes, statesAt, duplicates };
}

function modelWrite(current: string, write: TransactionWrite): string {
  return write.kind === 'put' ? write.value : String(integerValue(current) + write.delta);
}

/** Rule 2. */
function checkClients(transactions: readonly TransactionRecord[], outcomes: ReadonlyMap<string, ModelOutcome>, log: readonly LoggedCommit[]): void {
  const byId = new Map(transactions.map((transaction) => [transaction.transactionId, transaction]));
  for (const commit of log) {
    const sent = byId.get(commit.command.transactionId)?.command;
    if (sent === undefined || JSON.stringify(sent) !== JSON.stringify(commit.command)) {
      throw new Inconsistency(`entry ${commit.index} carries a commit of ${commit.command.transactionId} that its client never sent`);
    }
  }
  for (const transaction of transactions) {
    const { transactionId, outcome: told } = transaction;
    const model = outcomes.get(transactionId);
    if (told === 'fail' && model !== undefined) throw new Inconsistency(`${transactionId} failed before the log, yet its commit is at entry ${model.index}`);
    if (told !== 'committed' && told !== 'conflict') continue;
    if (model === undefined) throw new Inconsistency(`${transactionId} was acknowledged as ${told}, but no commit of it is in the log`);
    if (model.outcome !== told) {
      const why = model.stale ?? 'every read it made still held';
      throw new Inconsistency(`${transactionId} was acknowledged as ${told}, but at its log position (entry ${model.index}) ${why}: not serializable`);
    }
  }
}

/** Rule 3: what was answered before another transaction was first proposed sits earlier in the log. */
function checkRealTime(transactions: readonly TransactionRecord[], outcomes: ReadonlyMap<string, ModelOutcome>): void {
  const answered = transactions
    .filter((transaction) => transaction.outcome === 'committed' || transaction.outcome === 'conflict')
    .sort((left, right) => (left.answeredAt as number) - (right.answeredAt as number));
  const proposed = transactions
    .filter((transaction) => outcomes.has(transaction.transactionId))
    .sort((left, right) => (left.firstProposedAt as number) - (right.firstProposedAt as number));
  let latest: { transactionId: string; index: number } | undefined;
  let position = 0;
  for (const transaction of proposed) {
    while (position < answered.length && ((answered[position] as TransactionRecord).answeredAt as number) < (transaction.firstProposedAt as number)) {
      const before = answered[position++] as TransactionRecord;
      const index = (outcomes.get(before.transactionId) as ModelOutcome).index;
      if (latest === undefined || index > latest.index) latest = { transactionId: before.transactionId, index };
    }
    const index = (outcomes.get(transaction.transactionId) as ModelOutcome).index;
    if (latest !== undefined && index < latest.index) {
      const order = `${latest.transactionId} was answered before ${transaction.transactionId} was first proposed`;
      throw new Inconsistency(`${order}, yet ${transaction.transactionId} is at entry ${index}, before ${latest.index}`);
    }
  }
}

/** Rule 4. */
function checkReplicas(replicas: readonly ReplicaState[], statesAt: ReadonlyMap<number, ReadonlyMap<string, string>>): void {
  for (const replica of replicas) {
    const model = statesAt.get(replica.appliedIndex) as ReadonlyMap<string, string>;
    for (const key of [...accountKeys, ...counterKeys]) {
      const expected = model.get(key) ?? '';
      if (replica.get(key) !== expected) {
        const order = `the committed transactions up to ${replica.appliedIndex}, in log order, give ${show(expected)}`;
        throw new Inconsistency(`${replica.nodeId} at applied index ${replica.appliedIndex} holds ${key} = ${show(replica.get(key))}, but ${order}`);
      }
    }
  }
}

/** Rule 5, on the replicas that applied every commit. */
function checkTotals(transactions: readonly TransactionRecord[], complete: readonly ReplicaState[]): void {
  for (const transaction of transactions) {
    if (transaction.kind !== 'read-accounts' || transaction.outcome !== 'committed') continue;
    const sum = (transaction.command as TransactionCommand).reads.reduce((total, [, value]) => total + integerValue(value), 0);
    if (sum !== 0) throw new Inconsistency(`${transaction.transactionId} committed a snapshot of the accounts that sums to ${sum}, not 0`);
  }
  for (const replica of complete) {
    const sum = accountKeys.reduce((total, key) => total + integerValue(replica.get(key)), 0);
    if (sum !== 0) throw new Inconsistency(`${replica.nodeId}: the accounts sum to ${sum}; transfers keep the sum at 0`);
    for (const key of counterKeys) {
      const counting = transactions.filter((transaction) => transaction.command?.writes.some((write) => write.key === key) === true);
      const acknowledged = counting.filter((transaction) => transaction.outcome === 'committed').length;
      const unknown = counting.filter((transaction) => transaction.outcome === 'unknown' || transaction.outcome === undefined).length;
      const value = integerValue(replica.get(key));
      if (value < acknowledged || value > acknowledged + unknown) {
        const bounds = `${acknowledged} acknowledged increments and ${unknown} unknown ones allow ${acknowledged} to ${acknowledged + unknown}`;
        throw new Inconsistency(`${replica.nodeId}: counter ${key} is ${value}, but ${bounds}`);
      }
    }
  }
}

function show(value: string): string {
  return JSON.stringify(value);
}
