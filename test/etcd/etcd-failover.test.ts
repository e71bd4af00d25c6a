/**
 * `quorumlite serve --consensus etcd` as real processes: three nodes on a real 3-member
 * etcd cluster. The HTTP API answers as with the embedded Raft (writes through any node,
 * every read level on every node, /db/request, idempotent retries); kill -9 of the leader
 * under writes loses no acknowledged write (the same scenario as failover.test.ts); a
 * leader paused past its lease is replaced, cannot append once it wakes (fencing: no
 * entry of its term lands after the next leader's), and carries on as a follower; etcd
 * members killed under writes — one (writes go on), then a majority — come
 * back and the cluster carries on with every acknowledged write.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeEntryValue, etcdKeys } from '../../src/node/etcd-keys.js';
import { killLeaderUnderWrites } from '../cluster/failover-scenario.js';
import { http, sleep, type TestCluster, waitFor, type TestNode } from '../cluster/harness.js';
import { type AcknowledgedWrite, writeInBackground } from './background-writer.js';
import type { EtcdCluster } from './etcd-cluster.js';
import { EtcdLogCluster } from './etcd-log-cluster.js';

const prefix = `/quorumlite-failover-${process.pid}`;
/** --etcd-lease-ttl: a paused leader loses the key this long after its last keep-alive. */
const leaseTtlSeconds = 2;

let etcdLog: EtcdLogCluster;
let etcd: EtcdCluster;
let cluster: TestCluster;

before(async () => {
  etcdLog = await EtcdLogCluster.start({ prefix, etcdSize: 3, flags: ['--etcd-lease-ttl', String(leaseTtlSeconds)] });
  ({ etcd, cluster } = etcdLog);
});

after(async () => {
  await etcdLog?.close();
});

function firstValues(answer: { body: unknown }): unknown[][] | undefined {
  return (answer.body as { results: { values?: unknown[][] }[] }).results[0]?.values;
}

test('the API on the etcd log: writes through any node, every read level on every node, /db/request, idempotent retries', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const created = await leader.execute(['CREATE TABLE fruit (id INTEGER PRIMARY KEY, name TEXT NOT NULL)']);
    assert.equal(created.status, 200, created.text);
    for (const node of cluster.nodes) {
      const written = await node.execute([['INSERT INTO fruit(name) VALUES (?)', `from ${node.spec.index}`]]);
      assert.equal(written.status, 200, written.text);
    }
    for (const node of cluster.nodes) {
      for (const level of ['weak', 'linearizable', 'strong']) {
        const answer = await node.query('SELECT count(*) FROM fruit', `?level=${level}`);
        assert.equal(answer.status, 200, `${level} on ${node.id}: ${answer.text}`);
        assert.deepEqual(firstValues(answer), [[3]], `${level} on ${node.id}`);
      }
    }
    await waitFor('none reads see every write', async () => {
      const counts = await Promise.all(cluster.nodes.map(async (node) => firstValues(await node.query('SELECT count(*) FROM fruit', '?level=none'))?.[0]?.[0]));
      return counts.every((count) => count === 3) ? true : undefined;
    });
    for (const node of [...cluster.nodes, cluster.nodes[0] as TestNode]) {
      const answer = await http(`${node.url}/db/execute`, {
        method: 'POST',
        body: JSON.stringify([['INSERT INTO fruit(name) VALUES (?)', 'quince']]),
        headers: { 'content-type': 'application/json', 'idempotency-key': 'quince-once' },
      });
      assert.equal(answer.status, 200, answer.text);
    }
    const quinces = await cluster.nodes[2]!.query("SELECT count(*) FROM fruit WHERE name = 'quince'", '?level=linearizable');
    assert.deepEqual(firstValues(quinces), [[1]]);
    const mixed = await http(`${cluster.nodes[1]!.url}/db/request`, {
      json: [['INSERT INTO fruit(name) VALUES (?)', 'fig'], ["SELECT count(*) FROM fruit WHERE name = 'fig'"]],
    });
    assert.equal(mixed.status, 200, mixed.text);
    const nodes = await http(`${cluster.nodes[2]!.url}/nodes?ver=2`);
    assert.equal((nodes.body as { nodes: unknown[] }).nodes.length, 3, nodes.text);
    await cluster.waitForConvergence();
  }));

test('kill -9 the leader under writes: a new leader, no acknowledged write lost, the old leader catches up', async () =>
  cluster.withLogs(() => killLeaderUnderWrites(cluster)));

/** Every entry in etcd's log, in index order, with the term (fencing token) that appended it. */
async function loggedTerms(): Promise<number[]> {
  const response = await etcdLog.client.getAll().prefix(etcdKeys(prefix).logPrefix).sort('Key', 'Ascend').exec();
  return response.kvs.map((kv) => decodeEntryValue(kv.value).term);
}

test('a leader paused past its lease is replaced, cannot append when it wakes, and rejoins as a follower', async () =>
  cluster.withLogs(async () => {
    const paused = await cluster.waitForLeader();
    const pid = paused.process?.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGSTOP');
    try {
      const others = cluster.running().filter((node) => node !== paused);
      const next = await cluster.waitForLeader(others);
      assert.notEqual(next.id, paused.id);
      const written = await others[0]!.execute([['INSERT INTO fruit(name) VALUES (?)', 'while paused']]);
      assert.equal(written.status, 200, written.text);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Awake, the old leader still believed it led until it heard otherwise: writes sent to it now
    // either reach the new leader or are refused; none is appended in its old term.
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const answer = await paused.execute([['INSERT INTO fruit(name) VALUES (?)', `after waking ${attempt}`]]);
      assert.ok(answer.status === 200 || answer.status === 503, `${answer.status} ${answer.text}`);
      await sleep(100);
    }
    const terms = await loggedTerms();
    for (let index = 1; index < terms.length; index += 1)
      assert.ok(terms[index]! >= terms[index - 1]!, `entry ${index + 1} has term ${terms[index]} after ${terms[index - 1]}`);
    const leader = await cluster.waitForLeader();
    assert.notEqual(leader.id, paused.id);
    const again = await paused.execute([['INSERT INTO fruit(name) VALUES (?)', 'through the follower']]);
    assert.equal(again.status, 200, again.text);
    await cluster.waitForConvergence(cluster.nodes);
  }));

/**
 * The etcd-member test writes as fast as the cluster answers (the more writes acknowledged,
 * the more a loss shows), each write waiting while etcd has no quorum (the harness's HTTP bound).
 */
const flatOut = { pace: 'flat-out', writeTimeoutMs: 'none' } as const;

function rowsOf(writes: readonly AcknowledgedWrite[]): string[] {
  return writes.map((write) => write.row);
}

test('etcd members killed under writes: one (writes go on), then a majority, restarted: the cluster carries on with every acknowledged write', async () =>
  cluster.withLogs(async () => {
    await cluster.waitForLeader();
    const writer = writeInBackground(cluster, 'etcd-fault', flatOut);
    await etcd.kill(0);
    const before = (await writer.stop()).length;
    const minority = writeInBackground(cluster, 'one etcd member down', flatOut);
    await sleep(2_000);
    const duringMinority = rowsOf(await minority.stop());
    assert.ok(duringMinority.length > 0, 'writes go on with one etcd member down');
    await etcd.kill(1);
    const noQuorum = writeInBackground(cluster, 'no etcd quorum', flatOut);
    await sleep(3_000);
    await etcd.restart(0);
    await etcd.restart(1);
    const afterRestart = rowsOf(await noQuorum.stop());
    await cluster.waitForLeader();
    const written = await cluster.nodes[0]!.execute([['INSERT INTO fruit(name) VALUES (?)', 'after etcd came back']]);
    assert.equal(written.status, 200, written.text);
    const present = firstValues(await cluster.nodes[1]!.query('SELECT name FROM fruit', '?level=linearizable'))?.map((row) => row[0]);
    const missing = [...duringMinority, ...afterRestart].filter((row) => !present?.includes(row));
    assert.deepEqual(missing, [], `acknowledged writes missing (${before} before the first kill)`);
    await cluster.waitForConvergence(cluster.nodes);
  }));

test('POST /leader on a follower: the leader resigns the etcd leader key and another voter takes it', async () =>
  cluster.withLogs(async () => {
    const before = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node !== before && node.running) as TestNode;
    const stepped = await http(`${follower.url}/leader?wait`, { method: 'POST', body: '' });
    assert.ok(stepped.status === 200 || stepped.status === 204, `${stepped.status} ${stepped.text}`);
    const after = await cluster.waitForLeader();
    assert.notEqual(after.id, before.id);
    const written = await follower.execute([['INSERT INTO fruit(name) VALUES (?)', 'after step-down']]);
    assert.equal(written.status, 200, written.text);
  }));
