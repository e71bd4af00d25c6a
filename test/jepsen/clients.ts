/**
 * The workload's clients: `concurrency` loops, each running one operation at a time
 * against "its" node (client i talks to member i mod n, as Jepsen binds clients to
 * nodes), recording every operation with its outcome. A client whose operation ended
 * 'info' may still have that operation in flight inside the cluster, so it continues
 * under a new process number (Jepsen's rule): one process never has two operations
 * that could overlap.
 */
import type { Prng } from '../sim/prng.js';
import { sleep, waitFor } from '../cluster/harness.js';
import { callNode } from './client.js';
import type { JepsenCluster } from './cluster.js';
import type { OperationRecord } from './history.js';
import type { Invocation, Workload } from './workload.js';

/** Pause after an error before the next operation, so a down node is not hammered. */
const backoffMsMin = 20;
const backoffMsMax = 120;
/** The process number of the final reads (never a client's). */
export const finalReadProcess = -1;

export interface ClientOptions {
  readonly concurrency: number;
  readonly operationTimeoutMs: number;
  readonly operationCountMax: number;
  readonly seed: number;
  readonly random: Prng;
  readonly now: () => number;
  readonly deadlineMs: number;
}

/** Runs one invocation and records it in `operations` (its id reserved at invocation, so ids follow invocation order). */
export async function runOne(
  workload: Workload,
  baseUrl: string,
  invocation: Invocation,
  process: number,
  operations: OperationRecord[],
  options: { timeoutMs: number; now: () => number; idempotencyPrefix: string },
): Promise<OperationRecord> {
  const id = operations.length + 1;
  const placeholderIndex = operations.length;
  const invokeMs = options.now();
  // Reserve the id at invocation so ids increase in invocation order.
  operations.push(undefined as unknown as OperationRecord);
  const completion = await workload.invoke(baseUrl, invocation, options.timeoutMs, `${options.idempotencyPrefix}-${id}`);
  const record: OperationRecord = {
    id,
    process,
    f: invocation.f,
    input: invocation.input,
    outcome: completion.outcome,
    ...(completion.outcome === 'ok' ? { output: completion.output } : {}),
    invokeMs,
    completeMs: options.now(),
    node: baseUrl,
    ...(completion.error === undefined ? {} : { error: completion.error }),
    ...(invocation.level === undefined ? {} : { level: invocation.level }),
  };
  operations[placeholderIndex] = record;
  return record;
}

export async function runClients(cluster: JepsenCluster, workload: Workload, operations: OperationRecord[], options: ClientOptions): Promise<void> {
  const loops = Array.from({ length: options.concurrency }, async (_, client) => {
    const random = options.random.fork();
    let process = client;
    while (options.now() < options.deadlineMs && operations.length < options.operationCountMax) {
      const members = cluster.members;
      const node = members[client % Math.max(1, members.length)];
      if (node === undefined) {
        await sleep(backoffMsMax);
        continue;
      }
      const invocation = workload.nextInvocation(process, random);
      const record = await runOne(workload, node.url, invocation, process, operations, {
        timeoutMs: options.operationTimeoutMs,
        now: options.now,
        idempotencyPrefix: `jepsen-${options.seed}-${client}`,
      });
      if (record.outcome === 'info') process += options.concurrency;
      if (record.outcome !== 'ok') await sleep(random.nextIntBetween(backoffMsMin, backoffMsMax));
    }
  });
  await Promise.all(loops);
}

/** Runs the workload's schema through the leader, retrying within a bound. */
export async function runSetup(cluster: JepsenCluster, workload: Workload, timeoutMs: number): Promise<void> {
  await waitFor('the workload schema to be created through the leader', async () => {
    const leader = await cluster.leader();
    if (leader === undefined) return undefined;
    const outcome = await callNode(leader.url, { endpoint: 'execute', statements: workload.setupStatements, parameters: { transaction: '' }, timeoutMs });
    if (outcome.kind !== 'ok') throw new Error(outcome.error);
    return true;
  });
}

/** The workload's final reads, against the leader at `linearizable`, recorded in the history. */
export async function runFinalReads(
  cluster: JepsenCluster,
  workload: Workload,
  operations: OperationRecord[],
  options: { timeoutMs: number; now: () => number },
): Promise<void> {
  for (const invocation of workload.finalInvocations()) {
    // A leader can change between reads; ask again each time, and retry a read that failed.
    await waitFor(
      `final read ${JSON.stringify(invocation.input)}`,
      async () => {
        const leader = await cluster.leader();
        if (leader === undefined) return undefined;
        const record = await runOne(workload, leader.url, invocation, finalReadProcess, operations, { ...options, idempotencyPrefix: 'jepsen-final' });
        return record.outcome === 'ok' ? true : undefined;
      },
      60_000,
    );
  }
}
