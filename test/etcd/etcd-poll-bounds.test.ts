/**
 * The etcd log's poll, in process against a real etcd (one member), counting its reads
 * through the client:
 * - the leader key asked for on demand (a read's `freshness` that finds contact too old)
 *   at every tick: several reads at once, so that one picking a hung etcd member does not
 *   hold the others (they renew the node's contact with the leader meanwhile), but at most
 *   `leaderRefreshCountMax` (4): while etcd does not answer at all (SIGSTOP for 25 ticks),
 *   the ticks start no fifth; asks within one tick share one read;
 * - the leader key, the members and the log's end once a second while all is well, not at
 *   every tick; the leader key at every tick while no leader is known;
 * - ten asks at once share one read.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { resolveNodeConfig } from '../../src/node/config.js';
import { etcdKeys } from '../../src/node/etcd-keys.js';
import { EtcdLog, leaderRefreshCountMax } from '../../src/node/etcd-log.js';
import { silentLogger } from '../../src/node/logger.js';
import { systemScheduler } from '../../src/node/scheduler.js';
import { MultiDatabaseMachine } from '../../src/state-machine/multi-database-machine.js';
import { sleep, waitFor } from '../cluster/harness.js';
import { EtcdCluster } from './etcd-cluster.js';

const prefix = `/quorumlite-poll-bounds-${process.pid}`;
const pollIntervalMs = 20;

let etcd: EtcdCluster;
let client: Etcd3;
const directory = mkdtempSync(join(tmpdir(), 'quorumlite-poll-bounds-'));

before(async () => {
  etcd = await EtcdCluster.start({ size: 1 });
  client = new Etcd3({ hosts: etcd.endpoints });
});

after(async () => {
  etcd?.resume(0);
  client?.close();
  await etcd?.close();
  rmSync(directory, { recursive: true, force: true });
});

/** Counts the reads of `key` through `client.get(key).exec()`: in flight, the most at once, and in all. */
function countReads(etcdClient: Etcd3, key: string): { readonly inFlight: () => number; most: number; total: number } {
  const counter = { inFlight: () => inFlight, most: 0, total: 0 };
  let inFlight = 0;
  const get = etcdClient.get.bind(etcdClient);
  etcdClient.get = (requested: string | Buffer) => {
    const builder = get(requested);
    if (requested.toString() !== key) return builder;
    const exec = builder.exec.bind(builder);
    builder.exec = async () => {
      inFlight += 1;
      counter.total += 1;
      counter.most = Math.max(counter.most, inFlight);
      try {
        return await exec();
      } finally {
        inFlight -= 1;
      }
    };
    return builder;
  };
  return counter;
}

/** Counts the reads of every key under `keyPrefix` through `client.getAll().prefix(keyPrefix)`. */
function countPrefixReads(etcdClient: Etcd3, keyPrefix: string): { total: number } {
  const counter = { total: 0 };
  const getAll = etcdClient.getAll.bind(etcdClient);
  etcdClient.getAll = () => {
    const builder = getAll();
    const prefixed = builder.prefix.bind(builder);
    builder.prefix = (requested: string | Buffer) => {
      if (requested.toString() === keyPrefix) counter.total += 1;
      return prefixed(requested);
    };
    return builder;
  };
  return counter;
}

/** An etcd log for node n1 under `name`'s prefix, polling every pollIntervalMs; `close` stops it. */
function etcdLog(name: string, nonVoter = false): { readonly log: EtcdLog; readonly close: () => Promise<void> } {
  const dataDirectory = join(directory, name);
  mkdirSync(dataDirectory);
  const config = resolveNodeConfig({ nodeId: 'n1', raftAdvertisedAddress: '127.0.0.1:1', apiAdvertisedAddress: '127.0.0.1:2', dataDirectory, nonVoter });
  const stateMachine = new MultiDatabaseMachine({ path: join(dataDirectory, 'db.sqlite'), foreignKeys: false, extensionPaths: [], databaseCountMax: 1 });
  const log = new EtcdLog({
    config,
    client,
    prefix: `${prefix}/${name}`,
    stateMachine,
    scheduler: systemScheduler,
    logger: silentLogger,
    leaseTtlSeconds: 60,
    pollIntervalMs,
    compactionLagEntryCountMax: 1_000,
  });
  return {
    log,
    close: async () => {
      await log.stop({ transferLeadership: false });
      stateMachine.close();
    },
  };
}

/** Starts `log` (node n1, alone) and waits until it leads. */
async function startLeading(log: EtcdLog): Promise<void> {
  await log.start();
  await waitFor('n1 leads', () => (log.isLeader ? true : undefined));
}

test('at most leaderRefreshCountMax (4) reads of the leader key are in flight: while etcd does not answer, no fifth starts', { timeout: 60_000 }, async () => {
  assert.equal(leaderRefreshCountMax, 4);
  const { log, close } = etcdLog('bound');
  const reads = countReads(client, etcdKeys(`${prefix}/bound`).leader);
  try {
    await startLeading(log);
    reads.most = 0;
    etcd.pause(0);
    try {
      // Asked every tick, as reads with a tight `freshness` would; five asks within one tick join the first.
      for (let tick = 0; tick < 25; tick++) {
        for (let ask = 0; ask < 5; ask++) void log.refreshLeaderContact();
        await sleep(pollIntervalMs);
      }
      assert.equal(reads.inFlight(), leaderRefreshCountMax, 'as many reads wait as the bound allows');
    } finally {
      etcd.resume(0);
    }
    assert.equal(reads.most, leaderRefreshCountMax, 'and never one more');
    await waitFor('the waiting reads are answered once etcd is back', () => (reads.inFlight() < leaderRefreshCountMax ? true : undefined));
  } finally {
    await close();
  }
});

test("the leader key, the members and the log's end are read once a second while all is well", { timeout: 60_000 }, async () => {
  const windowMs = 2_500;
  const { log, close } = etcdLog('cadence');
  const keys = etcdKeys(`${prefix}/cadence`);
  const leaderReads = countReads(client, keys.leader);
  const memberReads = countPrefixReads(client, keys.membersPrefix);
  try {
    await startLeading(log); // all is well: no every-tick reads of a log without a leader
    leaderReads.total = 0;
    memberReads.total = 0;
    await sleep(windowMs);
    // At most one a second in 2.5 s: 3 if a poll falls at the window's start; a slow machine polls less, never more.
    assert.ok(memberReads.total >= 1 && memberReads.total <= 3, `${memberReads.total} reads of the members in ${windowMs} ms`);
    assert.ok(
      leaderReads.total >= 1 && leaderReads.total <= 3,
      `${leaderReads.total} reads of the leader key in ${windowMs} ms (a tick is ${pollIntervalMs} ms)`,
    );
  } finally {
    await close();
  }
});

test('asks for contact within a poll share the read in flight', { timeout: 60_000 }, async () => {
  const { log, close } = etcdLog('shared');
  const reads = countReads(client, etcdKeys(`${prefix}/shared`).leader);
  try {
    await startLeading(log);
    reads.total = 0;
    await Promise.all(Array.from({ length: 10 }, () => log.refreshLeaderContact()));
    // One read for the ten; a second only if the poll's own once-a-second read fell in this instant. Unshared, the bound's 4.
    assert.ok(reads.total >= 1 && reads.total <= 2, `${reads.total} reads of the leader key for 10 asks at once`);
  } finally {
    await close();
  }
});

test('while no leader is known (a non-voter alone), the leader key is read at every tick', { timeout: 60_000 }, async () => {
  const windowMs = 500;
  const { log, close } = etcdLog('leaderless', true);
  const reads = countReads(client, etcdKeys(`${prefix}/leaderless`).leader);
  try {
    await log.start();
    assert.equal(log.leaderId, '');
    reads.total = 0;
    await sleep(windowMs);
    // 25 ticks in the window; a slow machine ticks less, so half of them. Once a second would be 1.
    assert.ok(reads.total >= windowMs / pollIntervalMs / 2, `${reads.total} reads of the leader key in ${windowMs} ms`);
  } finally {
    await close();
  }
});
