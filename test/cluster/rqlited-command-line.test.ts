/**
 * Real processes started with rqlited command lines, as an operator's systemd units have
 * them: single-dash flags, `-flag=value`, booleans as `-fk=false`, the data directory
 * last. Three such nodes form a cluster through -join; each loads the same SQLite
 * extension from a different kind of -extensions-path (directory, zip, tar.gz) and a
 * replicated write calling it lands identically everywhere; -http-allow-origin answers
 * browsers; -auto-vacuum-int has every node VACUUM through the log; -raft-log-level gives
 * the Raft events their own level.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { TestCluster, cliPath, http, waitFor, type TestNode } from './harness.js';
import { buildHalfExtension, compilerMissing } from '../node/sqlite-extension-fixture.js';

const origin = 'https://console.example';
let cluster: TestCluster;
let extensionSources: string[] = [];

function hasZip(): boolean {
  return spawnSync('zip', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** The half() extension three ways: a directory, a zip (when `zip` exists) and a tar.gz. */
function prepareExtensions(root: string): string[] {
  mkdirSync(join(root, 'build'));
  const built = buildHalfExtension(join(root, 'build'));
  // Only extensions in the directory: rqlited (and quorumlite) load every file in it.
  const directory = join(root, 'extensions-directory');
  mkdirSync(directory);
  const library = join(directory, 'half.so');
  copyFileSync(built, library);
  const tarball = join(root, 'extensions.tar.gz');
  execFileSync('tar', ['czf', tarball, '-C', directory, 'half.so']);
  const zip = join(root, 'extensions.zip');
  if (hasZip()) execFileSync('zip', ['-q', '-j', zip, library]);
  return [directory, hasZip() ? zip : directory, tarball];
}

/** An rqlited-style command line: flags first, single dash, the data directory last. */
function rqlitedCommandLine(node: TestNode, extensions: string | undefined, extra: readonly string[]): string[] {
  // No -node-id: rqlited's default, the advertised Raft address (the harness knows nodes by it).
  return [
    '-http-addr',
    `${node.spec.host}:${node.spec.httpPort}`,
    '-raft-addr',
    node.raftAddress,
    '-fk=false',
    '-raft-snap=100',
    ...(extensions === undefined ? [] : [`-extensions-path=${extensions}`]),
    '-auto-vacuum-int=2s',
    ...extra,
    node.dataDirectory,
  ];
}

async function queryRows(node: TestNode, sql: string, level = 'none'): Promise<unknown[]> {
  const answer = await node.query(sql, `?level=${level}`);
  assert.equal(answer.status, 200, answer.text);
  const result = (answer.body as { results: { values?: unknown[]; error?: string }[] }).results[0];
  assert.equal(result?.error, undefined, answer.text);
  return result?.values ?? [];
}

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join', firstHostIndex: 2 });
  const skip = compilerMissing();
  extensionSources = skip === undefined ? prepareExtensions(cluster.rootDirectory) : [];
  const [first, second, third] = [cluster.node(1), cluster.node(2), cluster.node(3)];
  first.startCommandLine(rqlitedCommandLine(first, extensionSources[0], ['-http-allow-origin', origin, '-raft-log-level=INFO', '--log-level=warn']));
  await cluster.waitForLeader([first]);
  second.startCommandLine(rqlitedCommandLine(second, extensionSources[1], ['-join', first.raftAddress]));
  // rqlited 7's form: an http:// join address is the member's HTTP API (its /status names the Raft address).
  third.startCommandLine(rqlitedCommandLine(third, extensionSources[2], [`-join=${first.url}`]));
  await cluster.waitForMembers(3);
});

after(async () => {
  await cluster.close();
});

test('three nodes started with rqlited command lines form one cluster, with the flags in effect', async () => {
  await cluster.withLogs(async () => {
    for (const node of cluster.nodes) {
      const status = await node.status();
      const store = status.store as { node_id: string; dir: string; snapshot_store: { snapshot_threshold: number }; raft: { voters: string[] } };
      assert.equal(store.node_id, node.raftAddress);
      assert.equal(store.dir, node.dataDirectory, 'the positional data directory');
      assert.equal(store.snapshot_store.snapshot_threshold, 100, '-raft-snap=100');
      assert.deepEqual([...store.raft.voters].sort(), cluster.nodes.map((member) => member.raftAddress).sort());
    }
    const written = await cluster.node(3).execute(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', ['INSERT INTO t(v) VALUES (?)', 'through n3']]);
    assert.equal(written.status, 200, written.text);
    await cluster.waitForConvergence();
  });
});

test('the same extension loads on every node, from a directory, a zip and a tar.gz; a replicated write calling it agrees everywhere', {
  skip: compilerMissing(),
}, async () => {
  await cluster.withLogs(async () => {
    for (const node of cluster.nodes) {
      const status = await node.status();
      assert.deepEqual((status.extensions as { names: string[] }).names, ['half.so'], `node ${node.spec.index}`);
    }
    const written = await cluster
      .node(2)
      .execute(['CREATE TABLE halves (x REAL, h REAL GENERATED ALWAYS AS (half(x)) STORED)', ['INSERT INTO halves(x) VALUES (half(?))', 30]]);
    assert.equal(written.status, 200, written.text);
    assert.equal((written.body as { results: { error?: string }[] }).results[1]?.error, undefined, written.text);
    await cluster.waitForConvergence();
    for (const node of cluster.nodes) assert.deepEqual(await queryRows(node, 'SELECT x, h, half(1) FROM halves'), [[15, 7.5, 0.5]]);
    // Loading more from SQL stays refused: a write is refused in rqlite's shape (HTTP 200,
    // `{"results": [], "error": …}`), a query is an error result.
    const refusedWrite = await cluster.node(1).execute(["INSERT INTO halves(x) SELECT load_extension('/tmp/anything.so')"]);
    assert.equal(refusedWrite.status, 200, refusedWrite.text);
    assert.deepEqual((refusedWrite.body as { results: unknown[] }).results, [], refusedWrite.text);
    assert.match(refusedWrite.text, /load_extension is not allowed/);
    const refusedRead = await cluster.node(1).query("SELECT load_extension('/tmp/anything.so')");
    assert.match(refusedRead.text, /load_extension is not allowed/);
  });
});

test('-http-allow-origin sets Access-Control-Allow-Origin on every response, a node without it sets none', async () => {
  const withOrigin = await http(`${cluster.node(1).url}/status`, { headers: { origin } });
  assert.equal(withOrigin.headers.get('access-control-allow-origin'), origin);
  const preflight = await http(`${cluster.node(1).url}/db/query`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
  assert.equal(preflight.status, 200);
  assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
  const query = await http(`${cluster.node(1).url}/db/query?q=${encodeURIComponent('SELECT 1')}`, { headers: { origin } });
  assert.equal(query.headers.get('access-control-allow-origin'), origin);
  const without = await http(`${cluster.node(2).url}/status`, { headers: { origin } });
  assert.equal(without.headers.get('access-control-allow-origin'), null);
});

test('-auto-vacuum-int: every node vacuums at the same log index, leaving no free pages and identical content', async () => {
  await cluster.withLogs(async () => {
    const rows = Array.from({ length: 200 }, (_, row) => ['INSERT INTO t(v) VALUES (?)', `${row}-${'x'.repeat(400)}`]);
    assert.equal((await cluster.node(1).execute(rows)).status, 200);
    assert.equal((await cluster.node(1).execute(['DELETE FROM t WHERE id > 1'])).status, 200);
    await waitFor('every node has vacuumed (no free pages left)', async () => {
      for (const node of cluster.nodes) {
        const [row] = (await queryRows(node, 'PRAGMA freelist_count')) as number[][];
        if (row?.[0] !== 0) return undefined;
      }
      return true;
    });
    await cluster.waitForConvergence();
  });
});

test('-raft-log-level=INFO shows the Raft events at info while --log-level=warn hides the rest', () => {
  const log = cluster.node(1).log();
  assert.match(log, /"subsystem":"raft".*"raftEvent":"became-leader"|"raftEvent":"became-leader".*"subsystem":"raft"/);
  assert.doesNotMatch(log, /"event":"ready"/, 'the node-started line is info, below warn');
});

test('-version prints the version and exits 0; a refused rqlited flag exits 2 saying why', () => {
  const version = spawnSync(process.execPath, [cliPath, 'serve', '-version'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, /^quorumlite \d+\.\d+\.\d+ .* sqlite3\.\d+/);
  const refused = spawnSync(process.execPath, [cliPath, 'serve', '-raft-leader-lease-timeout=2s', '/tmp/never-created'], { encoding: 'utf8' });
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /-raft-leader-lease-timeout: not supported: quorumlite reads never rely on a leader lease/);
});
