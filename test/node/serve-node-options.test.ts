/**
 * rqlited's flags reach the node: serve's options map onto QuorumNodeOptions and resolve
 * into a valid NodeConfig, with the Raft timing in ticks the core runs on.
 */
import { parsed } from './serve-flag-checks.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rqlitedNodeOptions } from '../../src/cli/serve-node-options.js';
import { resolveNodeConfig, nodeConfigDefaults } from '../../src/node/config.js';
import { planCandidateElectionTicks, planTicks } from '../../src/node/timing.js';
import { commandLimits } from '../../src/state-machine/command-codec.js';

const identity = { nodeId: 'n1', raftAdvertisedAddress: '127.0.0.1:4002', apiAdvertisedAddress: '127.0.0.1:4001', dataDirectory: '/tmp/n1' };

test('every flag given reaches the node options, and they resolve into a valid node config', () => {
  const options = rqlitedNodeOptions(
    parsed([
      '-raft-heartbeat-timeout=1s',
      '-raft-election-timeout=3s',
      '-raft-apply-timeout=4s',
      '-bootstrap-expect-timeout=45s',
      '-auto-vacuum-int=1h',
      '-auto-optimize-int=0s',
      '-extensions-path=/opt/ext',
      '-raft-snap-wal-size=1048576',
      '-cluster-connect-timeout=7s',
      '-join-attempts=9',
      '-join-interval=250ms',
      '-join-as=alice',
      '-raft-remove-shutdown',
      '-raft-cluster-remove-shutdown=true',
      '-raft-shutdown-stepdown=false',
      '-raft-reap-node-timeout=2h',
      '-raft-reap-read-only-node-timeout=30m',
      '-write-queue-capacity=99',
      '-write-queue-batch-size=9',
      '-write-queue-timeout=5ms',
      '-write-queue-tx',
      '-fk',
      '-db-count-max=9',
      '-sqlite-page-size=1024',
    ]),
  );
  assert.deepEqual(options, {
    candidateElectionTimeoutMs: 3000,
    applyTimeoutMs: 4000,
    bootstrapExpectTimeoutMs: 45_000,
    autoVacuumIntervalMs: 3_600_000,
    autoOptimizeIntervalMs: 0,
    extensionPaths: ['/opt/ext'],
    snapshotWalBytes: 1_048_576,
    transportLimits: { connectTimeoutMs: 7000 },
    joinAttemptCountMax: 9,
    joinIntervalMs: 250,
    joinAs: 'alice',
    exitWhenRemoved: true,
    removeOnShutdown: true,
    stepDownOnShutdown: false,
    reapNodeTimeoutMs: 7_200_000,
    reapReadOnlyNodeTimeoutMs: 1_800_000,
    writeQueueCountMax: 99,
    writeQueueBatchCountMax: 9,
    writeQueueTimeoutMs: 5,
    writeQueueTransaction: true,
    foreignKeys: true,
    databaseCountMax: 9,
    sqlitePageSize: 1024,
  });
  const config = resolveNodeConfig({ ...identity, ...options, heartbeatMs: 100, electionTimeoutMs: 1000 });
  assert.equal(config.candidateElectionTimeoutMs, 3000);
  const plan = planTicks(config.heartbeatMs, config.electionTimeoutMs);
  assert.deepEqual(plan, { tickMs: 100, heartbeatTicks: 1, electionTicks: 10 });
  assert.equal(planCandidateElectionTicks(plan, config.candidateElectionTimeoutMs), 30);
  assert.equal(planCandidateElectionTicks(plan, 0), 10, '0: as a follower');
});

test('flags not given keep the node defaults where rqlited defaults would change today', () => {
  const options = rqlitedNodeOptions(parsed([]));
  assert.equal(options.joinAttemptCountMax, 5, "rqlited's -join-attempts default");
  assert.equal(options.joinIntervalMs, 3000, "rqlited's -join-interval default");
  assert.equal(options.transportLimits, undefined);
  assert.equal(options.snapshotWalBytes, nodeConfigDefaults.snapshotWalBytes, "rqlited's -raft-snap-wal-size default, 4 MiB");
  const config = resolveNodeConfig({ ...identity, ...options });
  assert.equal(config.joinAttemptCountMax, nodeConfigDefaults.joinAttemptCountMax);
  assert.equal(config.candidateElectionTimeoutMs, 0);
  assert.equal(config.applyTimeoutMs, 10_000);
  assert.equal(config.autoOptimizeIntervalMs, 86_400_000, "rqlited's 24h");
  assert.equal(config.stepDownOnShutdown, true);
});

test('a candidate timeout below the follower timeout is refused by the node config', () => {
  assert.throws(
    () => resolveNodeConfig({ ...identity, electionTimeoutMs: 1000, candidateElectionTimeoutMs: 999 }),
    /candidateElectionTimeoutMs \(999\) must be 0 or >= electionTimeoutMs/,
  );
});

test("the write-queue flags reach the node config: rqlited's 0s timeout (only full batches go) is valid, a batch over one entry's bound is not", () => {
  const options = rqlitedNodeOptions(parsed(['-write-queue-timeout=0s', `-write-queue-batch-size=${commandLimits.queuedRequestCountMax}`]));
  const config = resolveNodeConfig({ ...identity, ...options });
  assert.equal(config.writeQueueTimeoutMs, 0);
  assert.equal(config.writeQueueBatchCountMax, commandLimits.queuedRequestCountMax);
  assert.deepEqual(
    [
      nodeConfigDefaults.writeQueueCountMax,
      nodeConfigDefaults.writeQueueBatchCountMax,
      nodeConfigDefaults.writeQueueTimeoutMs,
      nodeConfigDefaults.writeQueueTransaction,
    ],
    [1024, 128, 50, false],
    "rqlited's defaults",
  );
  assert.throws(
    () => resolveNodeConfig({ ...identity, writeQueueBatchCountMax: commandLimits.queuedRequestCountMax + 1 }),
    /writeQueueBatchCountMax 10001 is more than a batch entry carries \(10000\)/,
  );
  assert.throws(() => resolveNodeConfig({ ...identity, writeQueueTimeoutMs: -1 }), /writeQueueTimeoutMs must be a whole number >= 0/);
  assert.throws(() => resolveNodeConfig({ ...identity, writeQueueCountMax: 0 }), /writeQueueCountMax must be a whole number >= 1/);
});

test('the TLS flags reach the node options as they were parsed; none given, no TLS option', () => {
  const flags = [
    '-http-cert',
    '/c.crt',
    '-http-key',
    '/c.key',
    '-node-cert',
    '/n.crt',
    '-node-key',
    '/n.key',
    '-node-ca-cert',
    '/ca.crt',
    '-node-verify-client',
  ];
  assert.deepEqual(rqlitedNodeOptions(parsed(flags)).tls, {
    http: { certPath: '/c.crt', keyPath: '/c.key', verifyClient: false },
    peers: { certPath: '/n.crt', keyPath: '/n.key', caPath: '/ca.crt', verifyClient: true, noVerify: false },
  });
  assert.equal(rqlitedNodeOptions(parsed([])).tls, undefined);
});
