/**
 * A hung leader (SIGSTOP: its sockets stay open, it answers nothing) against a real
 * 3-node cluster (built CLI, 127.0.0.1/.2/.3). The client must not wait out its attempt
 * timeout: it asks the other nodes who leads and moves its writes to the new leader,
 * each with the same idempotency key on every attempt, so every write is applied once.
 *
 * The attempt timeout is set far above the bound the test asserts, so a client that
 * waits for it fails the test. The stopped process is always continued (finally).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, type Client } from '../../src/client/index.js';
import { TestCluster } from '../cluster/harness.js';
import { recordingTransport } from './helpers/recording-transport.js';

const writerLoopCount = 4;
const writesPerLoop = 25;
const totalWriteCount = writerLoopCount * writesPerLoop;
/** Far above the bound below: an attempt that waits on the hung leader for this long fails the test. */
const attemptTimeoutMs = 30_000;
/** Every write must be acknowledged within this of the stop (an election plus the client's check, on a loaded 2-core machine). */
const acknowledgedWithinMs = 10_000;
const callDeadlineMs = 60_000;

describe('client against a hung (SIGSTOPped) leader', () => {
  let cluster: TestCluster;
  const clients: Client[] = [];

  before(async () => {
    cluster = await TestCluster.create({ size: 3, formation: 'join', flags: ['--log-level', 'info'] });
    await cluster.start().catch((error: unknown) => {
      console.error(cluster.logs());
      throw error;
    });
  });
  after(async () => {
    for (const client of clients) await client.close();
    await cluster?.close();
  });

  it(`moves writes to the new leader long before the ${attemptTimeoutMs} ms attempt timeout, each applied once`, { timeout: 120_000 }, async () => {
    await cluster.withLogs(async () => {
      const leader = await cluster.waitForLeader();
      const { transport, log } = recordingTransport();
      const { keysByWrite } = log;
      const client = createClient({ nodes: cluster.running().map((node) => node.url), transport, timeoutMs: attemptTimeoutMs, deadlineMs: callDeadlineMs });
      clients.push(client);
      await client.execute('CREATE TABLE hung_ledger (k INTEGER NOT NULL)');
      assert.equal(client.knownLeader, leader.url, 'the client knows the leader before it hangs');
      const pid = leader.process?.pid;
      assert.ok(pid !== undefined);
      const latenciesMs: number[] = [];
      process.kill(pid, 'SIGSTOP');
      const stoppedAtMs = performance.now();
      try {
        const loop = async (loopIndex: number): Promise<void> => {
          for (let index = 0; index < writesPerLoop; index += 1) {
            await client.execute({ sql: 'INSERT INTO hung_ledger (k) VALUES (?)', args: [loopIndex * writesPerLoop + index] });
            latenciesMs.push(performance.now() - stoppedAtMs);
          }
        };
        await Promise.all(Array.from({ length: writerLoopCount }, (_, loopIndex) => loop(loopIndex)));
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      const slowest = Math.max(...latenciesMs);
      assert.ok(slowest < acknowledgedWithinMs, `every write acknowledged within ${acknowledgedWithinMs} ms of the stop (slowest ${slowest.toFixed(0)} ms)`);
      assert.notEqual(client.knownLeader, leader.url, 'the client moved to the new leader');
      const retried = [...keysByWrite.values()].filter((keys) => keys.length > 1);
      assert.ok(retried.length > 0, 'the first writes went to the hung leader and were retried');
      for (const keys of keysByWrite.values()) assert.ok(keys[0] !== '' && keys.every((key) => key === keys[0]), 'every attempt of a write reuses its key');
      assert.equal(new Set([...keysByWrite.values()].map((keys) => keys[0])).size, keysByWrite.size, 'no two writes share a key');
      await cluster.waitForMembers(3);
      const reply = await client.query<{ count: number; distinct_k: number }>('SELECT count(*) AS count, count(DISTINCT k) AS distinct_k FROM hung_ledger', {
        consistency: 'linearizable',
      });
      assert.deepEqual(reply.results[0]?.rows, [{ count: totalWriteCount, distinct_k: totalWriteCount }], 'every write applied exactly once');
    });
  });

  // FINDINGS J8: a client that knows no leader (a new one, or one whose leader just answered 503 while taking over)
  // sends its write to a guess; when the guess was a hung node, the leader check did not run (it watched only the
  // node the client took for the leader) and the write waited out the whole attempt timeout.
  it('a write whose guessed node is hung moves to the leader long before the attempt timeout', { timeout: 120_000 }, async () => {
    await cluster.withLogs(async () => {
      const leader = await cluster.waitForLeader();
      const hung = cluster.running().find((node) => node !== leader);
      assert.ok(hung !== undefined);
      const others = cluster.running().filter((node) => node !== hung);
      const client = createClient({ nodes: [hung.url, ...others.map((node) => node.url)], timeoutMs: attemptTimeoutMs, deadlineMs: callDeadlineMs });
      clients.push(client);
      assert.equal(client.knownLeader, undefined, 'a new client knows no leader: its first guess is the first node');
      const pid = hung.process?.pid;
      assert.ok(pid !== undefined);
      process.kill(pid, 'SIGSTOP');
      const stoppedAtMs = performance.now();
      let tookMs: number;
      try {
        await client.execute('CREATE TABLE IF NOT EXISTS guessed (k INTEGER)');
        tookMs = performance.now() - stoppedAtMs;
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      assert.ok(tookMs < acknowledgedWithinMs, `the write was acknowledged within ${acknowledgedWithinMs} ms (took ${tookMs.toFixed(0)} ms)`);
      assert.equal(client.knownLeader, leader.url, 'the other nodes named the leader');
    });
  });
});
