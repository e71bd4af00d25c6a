/**
 * -auth on a real 3-process cluster: nodes join it with -join-as (the password from their
 * own -auth file), and a join without the permission rqlite asks (`join` for a voter,
 * `join-read-only` for a non-voter) is refused; a write sent to a follower is authorised
 * there and forwarded with the caller's name only: refused on the follower for a user
 * without `execute` (the leader never sees it), let through for a user with it, and the
 * leader, which never gets the password, checks the name against its own file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { TestCluster, httpTimeoutMs, waitFor, type TestNode } from './harness.js';

interface FileUser {
  readonly username: string;
  readonly password?: string;
  readonly perms: readonly string[];
}

const users: readonly FileUser[] = [
  { username: 'admin', password: 'admin secret', perms: ['all'] },
  { username: 'writer', password: bcrypt.hashSync('writer secret', 4), perms: ['execute', 'query'] },
  { username: 'reader', password: 'reader secret', perms: ['query'] },
  { username: 'joiner', password: 'joiner secret', perms: ['join', 'remove'] },
  { username: 'replica', password: 'replica secret', perms: ['join-read-only'] },
  // The harness watches the cluster through /status and /nodes.
  { username: '*', perms: ['status', 'ready'] },
];

const patientJoin = ['--join-attempts', '200', '--join-interval', '250ms'];

let cluster: TestCluster;
/** The -auth files, one per node (node N reads authN.json), beside the cluster's directories. */
const authDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-cluster-auth-'));

function authPath(index: number): string {
  return join(authDirectory, `auth${index}.json`);
}

function writeUsers(index: number, file: readonly FileUser[]): void {
  writeFileSync(authPath(index), JSON.stringify(file));
}

function basic(username: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

async function execute(
  node: TestNode,
  statements: readonly string[],
  headers: Record<string, string>,
): Promise<{ status: number; text: string; servedBy: string | null }> {
  const response = await fetch(`${node.url}/db/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(statements),
    signal: AbortSignal.timeout(httpTimeoutMs),
  });
  return { status: response.status, text: await response.text(), servedBy: response.headers.get('x-rqlite-served-by') };
}

/** Writes forwarded to `node` by its followers (rqlite's cluster.num_execute_req). */
async function forwardedWrites(node: TestNode): Promise<number> {
  const response = await fetch(`${node.url}/debug/vars`, { headers: basic('admin', 'admin secret'), signal: AbortSignal.timeout(httpTimeoutMs) });
  const vars = (await response.json()) as { cluster: { num_execute_req: number } };
  return vars.cluster.num_execute_req;
}

before(async () => {
  for (const index of [1, 2, 3, 4]) writeUsers(index, users);
  const joinAs = ['-join-as', 'joiner', ...patientJoin];
  cluster = await TestCluster.create({
    size: 3,
    formation: 'join',
    nodeFlags: { 1: ['-auth', authPath(1)], 2: ['-auth', authPath(2), ...joinAs], 3: ['-auth', authPath(3), ...joinAs] },
  });
});

after(async () => {
  await cluster?.close();
  rmSync(authDirectory, { recursive: true, force: true });
});

test('nodes join a cluster that checks credentials with -join-as, the password read from their own -auth file', async () => {
  await cluster.withLogs(async () => {
    await cluster.start();
    await cluster.waitForMembers(3);
    for (const node of cluster.nodes.slice(1)) assert.match(node.log(), /"event":"joined"/);
  });
});

test('a write to a follower: refused there without execute (the leader never sees it), forwarded with it', async () => {
  await cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node !== leader);
    assert.ok(follower !== undefined);
    const before = await forwardedWrites(leader);

    const reader = await execute(follower, ['CREATE TABLE refused (x)'], basic('reader', 'reader secret'));
    assert.equal(reader.status, 403, reader.text);
    assert.equal(reader.text, 'forbidden: user "reader" lacks the execute permission\n');
    const anonymous = await execute(follower, ['CREATE TABLE refused (x)'], {});
    assert.equal(anonymous.status, 401, anonymous.text);
    assert.equal(await forwardedWrites(leader), before, 'nothing reached the leader');

    const writer = await execute(follower, ['CREATE TABLE forwarded (x)', 'INSERT INTO forwarded VALUES (1)'], basic('writer', 'writer secret'));
    assert.equal(writer.status, 200, writer.text);
    assert.equal(writer.servedBy, leader.raftAddress, 'the leader ran it');
    assert.equal(await forwardedWrites(leader), before + 1);
  });
});

test('a queued write to a follower is sent to the leader later, still as its caller', async () => {
  await cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node !== leader);
    assert.ok(follower !== undefined);
    const queued = await fetch(`${follower.url}/db/execute?queue`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...basic('writer', 'writer secret') },
      body: JSON.stringify(['INSERT INTO forwarded VALUES (42)']),
      signal: AbortSignal.timeout(httpTimeoutMs),
    });
    assert.equal(queued.status, 200, await queued.text());
    await waitFor('the queued write applied on the leader', async () => {
      const read = await fetch(`${leader.url}/db/query?q=${encodeURIComponent('SELECT COUNT(*) FROM forwarded WHERE x = 42')}`, {
        headers: basic('reader', 'reader secret'),
        signal: AbortSignal.timeout(httpTimeoutMs),
      });
      const body = (await read.json()) as { results: { values?: number[][] }[] };
      return body.results[0]?.values?.[0]?.[0] === 1 ? true : undefined;
    });
  });
});

test('the leader checks the forwarded name against its own file, never a password it did not get', async () => {
  await cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node !== leader);
    assert.ok(follower !== undefined);
    const withPassword = (password: string): FileUser[] => users.map((user) => (user.username === 'writer' ? { ...user, password } : user));
    // Another password for writer on the leader only: the leader refuses the old one from a client...
    writeUsers(leader.spec.index, withPassword('changed on the leader'));
    await waitFor('the leader reloaded its file', async () =>
      (await execute(leader, ['SELECT 1'], basic('writer', 'writer secret'))).status === 401 ? true : undefined,
    );
    // ...yet a write the follower authenticated goes through: the leader got the name, not the password.
    const forwarded = await execute(follower, ['INSERT INTO forwarded VALUES (2)'], basic('writer', 'writer secret'));
    assert.equal(forwarded.status, 200, forwarded.text);

    // Without execute in the leader's file, the leader refuses the name the follower vouches for.
    writeUsers(
      leader.spec.index,
      users.map((user) => (user.username === 'writer' ? { ...user, perms: ['query'] } : user)),
    );
    const refused = await waitFor('the leader refuses writer', async () => {
      const answer = await execute(follower, ['INSERT INTO forwarded VALUES (3)'], basic('writer', 'writer secret'));
      return answer.status === 403 ? answer : undefined;
    });
    assert.equal(refused.text, 'forbidden: user "writer" lacks the execute permission\n');
    assert.match(leader.log(), /"event":"auth-reloaded"/);
    writeUsers(leader.spec.index, users);
    await waitFor('the leader takes writer back', async () =>
      (await execute(follower, ['SELECT 1'], basic('writer', 'writer secret'))).status === 200 ? true : undefined,
    );
  });
});

/** Starts a fifth node (or more) joining through the leader; resolves once it exits (refused) or is a member. */
async function tryToJoin(flags: readonly string[]): Promise<TestNode> {
  const leader = await cluster.waitForLeader();
  const node = await cluster.addNodeSpec();
  writeUsers(node.spec.index, users);
  node.start(['-auth', authPath(node.spec.index), '--join', leader.raftAddress, ...flags]);
  return node;
}

test('a join without the permission rqlite asks is refused: join for a voter, join-read-only for a non-voter', async () => {
  await cluster.withLogs(async () => {
    const quickly = ['--join-attempts', '2', '--join-interval', '100ms'];
    for (const [flags, reason] of [
      [['-join-as', 'reader', ...quickly], /forbidden: user \\"reader\\" lacks the join permission/],
      [['-join-as', 'joiner', '-raft-non-voter', ...quickly], /forbidden: user \\"joiner\\" lacks the join-read-only permission/],
      [[...quickly], /unauthorized/],
    ] as const) {
      const refused = await tryToJoin(flags);
      await waitFor(`node ${refused.spec.index} gives up`, () => (refused.running ? undefined : true));
      assert.equal(refused.process?.exitCode, 1);
      assert.match(refused.log(), /failed to join cluster/);
      assert.match(refused.log(), reason);
    }
    const replica = await tryToJoin(['-join-as', 'replica', '-raft-non-voter', ...patientJoin]);
    await cluster.waitForMembers(4, 3);
    assert.match(replica.log(), /"event":"joined"/);
  });
});
