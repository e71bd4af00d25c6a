/**
 * -auth on the peer port of a real in-process leader, called as another node would: a
 * forwarded request names its caller and no password, and the leader checks that name
 * against its own file; a join presents credentials (`join` for a voter, `join-read-only`
 * for a non-voter); a --bootstrap-expect notification needs `join`, as in rqlite.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/raft/types.js';
import { peerMethods } from '../../src/node/peer-calls.js';
import { defaultClusterId } from '../../src/server/quorum-node.js';
import { TcpTransport } from '../../src/transport/tcp-transport.js';
import { startAuthNode, type AuthNode } from '../http/auth-fixture.js';
import { executeRequest, queryRequest, statement } from './requests.js';

type Envelope = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

let node: AuthNode;
let peer: TcpTransport<Message>;

before(async () => {
  node = await startAuthNode('peer-access');
  peer = new TcpTransport<Message>({ nodeId: 'peer-tester', clusterId: defaultClusterId, listenAddress: '127.0.0.1:0' });
  await peer.start();
});

after(async () => {
  await peer?.close();
  await node?.close();
});

function call(method: string, payload: unknown): Promise<Envelope> {
  return peer.call({ address: node.node.config.raftAdvertisedAddress }, method, payload, { timeoutMs: 10_000 }) as Promise<Envelope>;
}

function refusal(envelope: Envelope): { code: string; message: string } {
  assert.equal(envelope.ok, false, JSON.stringify(envelope));
  return (envelope as Extract<Envelope, { ok: false }>).error;
}

function forwardedWrite(sql: string, caller: unknown): unknown {
  return { ...executeRequest([statement(sql)], { forward: false }), caller };
}

describe('a forwarded request: the caller by name, checked against the leader file', () => {
  it('runs for a name that holds the permission, with no password at all', async () => {
    const answer = await call(peerMethods.execute, forwardedWrite('CREATE TABLE forwarded (x)', 'only-execute'));
    assert.equal(answer.ok, true, JSON.stringify(answer));
  });

  it('is refused for a name without it (FORBIDDEN), an anonymous caller (UNAUTHORIZED), a stranger, a malformed name', async () => {
    const forbidden = refusal(await call(peerMethods.execute, forwardedWrite('CREATE TABLE nope (x)', 'only-query')));
    assert.deepEqual(forbidden, { code: 'FORBIDDEN', message: 'forbidden: user "only-query" lacks the execute permission', leaderApiAddress: null });
    assert.equal(refusal(await call(peerMethods.execute, forwardedWrite('CREATE TABLE nope (x)', null))).code, 'UNAUTHORIZED');
    const stranger = refusal(await call(peerMethods.execute, forwardedWrite('CREATE TABLE nope (x)', 'mallory')));
    assert.match(stranger.message, /not a user in this node's auth file/);
    assert.equal(refusal(await call(peerMethods.execute, forwardedWrite('CREATE TABLE nope (x)', 7))).code, 'BAD_REQUEST');
    const mixed = { ...executeRequest([statement('SELECT 1')]), ...queryRequest('SELECT 1', { forward: false }), caller: 'only-execute' };
    assert.match(refusal(await call(peerMethods.request, mixed)).message, /lacks the query permission/);
    assert.equal((await call(peerMethods.request, { ...mixed, caller: 'writer' })).ok, true);
  });

  it('removal and step-down need remove and leader-ops', async () => {
    const remove = { id: 'nobody', timeoutMs: 5_000, forward: false };
    assert.match(refusal(await call(peerMethods.remove, { ...remove, caller: 'only-execute' })).message, /lacks the remove permission/);
    assert.equal(refusal(await call(peerMethods.remove, { ...remove, caller: 'only-remove' })).code, 'NOT_FOUND');
    const stepDown = { id: null, wait: false, timeoutMs: 5_000, forward: false };
    assert.match(refusal(await call(peerMethods.stepDown, { ...stepDown, caller: 'only-remove' })).message, /lacks the leader-ops permission/);
    assert.equal(refusal(await call(peerMethods.stepDown, { ...stepDown, caller: 'only-leader-ops' })).code, 'UNAVAILABLE');
  });
});

describe('joins and notifications present credentials', () => {
  const joiner = { id: 'joiner', raftAddress: '127.0.0.9:1', apiAddress: '127.0.0.9:2', hasState: false };

  it('a voter needs join, a non-voter join-read-only (join alone is not enough), anonymous nothing', async () => {
    const asVoter = (credentials: unknown): Promise<Envelope> => call(peerMethods.join, { ...joiner, voter: true, credentials });
    assert.equal(refusal(await asVoter(null)).code, 'UNAUTHORIZED');
    assert.equal(refusal(await asVoter({ username: 'only-join', password: 'wrong' })).code, 'UNAUTHORIZED');
    assert.match(refusal(await asVoter({ username: 'only-query', password: 'pw-query' })).message, /"only-query" lacks the join permission/);
    const nonVoter = await call(peerMethods.join, { ...joiner, voter: false, credentials: { username: 'only-join', password: 'pw-join' } });
    assert.match(refusal(nonVoter).message, /"only-join" lacks the join-read-only permission/);
  });

  it('a --bootstrap-expect notification needs join', async () => {
    const notify = (credentials: unknown): Promise<Envelope> => call(peerMethods.notify, { ...joiner, credentials });
    assert.equal(refusal(await notify(null)).code, 'UNAUTHORIZED');
    assert.match(refusal(await notify({ username: 'only-ready', password: 'pw-ready' })).message, /lacks the join permission/);
    assert.equal((await notify({ username: 'only-join', password: 'pw-join' })).ok, true);
  });
});
