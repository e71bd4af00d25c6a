/**
 * The etcd log in process: three quorumlite nodes (EtcdQuorumNode) on a real 3-member
 * etcd cluster. One leader holds the etcd leader key; writes on any node reach every
 * node's SQLite in order; reads at every level; an idempotent retry applies once; a
 * leader that stops is replaced; an append with a stale term is fenced off; compaction
 * deletes what every member applied, and a node that returns behind it catches up from a
 * copy of the leader's database.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { silentLogger, type NodeLogger } from '../../src/node/logger.js';
import { batchBytesMax, EtcdAppends } from '../../src/node/etcd-appends.js';
import { encodeCommand } from '../../src/state-machine/command-codec.js';
import { etcdKeys, logKey } from '../../src/node/etcd-keys.js';
import { EtcdQuorumNode } from '../../src/server/etcd-quorum-node.js';
import { freePort, http, waitFor } from '../cluster/harness.js';
import { EtcdCluster } from './etcd-cluster.js';

const host = '127.0.0.1';
const prefixBase = `/quorumlite-test-${process.pid}`;
let prefix = prefixBase;

interface Started {
  readonly node: EtcdQuorumNode;
  readonly url: string;
  readonly dataDirectory: string;
  readonly id: string;
}

/** ETCD_LOG_TEST_VERBOSE=1 prints the nodes' logs (when a test fails and the why is in them). */
function printingLogger(id: string): NodeLogger {
  const print = (fields: Record<string, unknown>, message: string): void => console.error(id, message, JSON.stringify(fields));
  return { debug: print, info: print, warn: print, error: print };
}

let etcd: EtcdCluster;
const directories: string[] = [];
const running = new Set<Started>();

/** Each test's cluster under its own prefix: a node a failed test left running leads nothing here. */
function usePrefix(name: string): void {
  prefix = `${prefixBase}/${name}`;
}

async function startNode(id: string, dataDirectory?: string): Promise<Started> {
  const raft = `${host}:${await freePort(host)}`;
  const httpPort = await freePort(host);
  const directory = dataDirectory ?? mkdtempSync(join(tmpdir(), 'quorumlite-etcd-log-'));
  if (dataDirectory === undefined) directories.push(directory);
  const node = await EtcdQuorumNode.start(
    {
      nodeId: id,
      raftAdvertisedAddress: raft,
      apiAdvertisedAddress: `${host}:${httpPort}`,
      dataDirectory: directory,
      httpListen: { host, port: httpPort },
      raftListen: raft,
      logger: process.env.ETCD_LOG_TEST_VERBOSE === undefined ? silentLogger : printingLogger(id),
      version: 'test',
      heartbeatMs: 200,
      electionTimeoutMs: 1000,
      snapshotThresholdEntries: 10,
      snapshotTrailingEntries: 0,
    },
    { endpoints: etcd.endpoints, prefix, leaseTtlSeconds: 2 },
  );
  const started = { node, url: `http://${host}:${httpPort}`, dataDirectory: directory, id };
  running.add(started);
  return started;
}

async function stopNode(started: Started, transferLeadership = false): Promise<void> {
  running.delete(started);
  await started.node.stop({ transferLeadership });
}

function leaderOf(nodes: readonly Started[]): Promise<Started> {
  return waitFor('a leader', () => nodes.find((started) => started.node.log.isLeader && nodes.every((other) => other.node.log.leaderId === started.id)));
}

async function execute(url: string, statements: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await http(`${url}/db/execute`, {
    method: 'POST',
    body: JSON.stringify(statements),
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: answer.status, body: answer.body as Record<string, unknown> };
}

async function count(url: string, level: string): Promise<unknown> {
  const answer = await http(`${url}/db/query?level=${level}&q=${encodeURIComponent('SELECT COUNT(*) FROM t')}`);
  assert.equal(answer.status, 200, answer.text);
  const results = (answer.body as { results: Array<{ values?: unknown[][]; error?: string }> }).results;
  assert.equal(results[0]?.error, undefined, answer.text);
  return results[0]?.values?.[0]?.[0];
}

before(async () => {
  etcd = await EtcdCluster.start({ size: 3 });
});

after(async () => {
  for (const started of [...running]) await stopNode(started).catch(() => undefined);
  await etcd?.close();
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

test('three nodes on etcd: one leader, writes from any node, reads at every level, idempotent retries', { timeout: 120_000 }, async () => {
  usePrefix('basics');
  const nodes = [await startNode('n1'), await startNode('n2'), await startNode('n3')];
  const leader = await leaderOf(nodes);
  const follower = nodes.find((started) => started !== leader) as Started;
  const created = await execute(leader.url, ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)']);
  assert.equal(created.status, 200, JSON.stringify(created.body));
  // A follower forwards to the leader; the answer says which index the write got.
  const forwarded = await execute(follower.url, [['INSERT INTO t (v) VALUES (?)', 'from a follower']]);
  assert.equal(forwarded.status, 200, JSON.stringify(forwarded.body));
  for (let value = 0; value < 20; value += 1) assert.equal((await execute(nodes[value % 3]!.url, [['INSERT INTO t (v) VALUES (?)', `v${value}`]])).status, 200);
  // The same idempotency key twice: the second answers the first's result and applies nothing.
  const key = { 'Idempotency-Key': 'etcd-log-once' };
  const first = await execute(leader.url, [['INSERT INTO t (v) VALUES (?)', 'once']], key);
  const again = await execute(follower.url, [['INSERT INTO t (v) VALUES (?)', 'once']], key);
  assert.equal(first.status, 200);
  assert.deepEqual(again.body.results, first.body.results);
  // linearizable on every node (a follower reads locally after its barrier); weak through the leader.
  for (const started of nodes) assert.equal(await count(started.url, 'linearizable'), 22);
  for (const started of nodes) assert.equal(await count(started.url, 'weak'), 22);
  await waitFor('every node applied', async () =>
    (await Promise.all(nodes.map((started) => count(started.url, 'none')))).every((value) => value === 22) ? true : undefined,
  );
  const nodesAnswer = await http(`${follower.url}/nodes`);
  assert.equal(nodesAnswer.status, 200);
  assert.deepEqual(Object.keys(nodesAnswer.body as object).sort(), ['n1', 'n2', 'n3']);
  for (const started of nodes) await stopNode(started);
});

test('a stopped leader is replaced; an append with the old term is fenced off', { timeout: 120_000 }, async () => {
  usePrefix('failover');
  const nodes = [await startNode('f1'), await startNode('f2'), await startNode('f3')];
  const leader = await leaderOf(nodes);
  const oldTerm = leader.node.log.position().term;
  await execute(leader.url, ['CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)']);
  await stopNode(leader, true);
  const rest = nodes.filter((started) => started !== leader);
  const next = await leaderOf(rest);
  assert.notEqual(next.id, leader.id);
  assert.ok(next.node.log.position().term > oldTerm);
  assert.equal((await execute(rest[0]!.url, [['INSERT INTO t (v) VALUES (?)', 'after failover']])).status, 200);
  // The fencing: this node's appends compare the leader key's create revision, so an append in the old term is refused.
  const client = new Etcd3({ hosts: etcd.endpoints });
  try {
    const keys = etcdKeys(prefix);
    const index = next.node.log.position().lastIndex + 1;
    const stale = new EtcdAppends({
      client,
      keys,
      logger: silentLogger,
      onAppended: () => assert.fail('a stale append succeeded'),
      onAppendFailed: () => undefined,
    });
    stale.lead(oldTerm, index - 1);
    await assert.rejects(stale.enqueue(new Uint8Array(0)).promise, /leadership lost/);
    assert.equal(await client.get(logKey(keys, index)).string(), null);
  } finally {
    client.close();
  }
  for (const started of rest) await stopNode(started);
});

// After an append whose outcome was unknown, the leader appends its next batch at the same index in the same term; the
// unanswered transaction may land there first. Matching by index and term alone answered the next write with the
// earlier one's results although the next write was never applied: an acknowledged write lost.
test('a proposal is answered only by its own command at its index, not by an earlier one of the same term that landed late', { timeout: 60_000 }, async () => {
  usePrefix('late-append');
  const client = new Etcd3({ hosts: etcd.endpoints });
  try {
    const keys = etcdKeys(prefix);
    let appendFailures = 0;
    const appends = new EtcdAppends({ client, keys, logger: silentLogger, onAppended: () => undefined, onAppendFailed: () => (appendFailures += 1) });
    const command = (sql: string, seed: bigint) =>
      encodeCommand({ statements: [{ sql, positional: [], named: {} }], transaction: false, timestampMs: 0, seed });
    const earlier = command('INSERT INTO t (v) VALUES (1)', 1n);
    const next = command('INSERT INTO t (v) VALUES (2)', 2n);
    // No leader key under this prefix: every transaction here fails its comparison; the entries come from applied() alone.
    const term = 7;
    appends.lead(term, 0);
    const proposal = appends.enqueue(next);
    // The watch delivers the earlier, unanswered append's entry at index 1 before this proposal's transaction answers.
    appends.applied({ index: 1, term, type: 'normal', data: earlier }, [{ kind: 'write', lastInsertId: 1, rowsAffected: 1 }]);
    await assert.rejects(proposal.promise, /another write of this leader/);
    await waitFor('the first transaction to answer', () => (appendFailures === 1 ? true : undefined));
    // A byte-identical command in its place has the same effect: it answers the proposal.
    appends.lead(term, 1);
    const same = appends.enqueue(next);
    appends.applied({ index: 2, term, type: 'normal', data: Uint8Array.from(next) }, [{ kind: 'write', lastInsertId: 2, rowsAffected: 1 }]);
    assert.equal((await same.promise).index, 2);
    await waitFor('the second transaction to answer', () => (appendFailures === 2 ? true : undefined));
  } finally {
    client.close();
  }
});

/** An INSERT of one text value whose encoded command is exactly `bytes` long. */
function commandOfSize(bytes: number): Uint8Array {
  const encode = (length: number) =>
    encodeCommand({
      statements: [{ sql: 'INSERT INTO t (v) VALUES (?)', positional: ['x'.repeat(length)], named: {} }],
      transaction: false,
      timestampMs: 0,
      seed: 1n,
    });
  const probeLength = bytes - 1024;
  const command = encode(probeLength + (bytes - encode(probeLength).byteLength));
  assert.equal(command.byteLength, bytes);
  return command;
}

test('an entry at the etcd log bound (1 MiB) is appended and applied on every node; one byte more is refused', { timeout: 120_000 }, async () => {
  usePrefix('entry-bound');
  const nodes = [await startNode('b1'), await startNode('b2'), await startNode('b3')];
  const leader = await leaderOf(nodes);
  assert.equal((await execute(leader.url, ['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'])).status, 200);
  const outcome = await leader.node.log.propose(commandOfSize(batchBytesMax), 60_000);
  assert.equal(outcome.results[0]?.kind, 'write', JSON.stringify(outcome.results[0]));
  for (const started of nodes) assert.equal(await count(started.url, 'linearizable'), 1);
  await assert.rejects(leader.node.log.propose(commandOfSize(batchBytesMax + 1), 60_000), (error: { code?: string; message?: string }) => {
    assert.equal(error.code, 'BAD_REQUEST');
    assert.match(error.message ?? '', /exceeds the entry bound of 1048576 bytes/);
    return true;
  });
  for (const started of nodes) assert.equal(await count(started.url, 'linearizable'), 1);
  for (const started of nodes) await stopNode(started);
});

test('compaction deletes what every member applied; a node back behind it catches up from a copy', { timeout: 120_000 }, async () => {
  usePrefix('compaction');
  const nodes = [await startNode('c1'), await startNode('c2'), await startNode('c3')];
  const leader = await leaderOf(nodes);
  await execute(leader.url, ['CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)']);
  await execute(leader.url, ['DELETE FROM t']);
  const away = nodes.find((started) => started !== leader) as Started;
  await stopNode(away);
  for (let value = 0; value < 30; value += 1) assert.equal((await execute(leader.url, [['INSERT INTO t (v) VALUES (?)', `c${value}`]])).status, 200);
  const third = nodes.find((started) => started !== leader && started !== away) as Started;
  await waitFor('the others applied', () => (third.node.log.appliedIndex === leader.node.log.appliedIndex ? true : undefined));
  // The stopped node's registration went with its lease: it holds nothing back.
  const snapshot = await http(`${leader.url}/snapshot`, { method: 'POST' });
  assert.ok(snapshot.status === 200 || snapshot.status === 204, snapshot.text);
  const first = await waitFor('compaction', async () => {
    await leader.node.log.snapshotNow(0);
    const position = leader.node.log.position();
    return position.firstIndex > away.node.log.appliedIndex + 1 ? position.firstIndex : undefined;
  });
  assert.ok(first > 1);
  const back = await startNode(away.id, away.dataDirectory);
  await waitFor('the returning node caught up', async () => ((await count(back.url, 'none')) === 30 ? true : undefined));
  assert.equal(await count(back.url, 'linearizable'), 30);
  for (const started of [...running]) await stopNode(started);
});
