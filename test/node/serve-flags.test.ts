import { test } from 'node:test';
import { parsed, refused } from './serve-flag-checks.js';
import assert from 'node:assert/strict';
import {
  parseServeFlags,
  parseHostPort,
  joinAddressCountMax,
  joinAttemptCountFlagMax,
  joinAsLengthMax,
  bootstrapExpectMax,
  writeQueueCountFlagMax,
} from '../../src/cli/serve-flags.js';
import { nodeIdLengthMax } from '../../src/service/service.js';
import { commandLimits } from '../../src/state-machine/command-codec.js';
import { parseDurationMs, durationTextLengthMax, timerDelayMsMax } from '../../src/common/duration.js';

test('defaults match rqlited: HTTP 4001, Raft 4002, ./data, id from the raft address', () => {
  const options = parsed([]);
  assert.deepEqual(options.httpAddress, { host: '127.0.0.1', port: 4001 });
  assert.deepEqual(options.raftAddress, { host: '127.0.0.1', port: 4002 });
  assert.deepEqual(options.httpAdvertisedAddress, options.httpAddress);
  assert.deepEqual(options.raftAdvertisedAddress, options.raftAddress);
  assert.equal(options.dataDirectory, './data');
  assert.equal(options.nodeId, '127.0.0.1:4002');
  assert.deepEqual(options.joinAddresses, []);
  assert.equal(options.bootstrapExpect, 0);
  assert.equal(options.nonVoter, false);
  assert.equal(options.heartbeatMs, 50);
  assert.equal(options.electionTimeoutMs, 300);
  assert.equal(options.snapshotThresholdEntries, 8192);
  assert.equal(options.snapshotIntervalMs, 10_000);
  assert.equal(options.logLevel, 'info');
  // rqlite's trailing-logs rule: 1.25 × -raft-snap (8192).
  assert.equal(options.snapshotTrailingEntries, 10240);
  assert.equal(options.httpBodyBytesMax, 64 * 1024 * 1024);
});

test('every flag, in both --name value and --name=value forms', () => {
  const options = parsed([
    '--node-id',
    'n1',
    '--http-addr=127.0.0.2:5001',
    '--raft-addr',
    '127.0.0.2:5002',
    '--http-adv-addr',
    'db1.example:5001',
    '--raft-adv-addr=db1.example:5002',
    '--data-dir',
    '/tmp/x',
    '--join',
    'http://127.0.0.3:5002,127.0.0.4:5002',
    '--bootstrap-expect',
    '3',
    '--raft-non-voter',
    '--heartbeat-ms',
    '75',
    '--election-timeout-ms=750',
    '--raft-snap',
    '100',
    '--raft-snap-int',
    '1m30s',
    '--log-level',
    'warn',
    '--raft-trailing-logs',
    '0',
    '--http-max-body-bytes',
    '4096',
  ]);
  assert.equal(options.snapshotTrailingEntries, 0);
  assert.equal(options.httpBodyBytesMax, 4096);
  assert.equal(options.nodeId, 'n1');
  assert.deepEqual(options.httpAddress, { host: '127.0.0.2', port: 5001 });
  assert.deepEqual(options.raftAdvertisedAddress, { host: 'db1.example', port: 5002 });
  assert.deepEqual(options.joinAddresses, ['http://127.0.0.3:5002', '127.0.0.4:5002'], 'an http:// address names an HTTP API');
  assert.equal(options.bootstrapExpect, 3);
  assert.equal(options.nonVoter, true);
  assert.equal(options.heartbeatMs, 75);
  assert.equal(options.electionTimeoutMs, 750);
  assert.equal(options.snapshotThresholdEntries, 100);
  assert.equal(options.snapshotIntervalMs, 90_000);
  assert.equal(options.logLevel, 'warn');
});

test('the node id defaults to the advertised raft address', () => {
  assert.equal(parsed(['--raft-adv-addr', 'db1:4002']).nodeId, 'db1:4002');
});

test('--join: Raft addresses as HOST:PORT, HTTP addresses as http(s)://HOST:PORT; anything else is refused', () => {
  const options = parsed(['--join', '127.0.0.3:4002, HTTP://127.0.0.4:4001/,https://db5.example:443,[::1]:4002']);
  assert.deepEqual(options.joinAddresses, ['127.0.0.3:4002', 'http://127.0.0.4:4001', 'https://db5.example:443', '[::1]:4002']);
  refused(['--join', 'ftp://127.0.0.1:4002'], /--join: invalid address "ftp:\/\/127.0.0.1:4002", expected HOST:PORT or http\(s\):\/\/HOST:PORT/);
  refused(['--join', 'http://127.0.0.1'], /--join: invalid address/);
  refused(['--join', 'http://127.0.0.1:4001/db'], /--join: invalid address/);
  refused(['--join', 'http://'], /--join: invalid address/);
});

test('--join-attempts, --join-interval, --join-as: rqlited defaults 5 and 3s, anonymous; bounds and refusals', () => {
  const defaults = parsed([]);
  assert.equal(defaults.joinAttemptCountMax, 5);
  assert.equal(defaults.joinIntervalMs, 3_000);
  assert.equal(defaults.joinAs, '');
  const options = parsed(['--join-attempts', '7', '--join-interval=1.5s', '--join-as', 'alice']);
  assert.equal(options.joinAttemptCountMax, 7);
  assert.equal(options.joinIntervalMs, 1_500);
  assert.equal(options.joinAs, 'alice');
  assert.equal(parsed(['--join-attempts', String(joinAttemptCountFlagMax)]).joinAttemptCountMax, joinAttemptCountFlagMax);
  refused(['--join-attempts', String(joinAttemptCountFlagMax + 1)], /--join-attempts: .* out of range/);
  refused(['--join-attempts', '0'], /--join-attempts: 0 out of range/);
  refused(['--join-interval', '3'], /--join-interval: invalid duration/);
  refused(['--join-interval', '0s'], /--join-interval/);
  assert.equal(parsed(['--join-as', 'u'.repeat(joinAsLengthMax)]).joinAs.length, joinAsLengthMax);
  refused(['--join-as', 'u'.repeat(joinAsLengthMax + 1)], /--join-as: longer than/);
  refused(['--join-as', 'alice:secret'], /--join-as: .* other than spaces and ':'/);
  refused(['--join-as', 'al ice'], /--join-as/);
  refused(['--join-as', 'al\u0007ice'], /--join-as/);
});

test('--sqlite-page-size: 4096 by default; a power of two from 512 to 65536, both bounds taken; anything else refused', () => {
  assert.equal(parsed([]).sqlitePageSize, 4096);
  assert.equal(parsed(['--sqlite-page-size', '512']).sqlitePageSize, 512);
  assert.equal(parsed(['-sqlite-page-size=1024']).sqlitePageSize, 1024);
  assert.equal(parsed(['--sqlite-page-size', '65536']).sqlitePageSize, 65_536);
  refused(['--sqlite-page-size', '256'], /--sqlite-page-size: 256 out of range 512-65536/);
  refused(['--sqlite-page-size', '131072'], /--sqlite-page-size: 131072 out of range 512-65536/);
  refused(['--sqlite-page-size', '1000'], /--sqlite-page-size: 1000 is not a power of two/);
  refused(['--sqlite-page-size', '4k'], /--sqlite-page-size: "4k" is not a whole number/);
  refused(['--sqlite-page-size'], /--sqlite-page-size needs a value/);
});

test('--help is recognised', () => {
  assert.equal(parseServeFlags(['--help']), 'help');
});

test('bad flags and values are refused with a message naming the flag', () => {
  refused(['--nope'], /unknown flag --nope/);
  // A lone argument is rqlited's data directory now; a second one is refused.
  refused(['data', 'serve'], /arguments after data directory \(data\) are not accepted \(serve\)/);
  refused(['--node-id'], /--node-id needs a value/);
  refused(['--node-id', '--http-addr', 'x:1'], /--node-id needs a value/);
  refused(['--node-id', 'a', '--node-id', 'b'], /given twice/);
  refused(['--raft-non-voter=yes'], /takes no value/);
  refused(['--http-addr', 'localhost'], /--http-addr: invalid address/);
  refused(['--http-addr', '127.0.0.1:0'], /port 0 out of range/);
  refused(['--raft-addr', '127.0.0.1:70000'], /out of range/);
  refused(['--join', '127.0.0.1:4002,nonsense'], /--join: invalid address/);
  refused(['--heartbeat-ms', 'fast'], /not a whole number/);
  refused(['--heartbeat-ms', '5'], /out of range/);
  refused(['--heartbeat-ms', '100', '--election-timeout-ms', '150'], /at least twice/);
  refused(['--raft-snap', '0'], /out of range/);
  refused(['--raft-snap', '-3'], /not a whole number/);
  refused(['--raft-snap-int', '10'], /--raft-snap-int: invalid duration/);
  refused(['--log-level', 'loud'], /--log-level/);
  refused(['--http-max-body-bytes', '1023'], /out of range/);
  refused(['--node-id', 'has space'], /--node-id/);
  refused(['--http-addr', '127.0.0.1:4002'], /must differ/);
  refused(['--bootstrap-expect', '3'], /needs --join/);
});

test('bounds: join list, bootstrap-expect, node id length, at the bound and one over', () => {
  const addresses = (count: number) => Array.from({ length: count }, (_, i) => `127.0.0.1:${5000 + i}`).join(',');
  assert.equal(parsed(['--join', addresses(joinAddressCountMax)]).joinAddresses.length, joinAddressCountMax);
  refused(['--join', addresses(joinAddressCountMax + 1)], /at most/);
  assert.equal(parsed(['--bootstrap-expect', String(bootstrapExpectMax), '--join', 'a:1']).bootstrapExpect, bootstrapExpectMax);
  refused(['--bootstrap-expect', String(bootstrapExpectMax + 1), '--join', 'a:1'], /out of range/);
  assert.equal(parsed(['--node-id', 'x'.repeat(nodeIdLengthMax)]).nodeId.length, nodeIdLengthMax);
  refused(['--node-id', 'x'.repeat(nodeIdLengthMax + 1)], /longer than/);
});

test('--raft-snap-int: from 1ms up to the longest delay a Node timer can wait', () => {
  assert.equal(parsed(['--raft-snap-int', '1ms']).snapshotIntervalMs, 1);
  assert.equal(parsed(['--raft-snap-int', `${timerDelayMsMax}ms`]).snapshotIntervalMs, timerDelayMsMax);
  refused(['--raft-snap-int', '999us'], /--raft-snap-int: invalid duration "999us": below the minimum of 1ms/);
  refused(['--raft-snap-int', '-1s'], /below the minimum of 1ms/);
  refused(['--raft-snap-int', `${timerDelayMsMax + 1}ms`], /above the maximum of 2147483647ms/);
  refused(['--raft-snap-int', '1d'], /unknown unit "d"/);
});

test('IPv6 addresses in brackets', () => {
  assert.deepEqual(parseHostPort('[::1]:4001', 'http-addr'), { host: '::1', port: 4001 });
});

test('Go-style durations', () => {
  assert.equal(parseDurationMs('500ms'), 500);
  assert.equal(parseDurationMs('2s'), 2000);
  assert.equal(parseDurationMs('1m30s'), 90_000);
  assert.equal(parseDurationMs('1.5h'), 5_400_000);
  assert.equal(parseDurationMs('0'), 0);
  for (const bad of ['', '10', 's', '1x', '1s2', '-1s', '1 s']) {
    assert.throws(() => parseDurationMs(bad), /invalid duration/, bad);
  }
  assert.equal(parseDurationMs(`${'0'.repeat(durationTextLengthMax - 1)}s`), 0);
  assert.throws(() => parseDurationMs(`${'0'.repeat(durationTextLengthMax)}s`), /invalid duration/);
});

test('write-queue flags: rqlited’s defaults (1024, 128, 50ms, no transaction), parsed and bounded', () => {
  const defaults = parsed([]);
  assert.equal(defaults.writeQueueCountMax, 1024);
  assert.equal(defaults.writeQueueBatchCountMax, 128);
  assert.equal(defaults.writeQueueTimeoutMs, 50);
  assert.equal(defaults.writeQueueTransaction, false);
  const set = parsed(['--write-queue-capacity', '10', '--write-queue-batch-size=5', '--write-queue-timeout', '1.5s', '--write-queue-tx']);
  assert.equal(set.writeQueueCountMax, 10);
  assert.equal(set.writeQueueBatchCountMax, 5);
  assert.equal(set.writeQueueTimeoutMs, 1500);
  assert.equal(set.writeQueueTransaction, true);
  assert.equal(parsed(['--write-queue-timeout', '0s']).writeQueueTimeoutMs, 0, '0: a batch goes only when full');
  assert.equal(parsed(['--write-queue-timeout', '1500us']).writeQueueTimeoutMs, 2, 'rounded up to whole milliseconds');
  assert.equal(parsed(['--write-queue-capacity', String(writeQueueCountFlagMax)]).writeQueueCountMax, writeQueueCountFlagMax);
  refused(['--write-queue-capacity', String(writeQueueCountFlagMax + 1)], /--write-queue-capacity: .* out of range/);
  refused(['--write-queue-capacity', '0'], /--write-queue-capacity: 0 out of range/);
  assert.equal(parsed(['--write-queue-batch-size', String(commandLimits.queuedRequestCountMax)]).writeQueueBatchCountMax, commandLimits.queuedRequestCountMax);
  refused(['--write-queue-batch-size', String(commandLimits.queuedRequestCountMax + 1)], /--write-queue-batch-size: .* out of range/);
  refused(['--write-queue-timeout', '-1s'], /--write-queue-timeout/);
  // Go's boolean flag syntax (rqlited's): =true / =false, anything else refused.
  assert.equal(parsed(['--write-queue-tx=false']).writeQueueTransaction, false);
  refused(['--write-queue-tx=yes'], /invalid boolean value "yes" for --write-queue-tx/);
});

test("cluster-operation flags: rqlited's names and defaults; booleans take =true / =false as Go's flags do", () => {
  const defaults = parsed([]);
  assert.equal(defaults.removeOnShutdown, false);
  assert.equal(defaults.exitWhenRemoved, false);
  assert.equal(defaults.stepDownOnShutdown, true);
  assert.equal(defaults.reapNodeTimeoutMs, 0);
  assert.equal(defaults.reapReadOnlyNodeTimeoutMs, 0);
  const set = parsed([
    '--raft-cluster-remove-shutdown',
    '--raft-remove-shutdown=true',
    '--raft-shutdown-stepdown=false',
    '--raft-reap-node-timeout',
    '48h',
    '--raft-reap-read-only-node-timeout=30m',
  ]);
  assert.equal(set.removeOnShutdown, true);
  assert.equal(set.exitWhenRemoved, true);
  assert.equal(set.stepDownOnShutdown, false);
  assert.equal(set.reapNodeTimeoutMs, 48 * 3_600_000);
  assert.equal(set.reapReadOnlyNodeTimeoutMs, 30 * 60_000);
  assert.equal(parsed(['--raft-shutdown-stepdown']).stepDownOnShutdown, true);
  assert.equal(parsed(['--raft-cluster-remove-shutdown=false']).removeOnShutdown, false);
  assert.equal(parsed(['--raft-non-voter=false']).nonVoter, false);
  // As rqlited: a reap timeout given explicitly must be above 0 (leave it out to never reap).
  refused(['--raft-reap-node-timeout', '0'], /--raft-reap-node-timeout must be greater than 0/);
  assert.equal(parsed(['--raft-reap-node-timeout', `${timerDelayMsMax}ms`]).reapNodeTimeoutMs, timerDelayMsMax);
  refused(['--raft-shutdown-stepdown=no'], /invalid boolean value "no" for --raft-shutdown-stepdown/);
  refused(['--raft-reap-node-timeout', '-1s'], /--raft-reap-node-timeout: invalid duration "-1s": below the minimum of 0ms/);
  refused(['--raft-reap-read-only-node-timeout', '10'], /--raft-reap-read-only-node-timeout: invalid duration/);
  // The reaper compares silences with it (no timer waits that long): Go's whole duration range.
  assert.equal(parsed(['--raft-reap-node-timeout', `${timerDelayMsMax + 1}ms`]).reapNodeTimeoutMs, timerDelayMsMax + 1);
  refused(['--raft-reap-node-timeout', '2562048h'], /--raft-reap-node-timeout: invalid duration/);
});

test('--fk turns foreign keys on (off by default), also as rqlited spells it: --fk=true, --fk=false', () => {
  assert.equal(parsed([]).foreignKeys, false);
  assert.equal(parsed(['--fk']).foreignKeys, true);
  assert.equal(parsed(['--fk=true']).foreignKeys, true);
  assert.equal(parsed(['--fk=1']).foreignKeys, true);
  assert.equal(parsed(['--fk=false']).foreignKeys, false);
  assert.equal(parsed(['--raft-non-voter=false']).nonVoter, false);
  refused(['--fk=maybe'], /invalid boolean value "maybe" for --fk: a boolean flag takes no value, or =true \/ =false/);
  refused(['--fk', '--fk=false'], /given twice/);
});
