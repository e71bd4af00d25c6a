/**
 * rqlite users' SQL, unchanged, on real nodes: double-quoted string literals (rqlite's own
 * docs write `VALUES("fiona")`), read back on a follower; foreign keys off unless --fk
 * (rqlited's -fk); and quorumlite's internal state invisible — `SELECT name FROM
 * sqlite_master` lists only the user's objects and a teardown that drops every listed
 * table succeeds. A follower that catches up through a snapshot agrees on all of it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { doubleQuotedLiterals, foreignKeysOffWithoutFlag, results, sqliteMasterListsOnlyUserObjects, values } from './dialect-scenario.js';
import { TestCluster, waitFor, type TestNode } from './harness.js';
import { startLeaderAndFollower } from './leader-and-follower.js';

/** rqlite v10 writes error_v2 beside error, with SQLite's primary and extended result codes. */
const foreignKeyErrorV2 = { message: 'FOREIGN KEY constraint failed', sqlite: { code: 19, extended_code: 787 } };

let cluster: TestCluster;
let leader: TestNode;
let follower: TestNode;

before(async () => {
  // Small snapshots, so a follower that was down catches up through one (restore and migration).
  cluster = await TestCluster.create({
    size: 3,
    formation: 'bootstrap-expect',
    firstHostIndex: 61,
    flags: ['--raft-snap', '20', '--raft-snap-int', '200ms', '--raft-trailing-logs', '2'],
  });
  ({ leader, follower } = await startLeaderAndFollower(cluster));
});

after(async () => {
  await cluster?.close();
});

test('double-quoted string literals are strings unless they name a column, on the leader and on a follower', async () =>
  cluster.withLogs(() => doubleQuotedLiterals(cluster, leader, follower)));

test('foreign keys are off without --fk: a dangling reference is accepted, as in rqlite', async () =>
  cluster.withLogs(() => foreignKeysOffWithoutFlag(leader)));

test('sqlite_master lists only user objects, and dropping every listed table succeeds', async () =>
  cluster.withLogs(() => sqliteMasterListsOnlyUserObjects(cluster, leader, follower)));

test('a follower that was down catches up through a snapshot and agrees on content and schema', async () =>
  cluster.withLogs(async () => {
    const followerApplied = (await follower.raftStatus()).applied_index;
    await follower.kill();
    results(await leader.execute(['CREATE TABLE later (v TEXT)']));
    for (let batch = 0; batch < 30; batch += 1) results(await leader.execute([`INSERT INTO later(v) VALUES ("row ${batch}")`]));
    await waitFor('the leader compacted its log past the follower', async () => {
      const raft = ((await leader.status()).store as { raft: { first_log_index: number } }).raft;
      return raft.first_log_index > followerApplied + 1 ? true : undefined;
    });
    follower.start(cluster.flagsFor(follower));
    const converged = await cluster.waitForConvergence(cluster.nodes);
    assert.ok(converged.appliedIndex > 0);
    assert.match(follower.log(), /"event":"snapshot-installed"/);
    assert.deepEqual(values(await follower.query('SELECT name FROM sqlite_master', '?level=none')), [['later']]);
    assert.deepEqual(values(await follower.query('SELECT count(*), min(v) FROM later', '?level=none')), [[30, 'row 0']]);
    assert.deepEqual(values(await follower.query('PRAGMA integrity_check', '?level=none')), [['ok']]);
    assert.ok(existsSync(join(follower.dataDirectory, 'db.sqlite.internal')), 'the internal state lives beside the database');
  }));

test('with --fk a dangling reference is refused with SQLite’s error, also after a restart', async () => {
  const single = await TestCluster.create({ size: 1, formation: 'join', firstHostIndex: 64, flags: ['--fk'] });
  try {
    await single.withLogs(async () => {
      await single.start();
      const node = single.node(1);
      results(await node.execute(['CREATE TABLE parent (id INTEGER PRIMARY KEY)', 'CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))']));
      assert.deepEqual(results(await node.execute(['INSERT INTO child VALUES (99)'])), [
        { error: 'FOREIGN KEY constraint failed', error_v2: foreignKeyErrorV2 },
      ]);
      assert.deepEqual(values(await node.query('PRAGMA foreign_keys')), [[1]]);
      assert.deepEqual(values(await node.query('PRAGMA foreign_keys', '?db_timeout=30s')), [[1]]);
      assert.equal(await node.terminate(), 0);
      node.start(single.flagsFor(node));
      await single.waitForLeader();
      assert.deepEqual(results(await node.execute(['INSERT INTO parent VALUES (1)', 'INSERT INTO child VALUES (1)', 'INSERT INTO child VALUES (98)'])), [
        { last_insert_id: 1, rows_affected: 1 },
        { last_insert_id: 1, rows_affected: 1 },
        { error: 'FOREIGN KEY constraint failed', error_v2: foreignKeyErrorV2 },
      ]);
    });
  } finally {
    await single.close();
  }
});
