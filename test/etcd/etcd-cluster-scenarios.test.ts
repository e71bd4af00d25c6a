/**
 * Cluster scenarios of the embedded Raft's tests, run unchanged on the etcd log
 * (`--consensus etcd`, real processes, a 1-member etcd: etcd's own faults are
 * etcd-failover.test.ts's): interactive transactions (concurrent increments, bank
 * transfers, forwarding from a follower, a leader killed with transactions open) from
 * interactive-transactions-scenario.ts, and linearizable follower reads (served by the
 * follower, redirect and strong by the leader, never stale across a leader kill) from
 * follower-reads-scenario.ts; then the core API scenarios: rqlite's SQL dialect
 * (dialect-scenario.ts), a forwarded read past its db_timeout (db-timeout-scenario.ts), bad
 * input and rqlite-js (api-scenario.ts), and the client's (real-cluster-scenario.ts: discovery,
 * SQL errors, the shell, exactly-once writes across a leader kill; a write whose answer is
 * cut is applied once: real-cluster-failover-scenario.ts). One cluster for all of them; killed nodes restart
 * between. Raft-only and why: dialect.test.ts's snapshot catch-up reads the embedded log's
 * compaction and `snapshot-installed` (the etcd log's is etcd-compaction-lag.test.ts's),
 * api.test.ts's `bootstrap` events are --bootstrap-expect's, and the --fk single node is a
 * cluster of its own (flags only, nothing of the log); real-cluster-failover.test.ts's min_index
 * read isolates a follower from its Raft peers (--test-faults-on-stdin, the embedded Raft's
 * transport), and its kill and SIGSTOP runs (2,000 writes each) are too slow for here.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient, type Client } from '../../src/client/index.js';
import { followerAnswersLinearizableReads, followerReadsAcrossLeaderKill } from '../cluster/follower-reads-scenario.js';
import { badInputLeavesDataUnchanged, everyNodeListedAsVoter, rqliteJsThroughFollower } from '../cluster/api-scenario.js';
import { forwardedStrongReadTimeout } from '../cluster/db-timeout-scenario.js';
import { doubleQuotedLiterals, foreignKeysOffWithoutFlag, sqliteMasterListsOnlyUserObjects } from '../cluster/dialect-scenario.js';
import { TestCluster, type TestNode } from '../cluster/harness.js';
import {
  bankTransfers,
  concurrentIncrements,
  followerForwardsTransactions,
  leaderKilledWithOpenTransactions,
} from '../cluster/interactive-transactions-scenario.js';
import {
  discoversAndWritesToLeader,
  everyWriteOnceAcrossLeaderKill,
  shellWorksAgainstCluster,
  sqlErrorsCarryStatementIndex,
} from '../client/real-cluster-scenario.js';
import { cutAnswerRetriedOnce } from '../client/real-cluster-failover-scenario.js';
import { EtcdCluster } from './etcd-cluster.js';

/** api-scenario.ts sends a body past this bound and wants 413. */
const bodyBytesMax = 65_536;
const prefix = `/quorumlite-scenarios-${process.pid}`;

let etcd: EtcdCluster;
let cluster: TestCluster;
let db: Client;
/** Clients the failover scenario creates, closed after. */
const tracked: Client[] = [];
/** The client real-cluster-scenario.ts creates (it discovers the cluster from a follower). */
let discovering: Client | undefined;

before(async () => {
  etcd = await EtcdCluster.start({ size: 1 });
  cluster = await TestCluster.create({
    size: 3,
    formation: 'etcd',
    etcd: { endpoints: etcd.endpoints, prefix },
    firstHostIndex: 11,
    flags: ['--http-max-body-bytes', String(bodyBytesMax)],
  });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
  await cluster.waitForLeader();
  db = createClient({ nodes: cluster.nodes.map((node) => node.url), retry: { initialDelayMs: 5, delayMsMax: 200 } });
});

after(async () => {
  for (const client of tracked) await client.close();
  await discovering?.close();
  await db?.close();
  await cluster?.close();
  await etcd?.close();
});

/** A node a scenario killed starts again on its data (the next scenario wants three). */
async function restartKilled(): Promise<void> {
  for (const node of cluster.nodes) if (!node.running) node.start(cluster.flagsFor(node));
  await cluster.waitForConvergence();
}

/**
 * The dialect scenarios list every user table and want only their own: the ones scenarios
 * before left go, on a cluster of three again. Returns its leader and a follower.
 */
async function emptyCluster(): Promise<{ leader: TestNode; follower: TestNode }> {
  await restartKilled();
  const leader = await cluster.waitForLeader();
  const tables = await leader.query("SELECT name FROM sqlite_master WHERE type = 'table'", '?level=strong');
  assert.equal(tables.status, 200, tables.text);
  const names = (tables.body as { results: { values?: unknown[][] }[] }).results[0]?.values ?? [];
  if (names.length > 0) {
    const dropped = await leader.execute(names.map(([name]) => `DROP TABLE "${String(name)}"`));
    assert.equal(dropped.status, 200, dropped.text);
  }
  await cluster.waitForConvergence();
  return { leader, follower: cluster.nodes.find((node) => node !== leader) as TestNode };
}

test('interactive transactions: 20 concurrent increments end at exactly 20', () => cluster.withLogs(() => concurrentIncrements(cluster, db)));

test('interactive transactions: concurrent bank transfers keep the total constant in every read', () => cluster.withLogs(() => bankTransfers(cluster, db)));

test('interactive transactions: a follower forwards every transaction call to the leader', () =>
  cluster.withLogs(() => followerForwardsTransactions(cluster, db)));

test('interactive transactions: a leader killed with transactions open aborts them, loses nothing, a retried commit applies once', () =>
  cluster.withLogs(async () => {
    await leaderKilledWithOpenTransactions(cluster, db);
    await restartKilled();
  }));

test('follower reads: a follower answers linearizable reads itself; redirect and strong go to the leader', () =>
  cluster.withLogs(async () => {
    // The transaction scenario's `events` table goes: these scenarios want their own, empty.
    const created = await (await cluster.waitForLeader()).execute(['DROP TABLE events', 'CREATE TABLE events (id INTEGER PRIMARY KEY)']);
    assert.deepEqual(
      (created.body as { results: { error?: string }[] }).results.map((result) => result.error),
      [undefined, undefined],
      created.text,
    );
    assert.equal(created.status, 200, created.text);
    await followerAnswersLinearizableReads(cluster);
  }));

test('follower reads: across a leader kill they fail or wait, never miss an acknowledged write', () =>
  cluster.withLogs(() => followerReadsAcrossLeaderKill(cluster)));

test('dialect: double-quoted string literals are strings unless they name a column, on the leader and on a follower', () =>
  cluster.withLogs(async () => {
    const { leader, follower } = await emptyCluster();
    await doubleQuotedLiterals(cluster, leader, follower);
  }));

test('dialect: foreign keys are off without --fk: a dangling reference is accepted, as in rqlite', () =>
  cluster.withLogs(async () => foreignKeysOffWithoutFlag(await cluster.waitForLeader())));

test('dialect: sqlite_master lists only user objects, and dropping every listed table succeeds', () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    await sqliteMasterListsOnlyUserObjects(cluster, leader, cluster.nodes.find((node) => node !== leader) as TestNode);
  }));

test('db_timeout: a forwarded strong read past its db_timeout is interrupted on the leader; one in time is unchanged', () =>
  cluster.withLogs(async () => {
    const { follower } = await emptyCluster();
    await forwardedStrongReadTimeout(cluster, follower);
  }));

test('api: a follower lists every node of the cluster as a voter', () =>
  cluster.withLogs(async () => {
    const { follower } = await emptyCluster();
    await everyNodeListedAsVoter(cluster, follower);
  }));

test('api: bad input gets a clear error and leaves the data unchanged on every node', () =>
  cluster.withLogs(async () => {
    const { leader, follower } = await emptyCluster();
    await badInputLeavesDataUnchanged(cluster, leader, follower, bodyBytesMax);
  }));

test('api: rqlite-js executes and queries with parameters through a follower', () =>
  cluster.withLogs(async () => {
    const { follower } = await emptyCluster();
    await rqliteJsThroughFollower(cluster, follower);
  }));

test('client: discovers the cluster from one follower and writes to the leader directly', () =>
  cluster.withLogs(async () => {
    await emptyCluster();
    await discoversAndWritesToLeader(cluster, (created) => {
      discovering = created;
    });
  }));

test('client: reports SQL errors with the statement index', () => cluster.withLogs(() => sqlErrorsCarryStatementIndex(discovering as Client)));

test('client: quorumlite shell works against the cluster: SQL, .nodes, .leader, .backup', () => cluster.withLogs(() => shellWorksAgainstCluster(cluster)));

test('client failover: a write whose answer is cut after the leader applied it is retried and applied exactly once', () =>
  cluster.withLogs(async () => {
    await emptyCluster();
    await cutAnswerRetriedOnce(cluster, (client) => {
      tracked.push(client);
      return client;
    });
  }));

test('client: applies every write exactly once while the leader is killed', () =>
  cluster.withLogs(() => everyWriteOnceAcrossLeaderKill(cluster, discovering as Client)));
