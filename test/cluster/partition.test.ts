/**
 * A partitioned leader steps down (check-quorum) and refuses linearizable reads while
 * the majority elects a new leader and keeps writing; after healing, all converge.
 * Then a non-voter joins: it serves `none` reads, and does not count for quorum; after
 * losing its data it rejoins (a no-op join) and catches up; finally it is removed.
 *
 * The partition uses the transport's fault hook (the test-only --test-faults-on-stdin
 * flag), so it runs without root. partition-iptables.test.ts cuts the same links with
 * real iptables DROP rules (outgoing peer connections leave from each node's listen
 * host, so rules can tell nodes apart on loopback).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { TestCluster, http, waitFor, type TestNode } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join', flags: ['--test-faults-on-stdin'] });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
});

after(async () => {
  await cluster?.close();
});

function values(answer: { body: unknown }): unknown[][] | undefined {
  return (answer.body as { results?: { values?: unknown[][] }[] }).results?.[0]?.values;
}

test('a partitioned leader steps down and refuses linearizable reads; the majority goes on', async () =>
  cluster.withLogs(async () => {
    const oldLeader = await cluster.waitForLeader();
    assert.equal((await oldLeader.execute(['CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)'])).status, 200);
    assert.equal((await oldLeader.execute([['INSERT INTO notes(text) VALUES (?)', 'before']])).status, 200);
    await cluster.waitForConvergence();

    oldLeader.control('isolate');
    const majority = cluster.nodes.filter((node) => node !== oldLeader);
    const newLeader = await cluster.waitForLeader(majority);
    assert.notEqual(newLeader.id, oldLeader.id);
    await waitFor('the isolated leader steps down', async () => ((await oldLeader.raftStatus()).state !== 'Leader' ? true : undefined));

    const linearizable = await oldLeader.query('SELECT count(*) FROM notes', '?level=linearizable&timeout=2s&linearizable_timeout=2s');
    const refused = linearizable.status !== 200 || (linearizable.body as { error?: string }).error !== undefined;
    assert.ok(refused, `linearizable read on the partitioned node must fail, got ${linearizable.status} ${linearizable.text}`);
    const stale = await oldLeader.query('SELECT count(*) FROM notes', '?level=none');
    assert.deepEqual(values(stale), [[1]], 'none reads still answer locally');
    const bounded = await oldLeader.query('SELECT count(*) FROM notes', '?level=none&freshness=200ms');
    assert.match(bounded.text, /stale read/, 'with freshness, a node cut off from the leader refuses to answer');
    const fresh = await majority[0]!.query('SELECT count(*) FROM notes', '?level=none&freshness=5s');
    assert.deepEqual(values(fresh), [[1]], 'a node in touch with the leader answers within the freshness bound');

    const written = await majority[0]!.execute([['INSERT INTO notes(text) VALUES (?)', 'during']], '?raft_index');
    assert.equal(written.status, 200, written.text);

    oldLeader.control('heal');
    await cluster.waitForConvergence(cluster.nodes);
    assert.deepEqual(values(await oldLeader.query('SELECT text FROM notes ORDER BY id', '?level=none')), [['before'], ['during']]);
  }));

test('a non-voter joins, serves none reads, and does not count for quorum', async () =>
  cluster.withLogs(async () => {
    const reader = await cluster.addNodeSpec();
    reader.start([
      '--raft-non-voter',
      '--join',
      cluster.nodes
        .slice(0, 3)
        .map((node) => node.raftAddress)
        .join(','),
    ]);
    await cluster.waitForMembers(4, 3);
    const leader = await cluster.waitForLeader();
    const nodes = await http(`${leader.url}/nodes?nonvoters&ver=2`);
    const entry = (nodes.body as { nodes: { id: string; voter: boolean }[] }).nodes.find((node) => node.id === reader.id);
    assert.equal(entry?.voter, false);

    const written = await leader.execute([['INSERT INTO notes(text) VALUES (?)', 'for the reader']], '?raft_index');
    const index = (written.body as { raft_index: number }).raft_index;
    const read = await reader.query('SELECT text FROM notes ORDER BY id', `?level=none&min_index=${index}`);
    assert.deepEqual(values(read), [['before'], ['during'], ['for the reader']]);
    const auto = await reader.query('SELECT count(*) FROM notes', '?level=auto');
    assert.deepEqual(values(auto), [[3]], 'auto means none on a non-voter');

    // Two of three voters down: one voter and the non-voter are two live nodes, but no quorum.
    const voters = cluster.nodes.slice(0, 3);
    const downed = voters
      .filter((node) => node !== leader)
      .slice(0, 1)
      .concat([leader]);
    for (const node of downed) await node.kill();
    const stuck = await reader.execute([['INSERT INTO notes(text) VALUES (?)', 'no quorum']], '?timeout=3s');
    const failed = stuck.status !== 200 || (stuck.body as { error?: string }).error !== undefined;
    assert.ok(failed, `a write without a voter quorum must fail, got ${stuck.status} ${stuck.text}`);

    for (const node of downed) node.start(cluster.flagsFor(node));
    await cluster.waitForConvergence(cluster.nodes);
    const final = await reader.query("SELECT count(*) FROM notes WHERE text = 'no quorum'", '?level=none');
    const count = values(final)?.[0]?.[0];
    assert.ok(count === 0 || count === 1, 'the unacknowledged write is there at most once');
  }));

test('a node that lost its data rejoins with the same id and address (a no-op join) and catches up', async () =>
  cluster.withLogs(async () => {
    const reader = cluster.node(4);
    await reader.kill();
    rmSync(reader.dataDirectory, { recursive: true, force: true });
    const logOffsets = cluster.nodes.map((node) => node.log().length);
    const newLog = (node: TestNode) => node.log().slice(logOffsets[node.spec.index - 1]);
    reader.start([
      '--raft-non-voter',
      '--join',
      cluster.nodes
        .slice(0, 3)
        .map((node) => node.raftAddress)
        .join(','),
    ]);
    await waitFor('the wiped node joined again', () => (/"event":"joined"/.test(newLog(reader)) ? true : undefined));
    await waitFor('the leader treated the rejoin as a no-op', () =>
      cluster.nodes.slice(0, 3).some((node) => /"event":"join-noop"/.test(newLog(node))) ? true : undefined,
    );
    await cluster.waitForConvergence(cluster.nodes);
    await cluster.waitForMembers(4, 3);
  }));

test('DELETE /remove on a follower removes a member through the leader', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.slice(0, 3).find((node) => node !== leader)!;
    const reader = cluster.node(4);
    const removed = await http(`${follower.url}/remove`, { method: 'DELETE', body: JSON.stringify({ id: reader.id }) });
    assert.ok(removed.status === 200 || removed.status === 204, `${removed.status} ${removed.text}`);
    await cluster.waitForMembers(3, 3);
    const unknown = await http(`${follower.url}/remove`, { method: 'DELETE', body: JSON.stringify({ id: 'no-such-node' }) });
    assert.equal(unknown.status, 404, unknown.text);
    await reader.kill();
  }));
