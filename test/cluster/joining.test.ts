/**
 * Joining as rqlited's -join does, on real processes: `--join` takes HTTP addresses as
 * well as Raft addresses; a join target that is down is retried (`--join-attempts`,
 * `--join-interval`) while the joiner serves HTTP and `/readyz` says not ready; attempts
 * spent end the process with a clear message; a node with state given --join sends the
 * join anyway (the same addresses: a no-op; new addresses: the cluster learns them and
 * reaches the node there); a one-node cluster with data refuses to join another cluster.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { TestCluster, cliPath, freePort, http, waitFor, type TestNode } from './harness.js';

/** Fast retries, many of them: the tests wait on conditions, not on the defaults. */
const patientJoin = ['--join-attempts', '200', '--join-interval', '250ms'];

function logEvents(node: TestNode, event: string, about: string): number {
  return node
    .log()
    .split('\n')
    .filter((line) => line.includes(`"event":"${event}"`) && line.includes(`"node":"${about}"`)).length;
}

async function readyzStatus(node: TestNode): Promise<number> {
  return (await http(`${node.url}/readyz`)).status;
}

interface NodeEntry {
  readonly id: string;
  readonly addr: string;
  readonly api_addr: string;
  readonly voter: boolean;
  readonly reachable: boolean;
}

async function nodeList(through: TestNode): Promise<NodeEntry[]> {
  const answer = await http(`${through.url}/nodes?nonvoters&ver=2`);
  return (answer.body as { nodes?: NodeEntry[] }).nodes ?? [];
}

function runCli(argv: readonly string[]): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [cliPath, ...argv], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, TZ: 'UTC' } });
  return { status: result.status, stderr: result.stderr };
}

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join', explicitNodeIds: true });
});

after(async () => {
  await cluster?.close();
});

test('a join target that is down is retried while the joiner serves HTTP and is not ready; it joins once the target is up', async () => {
  await cluster.withLogs(async () => {
    const [first, second] = [cluster.node(1), cluster.node(2)];
    second.start(['--join', first.url, ...patientJoin]);
    await waitFor('two failed join attempts on node 2', () => (second.log().split('"event":"join-retry"').length > 2 ? true : undefined));
    const status = await http(`${second.url}/status`);
    assert.equal(status.status, 200, 'HTTP serves while the node is joining');
    const readyz = await http(`${second.url}/readyz`);
    assert.equal(readyz.status, 503, readyz.text);
    assert.match(readyz.text, /leader/);
    first.start([]);
    await waitFor('node 2 ready after node 1 came up', async () => ((await readyzStatus(second)) === 200 ? true : undefined));
    await cluster.waitForMembers(2);
  });
});

test("a node joins through a follower's http:// address (forwarded to the leader) and replicates", async () => {
  await cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node.running && node !== leader);
    assert.ok(follower !== undefined);
    cluster.node(3).start(['--join', `${follower.url}/`, ...patientJoin]);
    await cluster.waitForMembers(3);
    const created = await cluster.node(3).execute(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', "INSERT INTO t(v) VALUES ('one')"], '?raft_index');
    assert.equal(created.status, 200, created.text);
    await cluster.waitForApplied((created.body as { raft_index: number }).raft_index);
  });
});

test('joining again with the same id and addresses is a no-op success', async () => {
  await cluster.withLogs(async () => {
    const third = cluster.node(3);
    const before = await nodeList(await cluster.waitForLeader());
    const noopsBefore = cluster.nodes.reduce((sum, node) => sum + logEvents(node, 'join-noop', third.id), 0);
    assert.equal(await third.terminate(), 0);
    third.start(['--join', cluster.node(1).url, ...patientJoin]);
    await waitFor('the leader answered the repeated join as a no-op', () =>
      cluster.nodes.reduce((sum, node) => sum + logEvents(node, 'join-noop', third.id), 0) > noopsBefore ? true : undefined,
    );
    await waitFor('node 3 says it joined twice', () => (third.log().split('"event":"joined"').length > 2 ? true : undefined));
    await cluster.waitForMembers(3);
    const after = await nodeList(await cluster.waitForLeader());
    const shape = (list: NodeEntry[]) => list.map((node) => `${node.id} ${node.addr} ${node.api_addr} ${node.voter}`).sort();
    assert.deepEqual(shape(after), shape(before), 'membership and addresses unchanged');
    assert.equal(
      cluster.nodes.reduce((sum, node) => sum + logEvents(node, 'join-moved', third.id), 0),
      0,
      'no address change was proposed',
    );
  });
});

test('a member restarted on new addresses keeps its identity; the cluster reaches it there, also after the leader dies', async () => {
  await cluster.withLogs(async () => {
    const third = cluster.node(3);
    assert.equal(await third.terminate(), 0);
    const oldRaftAddress = third.raftAddress;
    await third.moveToFreshPorts();
    const others = cluster.nodes.filter((node) => node !== third);
    third.start(['--join', others.map((node) => node.raftAddress).join(','), ...patientJoin]);
    await waitFor('every running node lists node 3 at its new address, reachable', async () => {
      for (const node of cluster.running()) {
        const entry = (await nodeList(node)).find((candidate) => candidate.id === third.id);
        if (entry?.addr !== third.raftAddress || entry.api_addr !== third.url || !entry.reachable || !entry.voter) return undefined;
      }
      return true;
    });
    assert.notEqual(third.raftAddress, oldRaftAddress);
    const leader = await cluster.waitForLeader();
    const written = await leader.execute(["INSERT INTO t(v) VALUES ('after the move')"], '?raft_index');
    assert.equal(written.status, 200, written.text);
    const index = (written.body as { raft_index: number }).raft_index;
    const read = await third.query("SELECT count(*) FROM t WHERE v = 'after the move'", `?level=none&min_index=${index}`);
    assert.deepEqual((read.body as { results: { values: number[][] }[] }).results[0]?.values, [[1]], read.text);
    // Kill the leader, or a follower if node 3 leads: the two left must agree over node 3's new address.
    const victim = leader === third ? others.find((node) => node !== leader) : leader;
    assert.ok(victim !== undefined);
    await victim.kill();
    const survivors = cluster.running();
    assert.ok(survivors.includes(third));
    const next = await cluster.waitForLeader(survivors);
    const again = await next.execute(["INSERT INTO t(v) VALUES ('after the kill')"], '?raft_index');
    assert.equal(again.status, 200, again.text);
    await cluster.waitForApplied((again.body as { raft_index: number }).raft_index, survivors);
    await cluster.waitForConvergence(survivors);
  });
});

test('join attempts spent: the node exits 1 with a clear message', async () => {
  const scratch = await TestCluster.create({ size: 1, formation: 'join' });
  try {
    const node = scratch.node(1);
    const nowhere = `http://127.0.0.1:${await freePort('127.0.0.1')}`;
    const result = runCli([
      'serve',
      '--data-dir',
      node.dataDirectory,
      '--http-addr',
      `${node.spec.host}:${node.spec.httpPort}`,
      '--raft-addr',
      node.raftAddress,
      '--join',
      nowhere,
      '--join-attempts',
      '2',
      '--join-interval',
      '100ms',
    ]);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`failed to join cluster: could not join through ${nowhere} after 2 attempts`));
  } finally {
    await scratch.close();
  }
});

test("a one-node cluster with data given --join exits with rqlite's message; a malformed --join is a usage error", async () => {
  const single = await TestCluster.create({ size: 1, formation: 'join' });
  try {
    const node = single.node(1);
    node.start([]);
    await single.waitForLeader([node]);
    assert.equal((await node.execute(['CREATE TABLE kept (id INTEGER PRIMARY KEY)'])).status, 200);
    assert.equal(await node.terminate(), 0);
    const elsewhere = `127.0.0.1:${await freePort('127.0.0.1')}`;
    const flags = ['serve', '--data-dir', node.dataDirectory, '--http-addr', `${node.spec.host}:${node.spec.httpPort}`, '--raft-addr', node.raftAddress];
    const refused = runCli([...flags, '--join', elsewhere]);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /node is already a single-node cluster leader, joining a cluster is not permitted/);
    const malformed = runCli([...flags, '--join', 'ftp://127.0.0.1:4002']);
    assert.equal(malformed.status, 2, malformed.stderr);
    assert.match(malformed.stderr, /--join: invalid address "ftp:\/\/127\.0\.0\.1:4002"/);
    node.start([]);
    await single.waitForLeader([node]);
    const kept = await node.query("SELECT count(*) FROM sqlite_master WHERE name = 'kept'");
    assert.deepEqual((kept.body as { results: { values: number[][] }[] }).results[0]?.values, [[1]], 'the data is untouched');
  } finally {
    await single.close();
  }
});
