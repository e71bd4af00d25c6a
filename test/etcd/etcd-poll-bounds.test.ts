/**
 * The etcd log's poll reads the leader key at every tick, several reads at once so that
 * one picking a hung etcd member does not hold the others (they renew the node's contact
 * with the leader meanwhile), but at most `leaderRefreshCountMax` (4): while etcd does not
 * answer at all, the ticks start no fifth. In process, against a real etcd (one member)
 * that the test stops (SIGSTOP) for 25 ticks; the test counts the reads of the leader
 * key in flight through the client.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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

/** Counts the reads of `key` in flight through `client.get(key).exec()`, and the most at once. */
function countReads(etcdClient: Etcd3, key: string): { readonly inFlight: () => number; most: number } {
  const counter = { inFlight: () => inFlight, most: 0 };
  let inFlight = 0;
  const get = etcdClient.get.bind(etcdClient);
  etcdClient.get = (requested: string | Buffer) => {
    const builder = get(requested);
    if (requested.toString() !== key) return builder;
    const exec = builder.exec.bind(builder);
    builder.exec = async () => {
      inFlight += 1;
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

test('at most leaderRefreshCountMax (4) reads of the leader key are in flight: while etcd does not answer, no fifth starts', { timeout: 60_000 }, async () => {
  assert.equal(leaderRefreshCountMax, 4);
  const config = resolveNodeConfig({
    nodeId: 'n1',
    raftAdvertisedAddress: '127.0.0.1:1',
    apiAdvertisedAddress: '127.0.0.1:2',
    dataDirectory: directory,
  });
  const stateMachine = new MultiDatabaseMachine({ path: join(directory, 'db.sqlite'), foreignKeys: false, extensionPaths: [], databaseCountMax: 1 });
  const reads = countReads(client, etcdKeys(prefix).leader);
  const log = new EtcdLog({
    config,
    client,
    prefix,
    stateMachine,
    scheduler: systemScheduler,
    logger: silentLogger,
    leaseTtlSeconds: 60,
    pollIntervalMs,
    compactionLagEntryCountMax: 1_000,
  });
  try {
    await log.start();
    await waitFor('n1 leads', () => (log.isLeader ? true : undefined));
    reads.most = 0;
    etcd.pause(0);
    try {
      await sleep(pollIntervalMs * 25);
      assert.equal(reads.inFlight(), leaderRefreshCountMax, 'as many reads wait as the bound allows');
    } finally {
      etcd.resume(0);
    }
    assert.equal(reads.most, leaderRefreshCountMax, 'and never one more');
    await waitFor('the waiting reads are answered once etcd is back', () => (reads.inFlight() < leaderRefreshCountMax ? true : undefined));
  } finally {
    await log.stop({ transferLeadership: false });
    stateMachine.close();
  }
});
