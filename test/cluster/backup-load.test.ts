/**
 * Backups and loads on a real three-node cluster (built CLI, real processes): backups from
 * the leader and from a follower (forwarded to the leader, or this node's own with
 * `noleader`, or a 301 with `redirect`) in every format; a load sent to a follower
 * (forwarded), larger than one log entry, on every node at one index; a SQL dump, and one
 * with a failing statement that changes nothing anywhere; a follower killed (-9) in the
 * middle of a load, restarted, catching up; the leader killed in the middle of a load, its
 * successor aborting what it left staged; boot, refused on a cluster of three; snapshot
 * and reap on the node that received them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { loadChunkBytesMax } from '../../src/node/leader-load.js';
import { http, sleep, TestCluster, waitFor, type TestNode } from './harness.js';
import { writeDatabaseFile } from '../state-machine/database-file.js';

let cluster: TestCluster;
let scratch: string;

before(async () => {
  // Elections are not what these tests look at: a wider timeout keeps a machine busy with other tests from starting them.
  cluster = await TestCluster.create({ size: 3, formation: 'join', flags: ['--election-timeout-ms', '1500', '--heartbeat-ms', '150'] });
  scratch = join(cluster.rootDirectory, 'scratch');
  await cluster.start();
  mkdirSync(scratch, { recursive: true });
});

after(async () => {
  await cluster?.close();
});

async function roles(): Promise<{ leader: TestNode; followers: TestNode[] }> {
  const leader = await cluster.waitForLeader();
  return { leader, followers: cluster.running().filter((node) => node !== leader) };
}

/** A SQLite file of `megabytes` of rows in table `table`. */
function databaseFile(name: string, megabytes: number, table: string): { path: string; bytes: Buffer; rowCount: number } {
  const path = join(scratch, name);
  const rowCount = megabytes * 1000;
  return { path, bytes: writeDatabaseFile(path, rowCount, table), rowCount };
}

async function load(node: TestNode, body: Uint8Array | string, timeoutMs = 120_000): Promise<{ status: number; text: string }> {
  const response = await fetch(`${node.url}/db/load?timeout=120s`, { method: 'POST', body, signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, text: await response.text() };
}

async function countOn(node: TestNode, table: string): Promise<unknown> {
  const answer = await node.query(`SELECT count(*) FROM ${table}`, '?level=none');
  return (answer.body as { results: { values?: unknown[][]; error?: string }[] }).results[0]?.values?.[0]?.[0];
}

function stagedFiles(node: TestNode): string[] {
  return existsSync(node.dataDirectory) ? readdirSync(node.dataDirectory).filter((name) => name.includes('.load-') && !name.endsWith('.discarded')) : [];
}

describe('backups on three nodes', () => {
  before(async () => {
    const { leader } = await roles();
    const written = await leader.execute([
      'CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)',
      'CREATE TABLE b (w)',
      "INSERT INTO a(v) VALUES ('one')",
      'INSERT INTO b VALUES (2)',
    ]);
    assert.equal(written.status, 200, written.text);
    await cluster.waitForConvergence();
  });

  it('a follower forwards a backup to the leader; noleader serves its own; redirect answers 301', async () => {
    const { leader, followers } = await roles();
    const follower = followers[0] as TestNode;
    for (const query of ['', '?fmt=delete', '?vacuum', '?compress', '?fmt=sql', '?fmt=sql&tables=b', '?fmt=sql&compress']) {
      for (const [node, extra, servedBy] of [
        [leader, '', leader.raftAddress],
        [follower, '', leader.raftAddress],
        [follower, 'noleader', follower.raftAddress],
      ] as const) {
        const separator = query === '' ? '?' : '&';
        const url = `${node.url}/db/backup${query}${extra === '' ? '' : `${separator}${extra}`}`;
        const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
        assert.equal(response.status, 200, url);
        assert.equal(response.headers.get('x-rqlite-served-by'), servedBy, url);
        const raw = Buffer.from(await response.arrayBuffer());
        const bytes = query.includes('compress') ? gunzipSync(raw) : raw;
        if (query.includes('fmt=sql')) {
          const text = bytes.toString('utf8');
          assert.match(text, /^PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n/, url);
          assert.equal(text.includes('CREATE TABLE a '), !query.includes('tables=b'), url);
          assert.match(text, /CREATE TABLE b /, url);
          continue;
        }
        const journal = query.includes('delete') ? 1 : 2;
        assert.deepEqual([bytes[18], bytes[19], bytes.readUInt32BE(68)], [journal, journal, 0], url);
        const path = join(scratch, 'backup.db');
        writeFileSync(path, bytes);
        const copy = new Database(path, { readonly: true });
        assert.deepEqual(copy.prepare('SELECT name FROM sqlite_master ORDER BY name').pluck().all(), ['a', 'b'], url);
        copy.close();
        rmSync(path);
      }
    }
    const redirected = await http(`${follower.url}/db/backup?redirect`);
    assert.equal(redirected.status, 301);
    assert.equal(redirected.headers.get('location'), `${leader.url}/db/backup?redirect`);
  });
});

describe('loads on three nodes', () => {
  it('a file larger than one log entry, sent to a follower, is on every node at one index', async () => {
    const { followers } = await roles();
    const file = databaseFile('load.db', 10, 'loaded');
    assert.ok(file.bytes.length > 2 * loadChunkBytesMax, 'several chunks');
    const answer = await load(followers[0] as TestNode, file.bytes);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.text, '{"results":[]}');
    await cluster.waitForConvergence();
    for (const node of cluster.running()) {
      assert.equal(await countOn(node, 'loaded'), file.rowCount, node.url);
      assert.deepEqual(stagedFiles(node), [], node.url);
    }
  });

  it('a SQL dump goes through a follower; one with a failing statement changes nothing on any node', async () => {
    const { followers } = await roles();
    const follower = followers[1] as TestNode;
    const dump =
      "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT);\nINSERT INTO foo VALUES(1,'fiona');\nCOMMIT;\n";
    const answer = await load(follower, dump);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.text, '{"results":[{"last_insert_id":1,"rows_affected":1}]}');
    const before = await cluster.waitForConvergence();
    const failing = await load(follower, 'CREATE TABLE more (v);\nINSERT INTO missing VALUES (1);\n');
    assert.equal(failing.status, 200);
    assert.match(failing.text, /"error":"no such table: missing"/);
    await sleep(500);
    const afterwards = await cluster.waitForConvergence();
    assert.equal(afterwards.checksum, before.checksum, 'nothing applied anywhere');
    for (const node of cluster.running()) assert.equal(await countOn(node, 'foo'), 1);
  });

  it('a follower killed (-9) in the middle of a load catches up once restarted', async () => {
    const { leader, followers } = await roles();
    const victim = followers[0] as TestNode;
    const file = databaseFile('big.db', 40, 'big');
    const loading = load(leader, file.bytes);
    await waitFor('the victim to stage the load', () => (stagedFiles(victim).length > 0 ? true : undefined), 60_000);
    await victim.kill();
    const answer = await loading;
    assert.equal(answer.status, 200, answer.text);
    victim.start(cluster.flagsFor(victim));
    await cluster.waitForConvergence();
    assert.equal(await countOn(victim, 'big'), file.rowCount);
    assert.deepEqual(stagedFiles(victim), []);
  });

  it('the leader killed in the middle of a load: its successor aborts what it left staged, and snapshots go on', async () => {
    const { leader } = await roles();
    const file = databaseFile('orphan.db', 40, 'orphan');
    const loading = load(leader, file.bytes).catch((error: unknown) => ({ status: 0, text: String(error) }));
    const others = cluster.running().filter((node) => node !== leader);
    await waitFor('the followers to stage the load', () => (others.every((node) => stagedFiles(node).length > 0) ? true : undefined), 60_000);
    await leader.kill();
    const answer = await loading;
    assert.notEqual(answer.status, 200, 'the load did not complete');
    const successor = await cluster.waitForLeader(others);
    await waitFor('the staged load to be aborted', () => (others.every((node) => stagedFiles(node).length === 0) ? true : undefined), 60_000);
    for (const node of others) assert.match(String(await countOn(node, 'orphan')), /^undefined$/);
    const snapshot = await http(`${successor.url}/snapshot`, { method: 'POST' });
    assert.ok([200, 204].includes(snapshot.status), snapshot.text);
    leader.start(cluster.flagsFor(leader));
    await cluster.waitForConvergence();
  });
});

describe('boot, snapshot and reap on three nodes', () => {
  it('boot is refused: on a follower (not leader), on the leader (not single-node)', async () => {
    const { leader, followers } = await roles();
    const file = databaseFile('boot.db', 1, 'booted');
    const onFollower = await http(`${(followers[0] as TestNode).url}/boot`, { method: 'POST', body: file.bytes });
    assert.deepEqual([onFollower.status, onFollower.text], [503, 'not leader\n']);
    const onLeader = await http(`${leader.url}/boot`, { method: 'POST', body: file.bytes });
    assert.deepEqual([onLeader.status, onLeader.text], [503, 'not single-node\n']);
  });

  it('snapshot and reap act on the node that receives them', async () => {
    const { followers } = await roles();
    const follower = followers[0] as TestNode;
    await (await roles()).leader.execute(["INSERT INTO foo(name) VALUES ('snap')"]);
    await cluster.waitForConvergence();
    const taken = await http(`${follower.url}/snapshot?trailing_logs=0`, { method: 'POST' });
    assert.equal(taken.status, 200, taken.text);
    const raft = ((await follower.status()).store as { raft: { last_snapshot_index: number; applied_index: number } }).raft;
    assert.equal(raft.last_snapshot_index, raft.applied_index);
    const reaped = await http(`${follower.url}/reap`, { method: 'POST' });
    assert.equal(reaped.status, 200);
    assert.match(reaped.text, /^\{"snapshots_reaped":\d+,"wals_checkpointed":0\}$/);
  });
});
