/**
 * Lost-quorum recovery with raft/peers.json, on real processes (rqlite's "Recovering a
 * cluster that has permanently lost quorum"): a three-node cluster loses two nodes for
 * good; the survivor, restarted with a peers.json that lists only itself, becomes a
 * one-node cluster with every write the cluster acknowledged, takes writes, and new nodes
 * join it. A malformed peers.json refuses the start with exit code 3 and changes nothing.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { exitRefusedPeersFile } from '../../src/cli/serve.js';
import { peersFileBytesMax, peersInfoFileName, recoveryPeerCountMax } from '../../src/node/peers-file.js';
import { TestCluster, cliPath, http, waitFor, type TestNode } from './harness.js';

const clusters: TestCluster[] = [];

after(async () => {
  for (const cluster of clusters) await cluster.close();
});

async function createCluster(size: number, flags: readonly string[] = []): Promise<TestCluster> {
  const cluster = await TestCluster.create({ size, formation: 'join', flags });
  clusters.push(cluster);
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
  return cluster;
}

function peersFile(node: TestNode): string {
  return join(node.dataDirectory, 'raft', 'peers.json');
}

function writePeers(node: TestNode, text: string): void {
  writeFileSync(peersFile(node), text);
}

async function rowCount(node: TestNode): Promise<number> {
  const answer = await node.query('SELECT count(*) FROM items', '?level=none');
  assert.equal(answer.status, 200, answer.text);
  const value = (answer.body as { results: { values?: number[][] }[] }).results[0]?.values?.[0]?.[0];
  assert.equal(typeof value, 'number', answer.text);
  return value as number;
}

async function insertRows(leader: TestNode, label: string, count: number): Promise<void> {
  for (let row = 0; row < count; row += 1) {
    const answer = await leader.execute([['INSERT INTO items(payload) VALUES (?)', `${label} ${row}`]]);
    assert.equal(answer.status, 200, answer.text);
  }
}

test('the survivor of a cluster that lost two of three nodes recovers alone from peers.json with every acknowledged write', async () => {
  const snapshotFlags = ['--raft-snap', '40', '--raft-snap-int', '200ms', '--raft-trailing-logs', '8'];
  const cluster = await createCluster(3, snapshotFlags);
  await cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    assert.equal((await leader.execute(['CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT)'])).status, 200);
    await insertRows(leader, 'before', 60);
    const [survivor, lost] = cluster.nodes.filter((node) => node !== leader) as [TestNode, TestNode];
    // With one follower gone, every acknowledged write is on the leader and the survivor:
    // the survivor has them all in its log, though it may not have heard they committed.
    await lost.kill();
    await insertRows(leader, 'after', 30);
    await leader.kill();

    const refused = await survivor.execute([['INSERT INTO items(payload) VALUES (?)', 'no quorum']]);
    assert.notEqual(refused.status, 200, 'a node without a quorum takes no writes');
    assert.equal(await survivor.terminate(), 0);
    writePeers(survivor, JSON.stringify([{ id: survivor.id, address: survivor.raftAddress, non_voter: false }]));
    const logOffset = survivor.log().length;
    // Without its old -join list: recovered, it is a one-node cluster with data, which
    // refuses to join another (rqlited's rule; docs/OPERATIONS.md says to drop -join).
    survivor.start(snapshotFlags);

    assert.equal((await cluster.waitForLeader([survivor])).id, survivor.id);
    assert.equal(await rowCount(survivor), 90, 'every row the cluster acknowledged');
    assert.match(survivor.log().slice(logOffset), /"event":"recovered"/);
    assert.ok(!existsSync(peersFile(survivor)), 'peers.json is retired');
    assert.ok(existsSync(join(survivor.dataDirectory, 'raft', peersInfoFileName)), 'as peers.info');
    const written = await survivor.execute([['INSERT INTO items(payload) VALUES (?)', 'recovered']]);
    assert.equal(written.status, 200, written.text);

    // New nodes join the recovered cluster and receive everything.
    const joiners = [await cluster.addNodeSpec(), await cluster.addNodeSpec()];
    for (const joiner of joiners) joiner.start([...snapshotFlags, '--join', survivor.raftAddress]);
    const members = [survivor, ...joiners];
    await waitFor('three reachable voters on the recovered cluster', async () => {
      const answer = await http(`${survivor.url}/nodes?ver=2`);
      const list = (answer.body as { nodes?: { voter: boolean; reachable: boolean }[] }).nodes ?? [];
      return list.length === 3 && list.every((member) => member.voter && member.reachable) ? true : undefined;
    });
    await cluster.waitForConvergence(members);
    for (const member of members) assert.equal(await rowCount(member), 91);

    // peers.info never recovers again: a restart keeps the three-node membership.
    assert.equal(await survivor.terminate(), 0);
    const restartOffset = survivor.log().length;
    survivor.start(snapshotFlags);
    await cluster.waitForLeader(members);
    assert.doesNotMatch(survivor.log().slice(restartOffset), /"event":"recovery-start"/);
    const later = await (await cluster.waitForLeader(members)).execute([['INSERT INTO items(payload) VALUES (?)', 'three again']]);
    assert.equal(later.status, 200, later.text);
    await cluster.waitForConvergence(members);
  });
});

/** Every file's path and bytes under `directory`, hashed: equal before and after means nothing changed. */
function fingerprint(directory: string): string {
  const hash = createHash('sha256');
  const walk = (path: string): void => {
    for (const name of readdirSync(path).sort()) {
      const child = join(path, name);
      hash.update(child);
      if (statSync(child).isDirectory()) walk(child);
      else hash.update(readFileSync(child));
    }
  };
  walk(directory);
  return hash.digest('hex');
}

test('a malformed peers.json refuses the start with exit code 3 and changes nothing', async () => {
  const cluster = await createCluster(1);
  const node = cluster.node(1);
  await cluster.withLogs(async () => {
    assert.equal((await node.execute(['CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT)'])).status, 200);
    assert.equal(await node.terminate(), 0);
    const self = { id: node.id, address: node.raftAddress, non_voter: false };
    const other = { id: 'other', address: '127.0.0.1:1', non_voter: false };
    const cases: [string, string, RegExp][] = [
      ['not JSON', '[{"id": ', /not JSON/],
      ['an empty file', '', /not JSON/],
      ['an object, not an array', JSON.stringify(self), /must be a JSON array/],
      ['an entry that is not an object', JSON.stringify([self, 'other']), /entry 1 is not an object/],
      ['an entry without an id', JSON.stringify([{ address: '127.0.0.1:1' }, self]), /entry 0: "id" must be a non-empty string/],
      ['an address that is not host:port', JSON.stringify([self, { ...other, address: 'somewhere' }]), /"address" must be a "host:port" string/],
      ['non_voter not a boolean', JSON.stringify([{ ...self, non_voter: 'no' }]), /"non_voter" must be true or false/],
      ['an empty array', '[]', /lists no nodes/],
      [
        'too many nodes',
        JSON.stringify(Array.from({ length: recoveryPeerCountMax + 1 }, (_, n) => ({ id: `n${n}`, address: `127.0.0.1:${n + 1}` }))),
        /more than/,
      ],
      ['too large', ' '.repeat(peersFileBytesMax + 1), /more than a peers file can be/],
      ['this node not listed', JSON.stringify([other]), /does not list this node/],
      ['a duplicate id', JSON.stringify([self, { ...other, id: self.id }]), /listed twice/],
      ['a duplicate address', JSON.stringify([self, { ...other, address: self.address }]), /listed twice/],
      ['no voter', JSON.stringify([{ ...self, non_voter: true }]), /lists no voter/],
      ['this node at another address', JSON.stringify([{ ...self, address: '127.0.0.1:1' }]), /but it advertises/],
    ];
    const refusedStart = (what: string, dataDirectory: string, message: RegExp): void => {
      const before = fingerprint(dataDirectory);
      const run = spawnSync(
        process.execPath,
        [cliPath, 'serve', '--data-dir', dataDirectory, '--http-addr', `${node.spec.host}:${node.spec.httpPort}`, '--raft-addr', node.raftAddress],
        { env: { ...process.env, TZ: 'UTC' }, encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(run.status, exitRefusedPeersFile, `${what}: exit code (stderr: ${run.stderr})`);
      assert.match(run.stderr, message, what);
      assert.match(run.stderr, /raft\/peers\.json: .*nothing was changed/, what);
      assert.equal(fingerprint(dataDirectory), before, `${what}: the data directory is unchanged`);
    };
    for (const [what, text, message] of cases) {
      writePeers(node, text);
      refusedStart(what, node.dataDirectory, message);
    }
    const fresh = join(cluster.rootDirectory, 'fresh');
    mkdirSync(join(fresh, 'raft'), { recursive: true });
    writeFileSync(join(fresh, 'raft', 'peers.json'), JSON.stringify([self]));
    refusedStart('a data directory with no Raft state', fresh, /no Raft state to recover/);

    // A valid file (the membership it already has) is taken, over the same state.
    writePeers(node, JSON.stringify([self]));
    node.start(cluster.flagsFor(node));
    await cluster.waitForLeader([node]);
    assert.equal(await rowCount(node), 0);
  });
});
