/**
 * The failover scenario of real-cluster-failover.test.ts that needs no fault of its own
 * (a proxy cuts one answer), shared with the etcd log's run
 * (test/etcd/etcd-cluster-scenarios.test.ts), and the checks both files use.
 */
import assert from 'node:assert/strict';
import { createClient, type Client } from '../../src/client/index.js';
import type { TestCluster } from '../cluster/harness.js';
import { startCuttingProxy } from './helpers/cutting-proxy.js';
import { recordingTransport, type AttemptLog } from './helpers/recording-transport.js';

/** Per call: room for an election on a loaded 2-core machine. */
export const callDeadlineMs = 60_000;

/** The writes that took more than one attempt. */
export function retriedWrites(log: AttemptLog): string[][] {
  return [...log.keysByWrite.values()].filter((keys) => keys.length > 1);
}

/** Every attempt of one write carried the same, present Idempotency-Key; no two writes share one. */
export function assertOneKeyPerWrite(log: AttemptLog): void {
  const allKeys = new Set<string>();
  for (const keys of log.keysByWrite.values()) {
    const [first] = keys;
    assert.ok(first !== undefined && first !== '', 'each write carries an Idempotency-Key');
    assert.ok(
      keys.every((key) => key === first),
      'every attempt of a write reuses its key',
    );
    assert.ok(!allKeys.has(first), 'no two writes share a key');
    allKeys.add(first);
  }
}

/**
 * A write whose answer is cut after the leader applied it is retried and applied exactly
 * once (table cut_answers). `track` closes the client after the test.
 */
export async function cutAnswerRetriedOnce(cluster: TestCluster, track: (client: Client) => Client): Promise<void> {
  const leader = await cluster.waitForLeader();
  const proxy = await startCuttingProxy(leader.spec.host, leader.spec.httpPort);
  try {
    const { transport, log } = recordingTransport();
    // Only the proxy is known: the retry goes through it again, this time uncut.
    const client = track(createClient({ nodes: [proxy.url], transport, discoverNodes: false, deadlineMs: callDeadlineMs }));
    await client.execute('CREATE TABLE cut_answers (k INTEGER NOT NULL)');
    const cut = proxy.cutNextResponse();
    const written = await client.execute({ sql: 'INSERT INTO cut_answers (k) VALUES (?)', args: [7] });
    assert.equal(written.results[0]?.rowsAffected, 1);
    assert.match((await cut).statusLine, /^HTTP\/1\.1 200 /, 'the leader answered (so it applied the write) before the cut');
    const reply = await client.query<{ count: number }>('SELECT count(*) AS count FROM cut_answers WHERE k = 7', { consistency: 'linearizable' });
    assert.deepEqual(reply.results[0]?.rows, [{ count: 1 }], 'applied once, not once per attempt');
    assert.equal(retriedWrites(log).length, 1, 'exactly one write was retried');
    assertOneKeyPerWrite(log);
    assert.ok(proxy.connectionCount() >= 2, 'the retry came on a new connection');
  } finally {
    await proxy.close();
  }
}
