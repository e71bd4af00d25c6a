/**
 * `/db/load?db=NAME` on real processes (docs/ARCHITECTURE.md, "Several databases"): a
 * SQLite file sent to a follower is forwarded to the leader, replicated in chunks and
 * swapped in as database NAME on every node, the other databases untouched; the leader
 * killed (-9) in the middle of a load of NAME leaves NAME wholly old on every node once
 * its successor aborts what it left staged, and snapshots go on. Queued writes
 * (`?queue&db=NAME`) sent to a follower reach the leader in batches of one database each.
 * The client creates, lists and drops databases (createDatabase, listDatabases, dropDatabase).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, isQuorumliteError } from '../../src/client/index.js';
import { http, TestCluster, waitFor, type TestNode } from './harness.js';
import { writeDatabaseFile } from '../state-machine/database-file.js';

let cluster: TestCluster;
let scratch: string;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join', firstHostIndex: 201, flags: ['--election-timeout-ms', '1500', '--heartbeat-ms', '150'] });
  scratch = join(cluster.rootDirectory, 'scratch');
  mkdirSync(scratch, { recursive: true });
  await cluster.start();
});

after(async () => {
  await cluster?.close();
});

/** A SQLite file of `megabytes` of rows in table `table`. */
function databaseFile(name: string, megabytes: number, table: string): { bytes: Buffer; rowCount: number } {
  const rowCount = megabytes * 1000;
  return { bytes: writeDatabaseFile(join(scratch, name), rowCount, table), rowCount };
}

async function load(node: TestNode, database: string, body: Uint8Array): Promise<{ status: number; text: string }> {
  const response = await fetch(`${node.url}/db/load?db=${database}&timeout=120s`, { method: 'POST', body, signal: AbortSignal.timeout(120_000) });
  return { status: response.status, text: await response.text() };
}

async function valueOn(node: TestNode, database: string, sql: string): Promise<unknown> {
  const answer = await node.query(sql, `?level=none&db=${database}`);
  const result = (answer.body as { results: { values?: unknown[][]; error?: string }[] }).results[0];
  return result?.values?.[0]?.[0] ?? result?.error;
}

/** The load files staged beside database `database`'s file on `node`. */
function stagedFiles(node: TestNode, database: string): string[] {
  const folder = join(node.dataDirectory, 'databases', database);
  return existsSync(folder) ? readdirSync(folder).filter((name) => name.includes('.load-') && !name.endsWith('.discarded')) : [];
}

test('a load of one database, through a follower, reaches every node; the others are untouched', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.running().find((node) => node !== leader) as TestNode;
    for (const name of ['a', 'b']) assert.equal((await leader.request(`/db/create?db=${name}`, { method: 'POST' })).status, 200);
    assert.equal((await leader.execute(['CREATE TABLE t (v)', "INSERT INTO t VALUES ('main')"])).status, 200);
    assert.equal((await leader.execute(['CREATE TABLE old (v)', "INSERT INTO old VALUES ('a')"], '?db=a')).status, 200);
    assert.equal((await leader.execute(['CREATE TABLE u (v)', "INSERT INTO u VALUES ('b')"], '?db=b')).status, 200);
    const file = databaseFile('a.db', 3, 'loaded');
    const answer = await load(follower, 'a', file.bytes);
    assert.equal(answer.status, 200, answer.text);
    const converged = await cluster.waitForConvergence();
    await cluster.waitForApplied(converged.appliedIndex);
    for (const node of cluster.running()) {
      assert.equal(await valueOn(node, 'a', 'SELECT count(*) FROM loaded'), file.rowCount);
      assert.match(String(await valueOn(node, 'a', 'SELECT count(*) FROM old')), /no such table: old/);
      assert.equal(await valueOn(node, 'main', 'SELECT v FROM t'), 'main');
      assert.equal(await valueOn(node, 'b', 'SELECT v FROM u'), 'b');
      assert.deepEqual(stagedFiles(node, 'a'), []);
    }
    assert.equal((await load(follower, 'nope', file.bytes)).status, 404);
  }));

test('the leader killed (-9) in the middle of a load of a: its successor aborts it, a stays wholly old everywhere, snapshots go on', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const others = cluster.running().filter((node) => node !== leader);
    const file = databaseFile('orphan.db', 40, 'orphan');
    const loading = load(leader, 'a', file.bytes).catch((error: unknown) => ({ status: 0, text: String(error) }));
    await waitFor('the followers to stage the load of a', () => (others.every((node) => stagedFiles(node, 'a').length > 0) ? true : undefined), 60_000);
    await leader.kill();
    const answer = await loading;
    assert.notEqual(answer.status, 200, 'the load did not complete');
    const successor = await cluster.waitForLeader(others);
    await waitFor('the staged load of a to be aborted', () => (others.every((node) => stagedFiles(node, 'a').length === 0) ? true : undefined), 60_000);
    for (const node of others) {
      assert.match(String(await valueOn(node, 'a', 'SELECT count(*) FROM orphan')), /no such table: orphan/);
      assert.equal(await valueOn(node, 'a', 'SELECT count(*) FROM loaded'), 3000);
    }
    const snapshot = await http(`${successor.url}/snapshot`, { method: 'POST' });
    assert.ok([200, 204].includes(snapshot.status), snapshot.text);
    leader.start(cluster.flagsFor(leader));
    await cluster.waitForConvergence();
    assert.equal(await valueOn(leader, 'a', 'SELECT count(*) FROM loaded'), 3000);
    assert.deepEqual(stagedFiles(leader, 'a'), []);
  }));

test('queued writes to two databases through a follower: each lands in its own database on every node', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.running().find((node) => node !== leader) as TestNode;
    assert.equal((await leader.execute(['CREATE TABLE queued (v)'], '?db=b')).status, 200);
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, position) =>
        position % 3 === 0
          ? follower.execute([['INSERT INTO t VALUES (?)', `queued-${position}`]], '?queue')
          : follower.execute([['INSERT INTO queued VALUES (?)', `queued-${position}`]], '?queue&db=b'),
      ),
    );
    for (const answer of answers) assert.equal(answer.status, 200, answer.text);
    const waited = await follower.execute([['INSERT INTO queued VALUES (?)', 'waited']], '?queue&wait&db=b');
    assert.equal(waited.status, 200, waited.text);
    assert.equal((await follower.execute(['INSERT INTO queued VALUES (1)'], '?queue&db=nope')).status, 404);
    const last = await leader.execute(["INSERT INTO t VALUES ('after-queue')"], '?raft_index');
    await cluster.waitForApplied((last.body as { raft_index: number }).raft_index);
    for (const node of cluster.running()) {
      assert.equal(await valueOn(node, 'main', "SELECT count(*) FROM t WHERE v LIKE 'queued-%'"), 10);
      assert.equal(await valueOn(node, 'b', "SELECT count(*) FROM queued WHERE v LIKE 'queued-%'"), 20);
      assert.equal(await valueOn(node, 'b', "SELECT count(*) FROM queued WHERE v = 'waited'"), 1);
    }
  }));

test('the client creates, lists and drops databases on a real cluster, with the answers a user branches on', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.running().find((node) => node !== leader) as TestNode;
    const client = createClient({ nodes: [follower.url], discoverNodes: false });
    const inC = createClient({ nodes: [follower.url], database: 'c', discoverNodes: false });
    try {
      const created = await client.createDatabase('c');
      assert.equal(created.database, 'c');
      assert.ok(created.raftIndex > 0);
      await assert.rejects(client.createDatabase('c'), (error: unknown) => {
        return isQuorumliteError(error) && error.httpStatus === 409 && error.serverCode === 'DB_CONFLICT';
      });
      await assert.rejects(client.createDatabase('-bad'), (error: unknown) => isQuorumliteError(error) && error.code === 'INVALID_ARGUMENT');
      const listed = await waitFor('the follower to list c', async () => {
        const list = await client.listDatabases();
        return list.databases.includes('c') ? list : undefined;
      });
      assert.deepEqual(listed.databases, ['main', 'a', 'b', 'c']);
      assert.equal(listed.countMax, 64);
      await inC.execute('CREATE TABLE k (v)');
      await inC.execute("INSERT INTO k VALUES ('in c')");
      const read = await inC.query<{ v: string }>('SELECT v FROM k', { consistency: 'strong' });
      assert.deepEqual(read.results[0]?.rows, [{ v: 'in c' }]);
      const dropped = await client.dropDatabase('c');
      assert.ok(dropped.raftIndex > created.raftIndex);
      await assert.rejects(client.dropDatabase('c'), (error: unknown) => isQuorumliteError(error) && error.httpStatus === 404);
      await assert.rejects(client.dropDatabase('main'), (error: unknown) => isQuorumliteError(error) && error.httpStatus === 400);
      await waitFor('the follower to drop c', async () => ((await client.listDatabases()).databases.includes('c') ? undefined : true));
    } finally {
      await client.close();
      await inC.close();
    }
  }));
