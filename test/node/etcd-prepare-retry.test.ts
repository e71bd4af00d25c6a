/**
 * A node that wins the etcd leader key but cannot read the log's end at that moment (etcd
 * unreachable for a moment, the client's circuit breaker open) must take up leadership
 * at a later poll, once etcd answers again. Found by the fault suite under
 * `--consensus etcd` (test/jepsen/FINDINGS.md, J6): the failed preparation was never
 * retried, so the node held the key — its lease kept alive — without serving, and the
 * cluster had no usable leader for 22 s, until the lease happened to be lost.
 *
 * The failure is planted in process: every log-end read (the only `keys()` range read the
 * etcd log makes) fails while armed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MultiRangeBuilder } from 'etcd3';
import type { NodeLogger } from '../../src/node/logger.js';
import { EtcdQuorumNode } from '../../src/server/etcd-quorum-node.js';
import { freePort, waitFor } from '../cluster/harness.js';
import { EtcdCluster } from '../etcd/etcd-cluster.js';

const host = '127.0.0.1';
let etcd: EtcdCluster;
let node: EtcdQuorumNode | undefined;
const directory = mkdtempSync(join(tmpdir(), 'quorumlite-etcd-prepare-'));

let failLogEndReads = false;
const originalKeys = MultiRangeBuilder.prototype.keys;

before(async () => {
  etcd = await EtcdCluster.start({ size: 1 });
  MultiRangeBuilder.prototype.keys = function keys(this: MultiRangeBuilder, ...rest: Parameters<MultiRangeBuilder['keys']>) {
    if (failLogEndReads) return Promise.reject(new Error('planted: etcd did not answer'));
    return originalKeys.apply(this, rest);
  };
});

after(async () => {
  MultiRangeBuilder.prototype.keys = originalKeys;
  await node?.stop({ transferLeadership: false }).catch(() => undefined);
  await etcd?.close();
  rmSync(directory, { recursive: true, force: true });
});

test('a leader whose preparation failed takes up leadership at a later poll', { timeout: 60_000 }, async () => {
  const events: string[] = [];
  const record = (fields: Record<string, unknown>): void => {
    if (typeof fields.event === 'string') events.push(fields.event);
  };
  const logger: NodeLogger = { debug: record, info: record, warn: record, error: record };
  const raft = `${host}:${await freePort(host)}`;
  const httpPort = await freePort(host);
  failLogEndReads = true;
  node = await EtcdQuorumNode.start(
    {
      nodeId: 'only',
      raftAdvertisedAddress: raft,
      apiAdvertisedAddress: `${host}:${httpPort}`,
      dataDirectory: directory,
      httpListen: { host, port: httpPort },
      raftListen: raft,
      logger,
      version: 'test',
      heartbeatMs: 200,
      electionTimeoutMs: 1000,
    },
    { endpoints: etcd.endpoints, prefix: `/quorumlite-prepare-retry-${process.pid}`, leaseTtlSeconds: 2 },
  );
  const started = node;
  await waitFor('the leader key won and the preparation failed', async () => (events.includes('etcd-prepare-failed') ? true : undefined), 20_000);
  assert.equal(started.log.isLeader, false);
  failLogEndReads = false;
  await waitFor('the node leads once etcd answers again', async () => (started.log.isLeader ? true : undefined), 10_000);
  assert.ok(events.includes('etcd-leader-ready'), events.join(', '));
});
