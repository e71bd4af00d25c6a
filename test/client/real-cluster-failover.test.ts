/**
 * The client's failover promises, proven against a real 3-node cluster (built CLI, real
 * processes on 127.0.0.1/.2/.3; `npm run build` first — `npm test` does):
 *
 * - kill -9 of the leader while 4 concurrent loops make 500 writes each: every call
 *   succeeds and the table holds exactly 2,000 rows, no loss, no duplicate;
 * - the same with the leader stopped (SIGSTOP) for 3 s, then continued;
 * - a write whose answer is cut after the leader applied it is retried and applied once;
 * - read-your-writes: a read at `none` on a follower that has not yet received the
 *   client's write waits for it (`min_index`) and sees it.
 *
 * No assertion depends on speed; every wait is bounded by a generous deadline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, QuorumliteError, type Client, type HttpRequest } from '../../src/client/index.js';
import { TestCluster, waitFor, type TestNode } from '../cluster/harness.js';
import { pauseFor } from './helpers/process-pause.js';
import { recordingTransport } from './helpers/recording-transport.js';
import { assertOneKeyPerWrite, callDeadlineMs, cutAnswerRetriedOnce, retriedWrites } from './real-cluster-failover-scenario.js';

const writerLoopCount = 4;
const writesPerLoop = 500;
const totalWriteCount = writerLoopCount * writesPerLoop;
/** The fault strikes once this many writes were acknowledged, so writes run on both sides of it. */
const writesBeforeFault = 500;
const leaderPauseMs = 3_000;
/** Per test: four loops of 500 sequential writes plus a failover. */
const failoverTestTimeoutMs = 300_000;
/** How long the follower's link stays cut after the read reached it. */
const followerLagMs = 300;
const pauseLoad = `${writerLoopCount} loops × ${writesPerLoop} writes`;
const pauseTestName = `SIGSTOP of the leader for ${leaderPauseMs} ms under ${pauseLoad}: every call succeeds, exactly ${totalWriteCount} rows`;

interface LoopOutcome {
  readonly failures: unknown[];
  readonly acknowledgedAfterFault: number;
}

/**
 * Runs `writerLoopCount` loops of `writesPerLoop` sequential inserts with unique k; calls
 * `fault` (once, concurrently) when `writesBeforeFault` writes were acknowledged.
 */
async function writeThroughFault(client: Client, table: string, fault: () => Promise<void>): Promise<LoopOutcome> {
  const failures: unknown[] = [];
  let acknowledged = 0;
  let acknowledgedAtFault = -1;
  let faultDone: Promise<void> | undefined;
  const loop = async (loopIndex: number): Promise<void> => {
    for (let index = 0; index < writesPerLoop; index += 1) {
      try {
        await client.execute({ sql: `INSERT INTO ${table} (k, loop) VALUES (?, ?)`, args: [loopIndex * writesPerLoop + index, loopIndex] });
        acknowledged += 1;
      } catch (error) {
        failures.push(error);
      }
      if (acknowledged >= writesBeforeFault && faultDone === undefined) {
        acknowledgedAtFault = acknowledged;
        faultDone = fault();
      }
    }
  };
  await Promise.all(Array.from({ length: writerLoopCount }, (_, loopIndex) => loop(loopIndex)));
  assert.ok(faultDone !== undefined, 'the fault was started');
  await faultDone;
  return { failures, acknowledgedAfterFault: acknowledged - acknowledgedAtFault };
}

async function assertExactlyAllRows(client: Client, table: string): Promise<void> {
  const reply = await client.query<{ count: number; distinct_k: number; low: number; high: number }>(
    `SELECT count(*) AS count, count(DISTINCT k) AS distinct_k, min(k) AS low, max(k) AS high FROM ${table}`,
    { consistency: 'linearizable' },
  );
  assert.deepEqual(reply.results[0]?.rows, [{ count: totalWriteCount, distinct_k: totalWriteCount, low: 0, high: totalWriteCount - 1 }]);
}

function describeFailures(failures: readonly unknown[]): string {
  return failures
    .slice(0, 5)
    .map((failure) => (failure instanceof QuorumliteError ? `${failure.code}: ${failure.message}` : String(failure)))
    .join('\n');
}

function logHasFaultApplied(node: TestNode, command: string, countBefore: number): boolean {
  const matches = node
    .log()
    .split('\n')
    .filter((line) => line.includes('"event":"test-fault"') && line.includes(`"command":"${command}"`));
  return matches.length > countBefore;
}

function faultLineCount(node: TestNode, command: string): number {
  return node
    .log()
    .split('\n')
    .filter((line) => line.includes('"event":"test-fault"') && line.includes(`"command":"${command}"`)).length;
}

/** Sends a stdin fault command and waits until the node logged it as applied. */
async function applyFault(node: TestNode, command: 'isolate' | 'heal'): Promise<void> {
  const before = faultLineCount(node, command);
  node.control(command);
  await waitFor(`node ${node.spec.index} to apply ${command}`, () => (logHasFaultApplied(node, command, before) ? true : undefined));
}

describe('client failover against a real 3-node cluster', () => {
  let cluster: TestCluster;
  const clients: Client[] = [];
  const track = (client: Client): Client => {
    clients.push(client);
    return client;
  };

  before(async () => {
    cluster = await TestCluster.create({ size: 3, formation: 'join', flags: ['--log-level', 'info', '--test-faults-on-stdin'] });
    await cluster.start().catch((error: unknown) => {
      console.error(cluster.logs());
      throw error;
    });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await cluster?.close();
  });

  it('a write whose answer is cut after the leader applied it is retried and applied exactly once', async () => {
    await cluster.withLogs(async () => {
      await cutAnswerRetriedOnce(cluster, track);
    });
  });

  it("a read at none on a lagging follower waits for the client's own write (min_index)", async () => {
    await cluster.withLogs(async () => {
      const leader = await cluster.waitForLeader();
      const follower = cluster.running().find((node) => node !== leader);
      assert.ok(follower !== undefined);
      let healScheduled = false;
      const { transport, log } = recordingTransport((request) => {
        // The follower catches up only after the read has reached it, so the read must wait.
        if (!healScheduled && request.url.startsWith(follower.url) && request.url.includes('/db/query')) {
          healScheduled = true;
          setTimeout(() => follower.control('heal'), followerLagMs);
        }
      });
      // Knowing only the follower, the client learns the leader from its 301 and then
      // spreads reads at none over [follower, leader], the follower first.
      const client = track(createClient({ nodes: [follower.url], transport, discoverNodes: false, deadlineMs: callDeadlineMs }));
      const blind = track(createClient({ nodes: [follower.url], discoverNodes: false, readYourWrites: false, deadlineMs: callDeadlineMs }));
      await client.execute('CREATE TABLE notes (label TEXT NOT NULL)');
      assert.equal(client.knownLeader, leader.url);
      await cluster.waitForConvergence();
      await applyFault(follower, 'isolate');
      try {
        const written = await client.execute({ sql: 'INSERT INTO notes (label) VALUES (?)', args: ['mine'] });
        const writeIndex = written.raftIndex ?? 0;
        assert.ok(writeIndex > 0);
        assert.equal(client.lastWriteIndex, writeIndex);
        assert.ok((await follower.checksum()).appliedIndex < writeIndex, 'the follower has not applied the write yet');
        const unsynchronised = await blind.query<{ count: number }>("SELECT count(*) AS count FROM notes WHERE label = 'mine'", { consistency: 'none' });
        assert.deepEqual(unsynchronised.results[0]?.rows, [{ count: 0 }], 'without min_index the lagging follower does not have the write');
        const read = await client.query<{ count: number }>("SELECT count(*) AS count FROM notes WHERE label = 'mine'", { consistency: 'none' });
        assert.deepEqual(read.results[0]?.rows, [{ count: 1 }]);
        const queries = log.requests.filter((request) => request.url.includes('/db/query'));
        assert.equal(queries.length, 1, 'one attempt, no failover to another node');
        const queryUrl = new URL((queries[0] as HttpRequest).url);
        assert.equal(queryUrl.origin, follower.url, 'the follower served the read');
        assert.equal(queryUrl.searchParams.get('min_index'), String(writeIndex));
        assert.equal(queryUrl.searchParams.get('level'), 'none');
      } finally {
        follower.control('heal');
      }
      await cluster.waitForConvergence();
    });
  });

  it(`kill -9 of the leader under ${writerLoopCount} loops × ${writesPerLoop} writes: every call succeeds, exactly ${totalWriteCount} rows`, {
    timeout: failoverTestTimeoutMs,
  }, async () => {
    await cluster.withLogs(async () => {
      const leader = await cluster.waitForLeader();
      const admin = track(createClient({ nodes: cluster.running().map((node) => node.url), deadlineMs: callDeadlineMs }));
      await admin.execute('CREATE TABLE killed_ledger (k INTEGER NOT NULL, loop INTEGER NOT NULL)');
      const { transport, log } = recordingTransport();
      const writer = track(createClient({ nodes: cluster.running().map((node) => node.url), transport, deadlineMs: callDeadlineMs }));
      const outcome = await writeThroughFault(writer, 'killed_ledger', () => leader.kill());
      assert.deepEqual(outcome.failures, [], describeFailures(outcome.failures));
      assert.ok(outcome.acknowledgedAfterFault > 0, 'writes went on after the kill');
      await assertExactlyAllRows(writer, 'killed_ledger');
      assert.ok(retriedWrites(log).length > 0, 'the kill forced retries');
      assertOneKeyPerWrite(log);
      const newLeader = await cluster.waitForLeader();
      assert.notEqual(newLeader, leader);
      await cluster.waitForConvergence();
      // Back to three nodes for the next test.
      leader.start(cluster.flagsFor(leader));
      await cluster.waitForMembers(3);
      await cluster.waitForConvergence();
    });
  });

  it(pauseTestName, { timeout: failoverTestTimeoutMs }, async () => {
    await cluster.withLogs(async () => {
      const leader = await cluster.waitForLeader();
      const admin = track(createClient({ nodes: cluster.running().map((node) => node.url), deadlineMs: callDeadlineMs }));
      await admin.execute('CREATE TABLE paused_ledger (k INTEGER NOT NULL, loop INTEGER NOT NULL)');
      const { transport, log } = recordingTransport();
      const writer = track(createClient({ nodes: cluster.running().map((node) => node.url), transport, deadlineMs: callDeadlineMs }));
      const outcome = await writeThroughFault(writer, 'paused_ledger', () => pauseFor(leader, leaderPauseMs));
      assert.deepEqual(outcome.failures, [], describeFailures(outcome.failures));
      assert.ok(outcome.acknowledgedAfterFault > 0, 'writes went on after the pause');
      await assertExactlyAllRows(writer, 'paused_ledger');
      assert.ok(retriedWrites(log).length > 0, 'the pause forced retries');
      assertOneKeyPerWrite(log);
      await cluster.waitForMembers(3);
      await cluster.waitForConvergence();
    });
  });
});
