/** Failover times: measured after lone faults that took out the leader, and only those; a failed convergence check says why. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JepsenCluster, NodeView } from './cluster.js';
import { failoverTimesMs, finalClusterChecks } from './final-checks.js';
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

describe('finalClusterChecks', () => {
  test('a node that did not catch up: the check names its own last warnings and those other nodes logged about it', async () => {
    const line = (node: string, level: number, text: string) => JSON.stringify({ level, node, msg: text });
    const leader = {
      id: '127.0.0.3:1',
      log: () =>
        [
          line('127.0.0.3:1', 30, 'snapshot-send to 127.0.0.6:1'),
          line('127.0.0.3:1', 40, 'snapshot-send-failed to 127.0.0.6:1: ENOENT'),
          line('127.0.0.3:1', 40, 'slow disk'),
        ].join('\n'),
    };
    const lagging = { id: '127.0.0.6:1', log: () => [line('127.0.0.6:1', 40, 'join attempt failed'), line('127.0.0.6:1', 30, 'started')].join('\n') };
    const views = new Map<unknown, Partial<NodeView>>([
      [leader, { state: 'Leader', appliedIndex: 10, checksum: 'aa', halted: null, voters: [] }],
      [lagging, { state: 'Follower', appliedIndex: 0, checksum: 'bb', halted: null, voters: [] }],
    ]);
    const names = new Map<unknown, string>([
      [leader, 'n2'],
      [lagging, 'n5'],
    ]);
    const cluster = {
      members: [leader, lagging],
      cluster: { nodes: [leader, lagging] },
      name: (node: unknown) => names.get(node),
      view: async (node: unknown) => views.get(node),
      waitForConvergence: async () => {
        throw new Error('timed out');
      },
    } as unknown as JepsenCluster;
    const [converged] = await finalClusterChecks(cluster, 10);
    assert.equal(converged?.passed, false);
    const detail = converged?.detail ?? '';
    assert.match(detail, /warnings about n5/);
    assert.match(detail, /n5: .*join attempt failed/);
    assert.match(detail, /n2: .*snapshot-send-failed to 127\.0\.0\.6:1: ENOENT/);
    assert.doesNotMatch(detail, /slow disk|started|snapshot-send to/, 'only warnings, and of other nodes only those naming it');
    assert.doesNotMatch(detail, /warnings about n2/, 'the node that is not behind');
  });
});
