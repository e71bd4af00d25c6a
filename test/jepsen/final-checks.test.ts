/** Failover times: measured after lone faults that took out the leader, and only those. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { failoverTimesMs } from './final-checks.js';
import type { NemesisEvent, OperationRecord } from './history.js';

function write(id: number, invokeMs: number, completeMs: number, outcome: 'ok' | 'info' = 'ok'): OperationRecord {
  return { id, process: 0, f: 'write', input: { key: 1, value: id }, outcome, ...(outcome === 'ok' ? { output: {} } : {}), invokeMs, completeMs, node: 'n1' };
}

const leaderKill: NemesisEvent = { kind: 'kill', description: 'kill -9 n1 (leader)', targets: ['n1'], startMs: 1000, endMs: 3000, leaderAffected: true };

describe('failoverTimesMs', () => {
  test('from the fault to the first acknowledged write invoked after it', () => {
    const operations = [write(1, 900, 1100), write(2, 1010, 1800, 'info'), write(3, 1020, 1650), write(4, 1400, 1500)];
    assert.deepEqual(failoverTimesMs([leaderKill], operations), [500]);
  });

  test('faults that did not hit the leader, majority kills and overlapping faults are left out', () => {
    const operations = [write(1, 1200, 1500), write(2, 6000, 6100), write(3, 9000, 9300)];
    const follower: NemesisEvent = { ...leaderKill, description: 'kill -9 n2', leaderAffected: false };
    const majority: NemesisEvent = { ...leaderKill, description: 'kill -9 majority n1,n2', startMs: 5000, endMs: 5500 };
    const overlapped: NemesisEvent = { ...leaderKill, startMs: 8000, endMs: 8500 };
    const partition: NemesisEvent = { kind: 'partition', description: 'partition n1 | n2,n3', targets: ['n1'], startMs: 8200, endMs: 9100 };
    assert.deepEqual(failoverTimesMs([follower, majority, overlapped, partition], operations), []);
  });

  test('reads and final reads do not count as acknowledged writes', () => {
    const read: OperationRecord = {
      id: 1,
      process: 0,
      f: 'read',
      input: { key: 1 },
      outcome: 'ok',
      output: { value: 1 },
      invokeMs: 1100,
      completeMs: 1200,
      node: 'n2',
    };
    const finalWrite = { ...write(2, 1100, 1300), process: -1 };
    assert.deepEqual(failoverTimesMs([leaderKill], [read, finalWrite, write(3, 2000, 2400)]), [1400]);
  });
});
