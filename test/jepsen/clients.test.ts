/** The clients' bounds: the history stops at operationCountMax, however many clients race for the last places. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../sim/prng.js';
import { runClients } from './clients.js';
import type { JepsenCluster } from './cluster.js';
import type { OperationRecord } from './history.js';
import type { Workload } from './workload.js';

function instantWorkload(outcome: 'ok' | 'info'): Workload {
  return {
    name: 'instant',
    setupStatements: [],
    nextInvocation: () => ({ f: 'write', input: { key: 1, value: 1 } }),
    invoke: async () => (outcome === 'ok' ? { outcome, output: {} } : { outcome, error: 'timeout' }),
    finalInvocations: () => [],
    check: () => ({ required: [], reported: [] }),
    finalChecks: () => [],
  };
}

const cluster = { members: [{ url: 'http://127.0.0.2:1' }, { url: 'http://127.0.0.3:1' }] } as unknown as JepsenCluster;

for (const operationCountMax of [1, 7, 500]) {
  test(`ten clients record exactly operationCountMax = ${operationCountMax} operations, ids 1..N in order`, async () => {
    const operations: OperationRecord[] = [];
    await runClients(cluster, instantWorkload('ok'), operations, {
      concurrency: 10,
      operationTimeoutMs: 1000,
      operationCountMax,
      seed: 1,
      random: new Prng(1),
      now: () => 0,
      deadlineMs: 1,
    });
    assert.equal(operations.length, operationCountMax);
    assert.deepEqual(
      operations.map((operation) => operation.id),
      Array.from({ length: operationCountMax }, (_, index) => index + 1),
    );
  });
}

test('after an info outcome a client continues under a new process number (its old operation may still be in flight)', async () => {
  const operations: OperationRecord[] = [];
  await runClients(cluster, instantWorkload('info'), operations, {
    concurrency: 2,
    operationTimeoutMs: 1000,
    operationCountMax: 6,
    seed: 1,
    random: new Prng(1),
    now: () => 0,
    deadlineMs: 1,
  });
  const processes = operations.map((operation) => operation.process);
  assert.equal(new Set(processes).size, processes.length, `a process number was reused: ${processes.join(',')}`);
  // Client i's numbers stay i modulo the concurrency: both clients are in the history, each under several numbers.
  assert.deepEqual(new Set(processes.map((process) => process % 2)), new Set([0, 1]));
});
