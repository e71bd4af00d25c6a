/**
 * The client scenarios of real-cluster.test.ts, shared with the etcd log's run
 * (test/etcd/etcd-cluster-scenarios.test.ts): the same assertions on a running 3-node
 * cluster with no table `items` or `ledger`, run in this order (each builds on the one
 * before; the last kills the leader).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, QuorumliteError, UndiciTransport, type Client, type HttpRequest } from '../../src/client/index.js';
import { cliPath, waitFor, type TestCluster } from '../cluster/harness.js';

function runShellProcess(hosts: string, script: string, home: string): { status: number | null; stdout: string; stderr: string } {
  const shellMain = fileURLToPath(new URL('../../src/cli/shell-main.ts', import.meta.url));
  // spawnSync: the shell runs on its own; the cluster is other processes.
  return spawnSync(process.execPath, ['--import', 'tsx', shellMain, '--style', 'sqlite3', '--host', hosts, '--command', script], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, HOME: home },
  });
}

/** Writes attempted while the leader is killed; each must apply exactly once. */
const failoverWriteCount = 40;

/**
 * Discovers the cluster from one follower and writes to the leader directly. `created`
 * gets the client (for the later scenarios, and for closing) as soon as it exists.
 */
export async function discoversAndWritesToLeader(cluster: TestCluster, created: (client: Client) => void): Promise<void> {
  const leader = await cluster.waitForLeader();
  const follower = cluster.running().find((node) => node !== leader);
  assert.ok(follower !== undefined);
  const client = createClient({ nodes: [follower.url], deadlineMs: 60_000 });
  created(client);
  const nodes = await client.nodes();
  assert.equal(nodes.length, 3);
  assert.equal(nodes.find((node) => node.leader)?.apiUrl, leader.url);
  await client.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, n INTEGER, b BLOB, label TEXT)');
  assert.equal(client.knownLeader, leader.url);
  const big = 9_223_372_036_854_775_807n;
  const written = await client.execute({
    sql: 'INSERT INTO items (n, b, label) VALUES (?, ?, :label)',
    args: [big, new Uint8Array([0, 1, 255])],
    named: { label: 'first' },
  });
  assert.equal(written.results[0]?.rowsAffected, 1);
  assert.ok((written.raftIndex ?? 0) > 0, 'the server reports raft_index');
  const read = await client.query('SELECT n, b, label FROM items', { consistency: 'none' });
  assert.deepEqual(read.results[0]?.rows, [{ n: big, b: new Uint8Array([0, 1, 255]), label: 'first' }]);
  const strong = await client.query('SELECT count(*) AS count FROM items', { consistency: 'linearizable' });
  assert.deepEqual(strong.results[0]?.rows, [{ count: 1 }]);
}

/** SQL errors carry the failing statement's index. */
export async function sqlErrorsCarryStatementIndex(client: Client): Promise<void> {
  const error = await client.execute(['INSERT INTO items (label) VALUES (1)', 'INSERT INTO missing VALUES (1)']).catch((caught: unknown) => caught);
  assert.ok(error instanceof QuorumliteError);
  assert.equal(error.code, 'SQL_ERROR');
  assert.equal(error.statementIndex, 1);
}

/** quorumlite shell works against the cluster: SQL, .nodes, .leader, .backup. */
export async function shellWorksAgainstCluster(cluster: TestCluster): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-shell-cluster-'));
  try {
    const hosts = cluster
      .running()
      .map((node) => node.url)
      .join(',');
    const script = [
      "INSERT INTO items (label) VALUES ('from shell');",
      '.mode csv',
      "SELECT label FROM items WHERE label = 'from shell';",
      '.nodes',
      '.leader',
    ].join('\n');
    const outcome = runShellProcess(hosts, script, directory);
    assert.equal(outcome.stderr, '');
    assert.equal(outcome.status, 0);
    assert.match(outcome.stdout, /^label\r\n"from shell"\r\n/);
    assert.match(outcome.stdout, /id +api_addr +addr +voter +reachable +leader/);
    assert.match(outcome.stdout, new RegExp(`${(await cluster.waitForLeader()).url}`));
    // The built CLI dispatches `quorumlite shell` to the same shell.
    const built = spawnSync(
      process.execPath,
      [
        cliPath,
        'shell',
        '--style',
        'sqlite3',
        '--host',
        hosts,
        '--mode',
        'csv',
        '--headers',
        'off',
        '--command',
        "SELECT label FROM items WHERE label = 'from shell'",
      ],
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, HOME: directory } },
    );
    assert.equal(built.stderr, '');
    assert.equal(built.stdout, '"from shell"\r\n');
    assert.equal(built.status, 0);
    // Backups: the file when the server has /db/backup, otherwise the server's error, clearly.
    const backupFile = join(directory, 'backup.db');
    const backup = runShellProcess(hosts, `.backup ${backupFile}`, directory);
    const probe = await fetch(`${(await cluster.waitForLeader()).url}/db/backup`);
    await probe.arrayBuffer();
    if (probe.status === 200) {
      assert.equal(backup.status, 0, backup.stderr);
      assert.equal(readFileSync(backupFile).subarray(0, 15).toString('latin1'), 'SQLite format 3');
    } else {
      assert.equal(backup.status, 1);
      assert.match(backup.stderr, new RegExp(`^Error: http://\\S+ answered HTTP ${probe.status}`));
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Every write applies exactly once while the leader is killed. */
export async function everyWriteOnceAcrossLeaderKill(cluster: TestCluster, client: Client): Promise<void> {
  await client.execute('CREATE TABLE ledger (id INTEGER PRIMARY KEY, k INTEGER UNIQUE)');
  const leader = await cluster.waitForLeader();
  // Counts write attempts and their keys, to show the kill forced retries.
  const attemptsByKey = new Map<string, number>();
  const transport = new UndiciTransport();
  const send = transport.send.bind(transport);
  transport.send = (request: HttpRequest) => {
    const key = request.headers['idempotency-key'];
    if (key !== undefined) attemptsByKey.set(key, (attemptsByKey.get(key) ?? 0) + 1);
    return send(request);
  };
  const writer = createClient({ nodes: cluster.running().map((node) => node.url), transport, deadlineMs: 60_000 });
  const writes: Promise<unknown>[] = [];
  for (let index = 0; index < failoverWriteCount; index += 1) {
    writes.push(writer.execute({ sql: 'INSERT INTO ledger (k) VALUES (?)', args: [index] }));
    if (index === failoverWriteCount / 4) await leader.kill();
    else await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const outcomes = await Promise.allSettled(writes);
  const failures = outcomes.filter((outcome) => outcome.status === 'rejected');
  await writer.close();
  assert.deepEqual(failures, [], 'every write succeeds after failover (the deadline allows an election)');
  assert.equal(attemptsByKey.size, failoverWriteCount);
  assert.ok(
    [...attemptsByKey.values()].some((count) => count > 1),
    'some writes were retried with their key',
  );
  const newLeader = await cluster.waitForLeader();
  assert.notEqual(newLeader, leader);
  await waitFor('the client to follow the new leader', async () => {
    await client.query('SELECT 1');
    return client.knownLeader === newLeader.url ? true : undefined;
  });
  const rows = await client.query<{ count: number; distinct_k: number }>('SELECT count(*) AS count, count(DISTINCT k) AS distinct_k FROM ledger', {
    consistency: 'linearizable',
  });
  assert.deepEqual(rows.results[0]?.rows, [{ count: failoverWriteCount, distinct_k: failoverWriteCount }]);
}
