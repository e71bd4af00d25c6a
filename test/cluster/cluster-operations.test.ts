/**
 * rqlited's cluster-operation flags on real processes: leaving the cluster on shutdown
 * (--raft-cluster-remove-shutdown), exiting once removed (--raft-remove-shutdown; without
 * it a removed node keeps running), reaping unreachable voters and non-voters
 * (--raft-reap-node-timeout, --raft-reap-read-only-node-timeout), and a leader that exits
 * without handing leadership over (--raft-shutdown-stepdown=false).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, http, sleep, waitFor, type TestNode } from './harness.js';

const clusters: TestCluster[] = [];

after(async () => {
  for (const cluster of clusters) await cluster.close();
});

async function createCluster(options: { flags?: readonly string[]; nodeFlags?: Readonly<Record<number, readonly string[]>> }): Promise<TestCluster> {
  const cluster = await TestCluster.create({ size: 3, formation: 'join', ...options });
  clusters.push(cluster);
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
  return cluster;
}

/** The ids the leader's /nodes lists (voters and non-voters). */
async function memberIds(leader: TestNode): Promise<string[]> {
  const answer = await http(`${leader.url}/nodes?nonvoters&ver=2`);
  assert.equal(answer.status, 200, answer.text);
  return ((answer.body as { nodes: { id: string }[] }).nodes ?? []).map((node) => node.id).sort();
}

async function waitForMemberIds(cluster: TestCluster, expected: readonly string[]): Promise<TestNode> {
  return waitFor(`the leader lists exactly ${expected.join(', ')}`, async () => {
    const leader = await cluster.waitForLeader();
    const ids = await memberIds(leader);
    return JSON.stringify(ids) === JSON.stringify([...expected].sort()) ? leader : undefined;
  });
}

test('--raft-cluster-remove-shutdown: a follower stopped with SIGTERM leaves the cluster first', async () => {
  const cluster = await createCluster({ nodeFlags: { 3: ['--raft-cluster-remove-shutdown'] } });
  await cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const leaving = cluster.node(3);
    assert.notEqual(leaving.id, leader.id, 'node 3 joined as a follower');
    const logOffset = leaving.log().length;
    assert.equal(await leaving.terminate(), 0);
    assert.match(leaving.log().slice(logOffset), /"event":"left"/);
    // The removal completed before the node exited: the leader no longer lists it.
    assert.deepEqual(await memberIds(leader), [cluster.node(1).id, cluster.node(2).id].sort());
    const written = await leader.execute(['CREATE TABLE after_leaving (id INTEGER PRIMARY KEY)']);
    assert.equal(written.status, 200, written.text);
  });
});

test('--raft-remove-shutdown: a removed node exits; without the flag a removed node keeps running', async () => {
  const cluster = await createCluster({ nodeFlags: { 3: ['--raft-remove-shutdown'] } });
  await cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const [withFlag, withoutFlag] = [cluster.node(3), cluster.node(2)];
    assert.ok(leader !== withFlag && leader !== withoutFlag, 'node 1 leads');

    const removeFlagged = await http(`${leader.url}/remove`, { method: 'DELETE', body: JSON.stringify({ id: withFlag.id }) });
    assert.equal(removeFlagged.status, 200, removeFlagged.text);
    await waitFor('the removed node with --raft-remove-shutdown exits', () => (withFlag.running ? undefined : true));
    assert.equal(withFlag.process?.exitCode, 0);
    assert.match(withFlag.log(), /"event":"removed-from-cluster"/);

    const removePlain = await http(`${leader.url}/remove`, { method: 'DELETE', body: JSON.stringify({ id: withoutFlag.id }) });
    assert.equal(removePlain.status, 200, removePlain.text);
    await waitFor('the removed node without the flag learns it', () => (/"event":"removed-from-cluster"/.test(withoutFlag.log()) ? true : undefined));
    await sleep(2_000);
    assert.ok(withoutFlag.running, 'without --raft-remove-shutdown the node keeps running');
    assert.equal((await http(`${withoutFlag.url}/status`)).status, 200);
    assert.deepEqual(await memberIds(leader), [leader.id]);
  });
});

test('--raft-reap-node-timeout and --raft-reap-read-only-node-timeout: the leader removes dead members', async () => {
  const reapFlags = ['--raft-reap-node-timeout', '3s', '--raft-reap-read-only-node-timeout', '2s'];
  const cluster = await createCluster({ flags: reapFlags });
  await cluster.withLogs(async () => {
    const first = await cluster.waitForLeader();
    const readOnly = await cluster.addNodeSpec();
    readOnly.start([...reapFlags, '--raft-non-voter', '--join', first.raftAddress]);
    await cluster.waitForMembers(4, 3);
    // Everyone answers: nothing is reaped however long the timeouts run.
    await sleep(4_000);
    const all = cluster.nodes.map((node) => node.id);
    assert.deepEqual(await memberIds(await cluster.waitForLeader()), [...all].sort());

    await readOnly.kill();
    await waitForMemberIds(
      cluster,
      all.filter((id) => id !== readOnly.id),
    );
    const leader = await cluster.waitForLeader();
    const deadVoter = cluster.running().find((node) => node !== leader)!;
    await deadVoter.kill();
    const survivorIds = all.filter((id) => id !== readOnly.id && id !== deadVoter.id);
    const after = await waitForMemberIds(cluster, survivorIds);
    // The removal shows in /nodes once applied; the line the reaper writes after it reaches the test through the process's stdout pipe.
    const reapedVoter = new RegExp(`"event":"reaped","node":"${deadVoter.id}","voter":true`);
    await waitFor('the leader logged the voter reaped', () => (reapedVoter.test(after.log()) ? true : undefined)).catch(() => undefined);
    assert.match(after.log(), reapedVoter);
    assert.match(cluster.nodes.map((node) => node.log()).join('\n'), new RegExp(`"event":"reaped","node":"${readOnly.id}","voter":false`));
    const written = await after.execute(['CREATE TABLE after_reaping (id INTEGER PRIMARY KEY)']);
    assert.equal(written.status, 200, written.text);
  });
});

test('--raft-shutdown-stepdown=false: SIGTERM on the leader hands nothing over; the others elect after a timeout', async () => {
  const cluster = await createCluster({ flags: ['--raft-shutdown-stepdown=false'] });
  await cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const logOffset = leader.log().length;
    assert.equal(await leader.terminate(), 0);
    assert.doesNotMatch(leader.log().slice(logOffset), /"event":"leadership-transfer"/, 'no hand-over');
    const survivors = cluster.running();
    const newLeader = await cluster.waitForLeader(survivors);
    assert.notEqual(newLeader.id, leader.id);
    // Elected by an election timeout, not a transfer: no MsgTimeoutNow reached the new leader.
    assert.doesNotMatch(newLeader.log(), /"raftEvent":"(transfer|timeout-now)[^"]*"/);
    const written = await newLeader.execute(['CREATE TABLE after_election (id INTEGER PRIMARY KEY)']);
    assert.equal(written.status, 200, written.text);
  });
});
