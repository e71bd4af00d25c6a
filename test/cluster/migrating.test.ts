/**
 * docs/MIGRATING.md promises that an rqlited systemd unit and an rqlite compose file run
 * quorumlite unchanged. These tests read the unit and the compose file out of that page
 * and run them: the unit's ExecStart through the `rqlited` command, each compose service's
 * command through docker/entrypoint.sh. Only what a machine gives differently is mapped:
 * the unit's 10.0.0.N and the compose host names become loopback addresses, and the data
 * directories temporary ones.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cliPath, http, TestNode, waitFor } from './harness.js';

const repositoryRoot = resolve(dirname(cliPath), '..', '..');
const migrating = readFileSync(join(repositoryRoot, 'docs', 'MIGRATING.md'), 'utf8');
const rqlitedPath = join(dirname(cliPath), 'rqlited.js');
const rqlitePath = join(dirname(cliPath), 'rqlite.js');
const entrypointPath = join(repositoryRoot, 'docker', 'entrypoint.sh');
/** Loopback hosts of these tests' own: rqlite's default ports 4001 and 4002 are used as written. */
const loopbackHost = (nodeNumber: number): string => `127.0.0.${30 + nodeNumber}`;

const roots: string[] = [];
const nodes: TestNode[] = [];

after(async () => {
  for (const node of nodes) await node.kill();
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function fenced(language: string): string {
  const match = new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``).exec(migrating);
  assert.ok(match?.[1] !== undefined, `docs/MIGRATING.md has a ${language} block`);
  return match[1];
}

function temporaryRoot(name: string): string {
  const root = mkdtempSync(join(tmpdir(), `quorumlite-migrating-${name}-`));
  roots.push(root);
  return root;
}

function newNode(root: string, nodeNumber: number): TestNode {
  const node = new TestNode({ index: nodeNumber, host: loopbackHost(nodeNumber), httpPort: 4001, raftPort: 4002 }, root, `node${nodeNumber}`);
  nodes.push(node);
  return node;
}

interface NodeEntry {
  readonly id: string;
  readonly voter: boolean;
  readonly reachable: boolean;
  readonly leader: boolean;
}

/** Three reachable voters with one leader, then a write through one node read back from another. */
async function checkCluster(cluster: readonly TestNode[], what: string): Promise<void> {
  const [first, , third] = cluster as [TestNode, TestNode, TestNode];
  await waitFor(`${what}: three reachable voters and a leader`, async () => {
    const list = ((await http(`${first.url}/nodes?ver=2`)).body as { nodes?: NodeEntry[] }).nodes ?? [];
    const ready = list.length === 3 && list.every((node) => node.voter && node.reachable) && list.some((node) => node.leader);
    return ready ? list : undefined;
  });
  // The leader's view is ahead of its followers' until they hear its first heartbeat: the write goes through node 3.
  await waitFor(`${what}: every node knows the leader`, async () => {
    const answers = await Promise.all(cluster.map((node) => http(`${node.url}/readyz`)));
    return answers.every((answer) => answer.status === 200) ? true : undefined;
  });
  const written = await third.execute(['CREATE TABLE IF NOT EXISTS moved (id INTEGER PRIMARY KEY, name TEXT)', "INSERT INTO moved(name) VALUES ('fiona')"]);
  assert.equal(written.status, 200, written.text);
  const read = await first.query('SELECT name FROM moved', '?level=strong');
  assert.deepEqual((read.body as { results: { values: unknown[][] }[] }).results[0]?.values, [['fiona']], read.text);
}

test("the systemd unit's ExecStart, as written, forms a three-node cluster through the rqlited command", async () => {
  const execStart = /^ExecStart=(.*)$/m.exec(fenced('ini'))?.[1];
  assert.ok(execStart !== undefined, 'the unit has an ExecStart line');
  const [program, ...unitArguments] = execStart.split(/\s+/);
  assert.equal(program, '/usr/local/bin/rqlited');
  const root = temporaryRoot('systemd');
  const cluster = [1, 2, 3].map((nodeNumber) => {
    const node = newNode(root, nodeNumber);
    // The other units differ only in -node-id and their listen addresses (as the page says).
    const nodeArguments = unitArguments
      .join(' ')
      .replace('-node-id node1', `-node-id node${nodeNumber}`)
      .replace(/-(http|raft)-addr 10\.0\.0\.1:/g, `-$1-addr 10.0.0.${nodeNumber}:`);
    const mapped = nodeArguments
      .replace(/10\.0\.0\.(\d)/g, (_, host: string) => loopbackHost(Number(host)))
      .replace('/var/lib/rqlite/data', node.dataDirectory)
      .split(' ');
    node.startProgram([process.execPath, rqlitedPath, ...mapped]);
    return node;
  });
  await checkCluster(cluster, 'systemd').catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.map((node) => readFileSync(node.logPath, 'utf8').slice(-3000)).join('\n')}`);
  });
  const version = spawnSync(process.execPath, [rqlitedPath, '-version'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
  assert.equal(version.status, 0, version.stderr);
  assert.match(version.stdout, /^quorumlite /);
  for (const node of cluster) assert.equal(await node.terminate(), 0, 'a SIGTERM (systemctl stop) ends the node cleanly');
});

test("the compose file's services, as written, form a cluster through the image's entrypoint", async () => {
  const compose = fenced('yaml');
  const services = [...compose.matchAll(/^ {2}(node\d):\n((?: {4}.*\n)+)/gm)].map((match) => {
    const body = match[2] ?? '';
    return { name: match[1] ?? '', hostname: /hostname: (\S+)/.exec(body)?.[1], command: /command: (.*)/.exec(body)?.[1] };
  });
  assert.equal(services.length, 3, 'three services');
  const root = temporaryRoot('compose');
  // What the image gives: `rqlited` on the PATH (the package's bin) and a host name per container.
  const bin = join(root, 'bin');
  const rqlited = join(bin, 'rqlited');
  mkdirSync(bin);
  writeFileSync(rqlited, `#!/bin/sh\nexec "${process.execPath}" "${rqlitedPath}" "$@"\n`);
  chmodSync(rqlited, 0o755);
  const hostFor = (name: string): string => loopbackHost(Number(name.replace('node', '')));
  const cluster = services.map((service, position) => {
    assert.ok(service.hostname !== undefined && service.command !== undefined, `${service.name} has a hostname and a command`);
    const node = newNode(root, position + 1);
    const host = hostFor(service.hostname);
    // Containers resolve each other's host names; here each name is its loopback address.
    const command = service.command.replace(/node(\d):/g, (_, digit: string) => `${loopbackHost(Number(digit))}:`).split(' ');
    node.startProgram(['sh', entrypointPath, ...command], {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      // Containers have addresses of their own; on one machine each listens on its loopback host.
      NODE_ID: service.hostname,
      HTTP_ADDR: `${host}:4001`,
      HTTP_ADV_ADDR: `${host}:4001`,
      RAFT_ADDR: `${host}:4002`,
      RAFT_ADV_ADDR: `${host}:4002`,
      DATA_DIR: node.dataDirectory,
    });
    return node;
  });
  await checkCluster(cluster, 'compose').catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.map((node) => readFileSync(node.logPath, 'utf8').slice(-3000)).join('\n')}`);
  });
  // The dump path of "Moving the data": `.restore` through the rqlite command (POST /db/load).
  const dump = join(root, 'dump.sql');
  writeFileSync(
    dump,
    [
      'PRAGMA foreign_keys=OFF;',
      'BEGIN TRANSACTION;',
      'CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT);',
      `INSERT INTO "foo" VALUES(1,'fiona');`,
      `INSERT INTO "foo" VALUES(2,'sinead');`,
      'COMMIT;',
      '',
    ].join('\n'),
  );
  const shell = spawnSync(process.execPath, [rqlitePath, '-H', loopbackHost(2), '-p', '4001'], {
    input: `.restore ${dump}\n`,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.match(shell.stdout, /\nlast inserted ID: 2\nrows affected: 1\nDatabase restored successfully\.\n/, `${shell.stdout}${shell.stderr}`);
  const read = await (cluster[0] as TestNode).query('SELECT id, name FROM foo ORDER BY id', '?level=strong');
  assert.deepEqual(
    (read.body as { results: { values: unknown[][] }[] }).results[0]?.values,
    [
      [1, 'fiona'],
      [2, 'sinead'],
    ],
    `${read.text}\n${shell.stdout}${shell.stderr}`,
  );
  for (const node of cluster) assert.equal(await node.terminate(), 0);
});
