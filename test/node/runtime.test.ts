/**
 * The runtime in-process (real store, state machine, TCP transport on loopback, Raft
 * core), for what is awkward from outside a process: bounds at their limits, prompt
 * failure of waiting writes on leadership loss, restart from durable state.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceError } from '../../src/service/service.js';
import { QuorumNode, defaultClusterId, type QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { discoveredNodeCountMax, joinFieldLengthMax } from '../../src/node/membership.js';
import { peerMethods } from '../../src/node/peer-calls.js';
import { TcpTransport } from '../../src/transport/tcp-transport.js';
import { silentLogger } from '../../src/node/logger.js';
import { encodeCommand } from '../../src/state-machine/command-codec.js';
import { freePort, waitFor } from '../cluster/harness.js';
import { executeRequest, queryRequest, statement } from './requests.js';

const directories: string[] = [];
const nodes: QuorumNode[] = [];
const context = { signal: new AbortController().signal };

after(async () => {
  await Promise.all(nodes.map((node) => node.stop({ transferLeadership: false }).catch(() => undefined)));
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

interface Address {
  readonly raft: string;
  readonly http: { host: string; port: number };
}

async function allocate(host: string): Promise<Address> {
  return { raft: `${host}:${await freePort(host)}`, http: { host, port: await freePort(host) } };
}

async function startNode(address: Address, dataDirectory: string, overrides: Partial<QuorumNodeOptions> = {}): Promise<QuorumNode> {
  const node = await QuorumNode.start({
    nodeId: address.raft,
    raftAdvertisedAddress: address.raft,
    apiAdvertisedAddress: `${address.http.host}:${address.http.port}`,
    dataDirectory,
    httpListen: address.http,
    raftListen: address.raft,
    logger: silentLogger,
    version: 'test',
    heartbeatMs: 50,
    electionTimeoutMs: 500,
    ...overrides,
  });
  nodes.push(node);
  return node;
}

function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-runtime-'));
  directories.push(directory);
  return directory;
}

test('a one-node cluster: bootstrap, write, read, restart from durable state', async () => {
  const directory = temporaryDirectory();
  const address = await allocate('127.0.0.1');
  let node = await startNode(address, directory);
  await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
  await node.service.execute(executeRequest([statement('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')]), context);
  const written = await node.service.execute(executeRequest([statement('INSERT INTO t(v) VALUES (?)', 'kept')]), context);
  assert.ok((written.raftIndex ?? 0) > 0);
  await node.stop();
  node = await startNode(address, directory);
  await waitFor('leadership after restart', () => (node.runtime.isLeader ? true : undefined));
  const read = await node.service.query(queryRequest('SELECT v FROM t', { level: 'linearizable' }), context);
  assert.deepEqual(read.results, [{ kind: 'rows', columns: ['v'], types: ['text'], rows: [['kept']] }]);
  assert.ok(node.runtime.stateMachine.appliedIndex >= (written.raftIndex ?? 0));
  await node.stop();
});

test('the entry size bound: a write of exactly entryDataBytesMax is accepted, one byte more is refused', async () => {
  const atBound = statement(`INSERT INTO t(v) VALUES ('${'a'.repeat(100)}')`);
  const overBound = statement(`INSERT INTO t(v) VALUES ('${'a'.repeat(101)}')`);
  const boundBytes = encodeCommand({ statements: [atBound], transaction: false, timestampMs: 0, seed: 0n }).byteLength;
  const node = await startNode(await allocate('127.0.0.1'), temporaryDirectory(), { entryDataBytesMax: boundBytes });
  await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
  await node.service.execute(executeRequest([statement('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')]), context);
  const accepted = await node.service.execute(executeRequest([atBound]), context);
  assert.deepEqual(accepted.results, [{ kind: 'write', lastInsertId: 1, rowsAffected: 1 }]);
  await assert.rejects(
    node.service.execute(executeRequest([overBound]), context),
    (error: unknown) => error instanceof ServiceError && error.code === 'BAD_REQUEST' && /exceeds the entry bound/.test(error.message),
  );
  const count = await node.service.query(queryRequest('SELECT count(*) FROM t', { level: 'linearizable' }), context);
  assert.deepEqual(count.results[0], { kind: 'rows', columns: ['count(*)'], types: ['integer'], rows: [[1]] });
  await node.stop();
});

test('writes waiting on a leader that loses its quorum fail promptly; the queued-write and waiting tables are bounded', async () => {
  const addresses = [await allocate('127.0.0.1'), await allocate('127.0.0.2'), await allocate('127.0.0.3')];
  const bound = { pendingProposalCountMax: 3, writeQueueCountMax: 2 };
  const first = await startNode(addresses[0]!, temporaryDirectory(), bound);
  await waitFor('leadership', () => (first.runtime.isLeader ? true : undefined));
  const others = [
    await startNode(addresses[1]!, temporaryDirectory(), { ...bound, joinAddresses: [addresses[0]!.raft] }),
    await startNode(addresses[2]!, temporaryDirectory(), { ...bound, joinAddresses: [addresses[0]!.raft] }),
  ];
  await waitFor('three voters', () => (first.runtime.confState().voters.length === 3 ? true : undefined));
  await first.service.execute(executeRequest([statement('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')]), context);
  for (const other of others) first.faults.isolate(other.config.nodeId);

  // Two queued writes are accepted at once, numbered one after the other (then sent as one
  // batch, which waits for its entry); a third waits for room at the queue's bound, up to its timeout.
  const sequenceNumbers: (number | bigint | null)[] = [];
  for (let queued = 1; queued <= 2; queued += 1) {
    const answer = await first.service.execute(executeRequest([statement("INSERT INTO t(v) VALUES ('queued')")], { queue: true }), context);
    sequenceNumbers.push(answer.sequenceNumber);
  }
  assert.equal(typeof sequenceNumbers[0], 'bigint');
  assert.equal(sequenceNumbers[1], (sequenceNumbers[0] as bigint) + 1n);
  await assert.rejects(
    first.service.execute(executeRequest([statement("INSERT INTO t(v) VALUES ('queued')")], { queue: true, timeoutMs: 200 }), context),
    (error: unknown) => error instanceof ServiceError && error.code === 'TIMEOUT' && /write queue full/.test(error.message),
  );
  // The two queued writes went as one batch, holding one of the three waiting slots; two more writes fit, the next is refused.
  const waiting = first.service.execute(executeRequest([statement("INSERT INTO t(v) VALUES ('waits')")], { timeoutMs: 60_000 }), context);
  const settled = waiting.then(
    () => 'applied',
    (error: unknown) => error,
  );
  const alsoWaiting = first.service.execute(executeRequest([statement("INSERT INTO t(v) VALUES ('waits too')")], { timeoutMs: 60_000 }), context);
  alsoWaiting.catch(() => undefined);
  await assert.rejects(
    first.service.execute(executeRequest([statement("INSERT INTO t(v) VALUES ('over')")]), context),
    (error: unknown) => error instanceof ServiceError && error.code === 'UNAVAILABLE' && /too many writes/.test(error.message),
  );
  // Check-quorum deposes the isolated leader within an election timeout or two; the waiter fails then, not at its 60 s timeout.
  const outcome = await settled;
  assert.ok(outcome instanceof ServiceError && outcome.code === 'UNAVAILABLE', `expected a prompt UNAVAILABLE, got ${String(outcome)}`);
  assert.equal(first.runtime.isLeader, false);
  first.faults.heal();
  await waitFor('a leader again', () => (others.some((node) => node.runtime.isLeader) || first.runtime.isLeader ? true : undefined));
});

test('discovery remembers at most discoveredNodeCountMax nodes; a notification beyond is refused', async () => {
  const address = await allocate('127.0.0.1');
  const node = await startNode(address, temporaryDirectory());
  const caller = new TcpTransport({ nodeId: 'discovery-tester', clusterId: defaultClusterId, listenAddress: '127.0.0.1:0' });
  await caller.start();
  try {
    const notify = (position: number) =>
      caller.call(
        { address: address.raft },
        peerMethods.notify,
        {
          id: `peer-${position}`,
          raftAddress: `127.0.0.9:${1000 + position}`,
          apiAddress: `127.0.0.9:${2000 + position}`,
        },
        { timeoutMs: 10_000 },
      ) as Promise<{ ok: boolean; error?: { message: string } }>;
    // The node has seen itself: discoveredNodeCountMax - 1 others fit.
    for (let position = 1; position < discoveredNodeCountMax; position += 1) {
      const answer = await notify(position);
      assert.equal(answer.ok, true, `notification ${position}`);
    }
    const refused = await notify(discoveredNodeCountMax);
    assert.equal(refused.ok, false);
    assert.match(refused.error?.message ?? '', /already discovered/);
    assert.equal((await notify(1)).ok, true, 'a node already seen may notify again');
  } finally {
    await caller.close();
    await node.stop();
  }
});

test('joining gives up after joinAttemptCountMax attempts with a clear error, and releases the data directory', async () => {
  const nowhere = `127.0.0.1:${await freePort('127.0.0.1')}`;
  const directory = temporaryDirectory();
  const address = await allocate('127.0.0.1');
  await assert.rejects(
    startNode(address, directory, { joinAddresses: [nowhere], joinAttemptCountMax: 2, joinIntervalMs: 10, requestTimeoutMs: 2000 }),
    /could not join through .* after 2 attempts/,
  );
  const node = await startNode(address, directory, {}); // the lock was released: the directory is usable again
  await node.stop();
});

test('--bootstrap-expect gives up with a clear error when the peers never appear', async () => {
  const nowhere = [`127.0.0.1:${await freePort('127.0.0.1')}`, `127.0.0.1:${await freePort('127.0.0.1')}`];
  await assert.rejects(
    startNode(await allocate('127.0.0.1'), temporaryDirectory(), {
      bootstrapExpect: 3,
      joinAddresses: nowhere,
      bootstrapExpectTimeoutMs: 300,
      discoveryIntervalMs: 10,
    }),
    /--bootstrap-expect 3: found only 1 node/,
  );
});

test('a join request with a field beyond joinFieldLengthMax is refused', async () => {
  const address = await allocate('127.0.0.1');
  const node = await startNode(address, temporaryDirectory());
  const caller = new TcpTransport({ nodeId: 'join-tester', clusterId: defaultClusterId, listenAddress: '127.0.0.1:0' });
  await caller.start();
  try {
    const join = (id: string) =>
      caller.call(
        { address: address.raft },
        peerMethods.join,
        {
          id,
          raftAddress: '127.0.0.9:1',
          apiAddress: '127.0.0.9:2',
          voter: false,
        },
        { timeoutMs: 10_000 },
      ) as Promise<{ ok: boolean; error?: { code: string; message: string } }>;
    const refused = await join('x'.repeat(joinFieldLengthMax + 1));
    assert.equal(refused.ok, false);
    assert.equal(refused.error?.code, 'BAD_REQUEST');
    assert.match(refused.error?.message ?? '', /id must be a string of 1-256 characters/);
    const malformed = (await caller.call({ address: address.raft }, peerMethods.join, { id: 'n', voter: 'yes' }, { timeoutMs: 10_000 })) as { ok: boolean };
    assert.equal(malformed.ok, false);
  } finally {
    await caller.close();
    await node.stop();
  }
});
