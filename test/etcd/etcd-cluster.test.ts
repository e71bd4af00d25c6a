/**
 * The etcd test cluster itself: three real members form a cluster, a value written through
 * one is read through another, a killed member comes back on its data and still has it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpTimeoutMs, waitFor } from '../cluster/harness.js';
import { EtcdCluster } from './etcd-cluster.js';

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

async function put(endpoint: string, key: string, value: string): Promise<number> {
  const answer = await fetch(`${endpoint}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: base64(key), value: base64(value) }),
    signal: AbortSignal.timeout(httpTimeoutMs),
  });
  return answer.status;
}

/**
 * A put that etcd may refuse while it elects a leader (503 when the killed member led):
 * retried until etcd accepts it, within waitFor's bound; any other status fails at once.
 */
async function putThroughElection(endpoint: string, key: string, value: string): Promise<void> {
  await waitFor(`etcd accepts a put through ${endpoint}`, async () => {
    const status = await put(endpoint, key, value);
    if (status === 200) return true;
    assert.equal(status, 503, `put through ${endpoint}`);
    return undefined;
  });
}

async function get(endpoint: string, key: string): Promise<string | undefined> {
  const answer = await fetch(`${endpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: base64(key) }),
    signal: AbortSignal.timeout(httpTimeoutMs),
  });
  const body = (await answer.json()) as { kvs?: Array<{ value?: string }> };
  const value = body.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

test('a 3-member etcd cluster on 127.0.2.N replicates, survives a kill -9 and restarts on its data', { timeout: 180_000 }, async () => {
  const cluster = await EtcdCluster.start({ size: 3 });
  try {
    assert.deepEqual(
      cluster.members.map((member) => member.host),
      ['127.0.2.1', '127.0.2.2', '127.0.2.3'],
    );
    assert.equal(await put(cluster.endpoint(0), 'k', 'v1'), 200);
    assert.equal(await get(cluster.endpoint(2), 'k'), 'v1');
    await cluster.kill(2);
    assert.equal(cluster.running(2), false);
    await putThroughElection(cluster.endpoint(1), 'k', 'v2');
    await cluster.restart(2);
    assert.equal(await get(cluster.endpoint(2), 'k'), 'v2');
  } finally {
    await cluster.close();
  }
});
