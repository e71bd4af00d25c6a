/**
 * The nodes' etcd client (src/server/etcd-client.ts) gives a call that reached a hung etcd
 * member the short deadline unless the call may move many keys' values. J10
 * (test/jepsen/FINDINGS.md): the forward scan for the log's end (etcd-reads.ts) reads
 * pages of up to 1,000 keys, and the client gave every range over one key the 5 s bulk
 * deadline — so a read barrier or a new leader's preparation that picked a member cut off
 * from the others hung 5 s, and writes stalled 5.9 s in CI's partition test. The same
 * held for a follower's apply fetching the few entries its watch had not delivered yet
 * (etcd-apply.ts): every such fetch was a 1,000-entry page, so a hung member cost it 5 s.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isBrokenCircuitError } from 'cockatiel';
import type { CallContext } from 'etcd3';
import { ConnectionPool } from 'etcd3/lib/connection-pool.js';
import { fetchEntries, fetchEntryCountMax, smallFetchEntryCountMax } from '../../src/node/etcd-apply.js';
import { encodeEntryValue, etcdKeys, logKey } from '../../src/node/etcd-keys.js';
import { readLastIndex } from '../../src/node/etcd-reads.js';
import { createEtcdClient, etcdBulkCallTimeoutMs, etcdCallDeadlineMs, etcdCallTimeoutMs } from '../../src/server/etcd-client.js';
import { type CuttingProxy, startCuttingProxy } from '../client/helpers/cutting-proxy.js';
import { freePort } from '../cluster/harness.js';
import { EtcdCluster } from './etcd-cluster.js';

const prefix = `/quorumlite-deadlines-${process.pid}`;
/** Past the short deadline, what the retry on a live member may take on a loaded machine; well under the bulk deadline. */
const retrySlackMs = 1_500;

function rangeContext(params: Record<string, unknown>): CallContext {
  return { service: 'KV', method: 'range', params, isStream: false } as unknown as CallContext;
}

test('the bulk deadline is for calls that may move many values; a page of keys alone gets the short one', () => {
  assert.equal(etcdCallDeadlineMs(rangeContext({ key: 'a', range_end: 'b', limit: 1000, keys_only: true })), etcdCallTimeoutMs, 'a page of keys');
  assert.equal(etcdCallDeadlineMs(rangeContext({ key: 'a', range_end: 'b', limit: 1, sort_order: 2, keys_only: true })), etcdCallTimeoutMs, 'the sorted read');
  assert.equal(etcdCallDeadlineMs(rangeContext({ key: 'a' })), etcdCallTimeoutMs, 'one key');
  assert.equal(etcdCallDeadlineMs(rangeContext({ key: 'a', range_end: 'b', limit: 1000 })), etcdBulkCallTimeoutMs, 'a page of entries');
  assert.equal(etcdCallDeadlineMs(rangeContext({ key: 'a', range_end: 'b', limit: smallFetchEntryCountMax })), etcdCallTimeoutMs, 'a small page of entries');
  assert.equal(etcdCallDeadlineMs(rangeContext({ key: 'a', range_end: 'b', limit: smallFetchEntryCountMax + 1 })), etcdBulkCallTimeoutMs, 'one entry more');
  assert.equal(etcdCallDeadlineMs(rangeContext({ key: 'a', range_end: 'b', limit: 1000, count_only: true })), etcdCallTimeoutMs, 'a count');
  const deleteRange = { service: 'KV', method: 'deleteRange', params: { key: 'a', range_end: 'b' }, isStream: false } as unknown as CallContext;
  assert.equal(etcdCallDeadlineMs(deleteRange), etcdBulkCallTimeoutMs, 'a delete of a range');
});

let etcd: EtcdCluster;

before(async () => {
  etcd = await EtcdCluster.start({ size: 3 });
});

after(async () => {
  ConnectionPool.deterministicOrder = false;
  for (const index of [0, 1, 2]) etcd?.resume(index);
  await etcd?.close();
});

async function writeEntries(keys: ReturnType<typeof etcdKeys>, count: number): Promise<void> {
  const writer = createEtcdClient(etcd.endpoints, undefined);
  try {
    for (let index = 1; index <= count; index += 1)
      await writer
        .put(logKey(keys, index))
        .value(encodeEntryValue(1, new Uint8Array([index])))
        .exec();
  } finally {
    writer.close();
  }
}

type EtcdClient = ReturnType<typeof createEtcdClient>;

/**
 * Runs `body` with a client whose calls try a SIGSTOPped member first (with a
 * deterministic order the pool tries the hosts from the last), then resumes it.
 */
async function withHungMember<Value>(body: (client: EtcdClient) => Promise<Value>): Promise<Value> {
  const hung = 2;
  etcd.pause(hung);
  ConnectionPool.deterministicOrder = true;
  const client = createEtcdClient(etcd.endpoints, undefined);
  try {
    return await body(client);
  } finally {
    client.close();
    ConnectionPool.deterministicOrder = false;
    etcd.resume(hung);
  }
}

/**
 * Runs `call` with a client whose first try goes to a hung member, and checks it took the
 * short deadline and a retry: at least the deadline (the hung member really was asked
 * first: the test shows what it claims), and well under the bulk one.
 */
function withHungMemberFirst<Value>(what: string, call: (client: EtcdClient) => Promise<Value>): Promise<Value> {
  return withHungMember(async (client) => {
    const startedMs = performance.now();
    const value = await call(client);
    const tookMs = performance.now() - startedMs;
    assert.ok(tookMs >= etcdCallTimeoutMs - 50, `${what} answered in ${Math.round(tookMs)} ms: the hung member was not asked first`);
    assert.ok(
      tookMs < etcdCallTimeoutMs + retrySlackMs,
      `${what} waited ${Math.round(tookMs)} ms on the hung member (the bulk deadline is ${etcdBulkCallTimeoutMs} ms)`,
    );
    return value;
  });
}

test("the log's end read forward, first from a hung member: the short deadline, then another member answers", async () => {
  const keys = etcdKeys(prefix);
  await writeEntries(keys, 5);
  assert.equal(await withHungMemberFirst('the read', (client) => readLastIndex(client, keys, 1)), 5);
});

test('the few entries a watch has not delivered, fetched first from a hung member: the short deadline, then another member answers', async () => {
  const keys = etcdKeys(`${prefix}-fetch`);
  await writeEntries(keys, 5);
  const entries = await withHungMemberFirst('the fetch', (client) => fetchEntries(client, keys, 3, 3));
  assert.deepEqual(
    entries.map((entry) => entry.index),
    [3, 4, 5],
  );
});

// J11 (test/jepsen/FINDINGS.md): the member's breaker needed three failures in a row, so each call that picked the
// hung member waited the whole deadline again; after an append hung, the leader key's read and the log's end's read
// each picked it by chance, and writes stalled 5.7 s.
test('after one call ran to its deadline on a hung member, the next calls skip it and answer from another member at once', async () => {
  const keys = etcdKeys(`${prefix}-skip`);
  await writeEntries(keys, 3);
  // Every call asks the hung member first.
  await withHungMember(async (client) => {
    let startedMs = performance.now();
    assert.equal(await readLastIndex(client, keys, 1), 3);
    const firstMs = performance.now() - startedMs;
    assert.ok(firstMs >= etcdCallTimeoutMs - 50, `the first read answered in ${Math.round(firstMs)} ms: the hung member was not asked first`);
    for (const call of ['second', 'third']) {
      startedMs = performance.now();
      assert.equal(await readLastIndex(client, keys, 1), 3);
      const tookMs = performance.now() - startedMs;
      assert.ok(tookMs < etcdCallTimeoutMs / 2, `the ${call} read waited ${Math.round(tookMs)} ms: it asked the hung member again`);
    }
  });
});

/**
 * Forwards every connection to `port` on 127.0.0.1 to etcd's first member. Its close()
 * ends every connection: a closed etcd client can leave its own open (grpc-js keeps it in
 * its pool), and a server that waited for it to end waited forever.
 */
function forwardToFirstMember(port: number): Promise<CuttingProxy> {
  const target = new URL(etcd.endpoint(0));
  return startCuttingProxy(target.hostname, Number(target.port), port);
}

// J11: the first fix skipped every member while etcd elected a leader, and a call that then found every member skipped
// failed at once (BrokenCircuitError), so the leader's preparation waited for its next poll. A skip lasts a second; the
// client's retry policy now waits it out.
test('a call that finds every member skipped is retried until one is tried again, instead of failing at once', async () => {
  const port = await freePort('127.0.0.1');
  const clock = { ms: 0 };
  // One member, nothing listening yet: refusals skip it (the breaker's clock stands still, so the skip does not end by itself).
  const client = createEtcdClient([`127.0.0.1:${port}`], undefined, { now: () => clock.ms });
  let forwarder: CuttingProxy | undefined;
  try {
    await assert.rejects(client.get('j11').string(), (error: unknown) => !isBrokenCircuitError(error), 'refused: the member is unavailable');
    forwarder = await forwardToFirstMember(port);
    // Every member is skipped now. The skip ends before any retry can run (a retry waits at least a timer's turn).
    const answer = client.get('j11').string();
    setTimeout(() => (clock.ms += 1_000), 0);
    assert.equal(await answer, null, 'the call was answered by the member tried again');
  } finally {
    client.close();
    // It waited forever, 1 run in 6, for the closed client's connection to end (CI's run of 0d2757b hung here past 90 min).
    await forwarder?.close();
  }
});

test(`a fetch missing at most ${smallFetchEntryCountMax} entries reads a page that size; one more, ${fetchEntryCountMax}`, async () => {
  const keys = etcdKeys(`${prefix}-page`);
  await writeEntries(keys, 20);
  const client = createEtcdClient(etcd.endpoints, undefined);
  try {
    const atBound = await fetchEntries(client, keys, 1, smallFetchEntryCountMax);
    assert.equal(atBound.length, smallFetchEntryCountMax, 'at the bound: the small page');
    assert.equal((await fetchEntries(client, keys, 1, smallFetchEntryCountMax + 1)).length, 20, 'past it: every entry there (the bulk page)');
    assert.equal((await fetchEntries(client, keys, 1, 1)).length, smallFetchEntryCountMax, 'the small page reads ahead of what is known');
  } finally {
    client.close();
  }
});
