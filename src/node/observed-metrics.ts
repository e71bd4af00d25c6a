/**
 * /metrics families beyond the log's positions: the runtime's latencies (node-metrics.ts),
 * the snapshot counters (counters.ts), the followers' lag on the leader, and the recent
 * events recorded.
 */
import type { MetricFamily } from '../service/service.js';
import type { NodeCounters } from './counters.js';
import type { ObservedNode } from './node-metrics.js';

export function observedMetricFamilies(observed: ObservedNode | undefined, counters: NodeCounters): MetricFamily[] {
  const store = counters.sections()['store'] ?? {};
  const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ labels: {}, value }] });
  const families = [
    counter('quorumlite_snapshots_total', 'Snapshots this node took.', store['num_snapshots'] ?? 0),
    counter('quorumlite_snapshots_failed_total', 'Snapshots this node failed to take.', store['num_snapshots_failed'] ?? 0),
    counter(
      'quorumlite_snapshot_restores_total',
      'Times the database was restored from a snapshot (at start-up or installed from the leader).',
      store['num_restores'] ?? 0,
    ),
  ];
  if (observed === undefined) return families;
  const followers = observed.followerProgress();
  return [
    ...families,
    ...observed.metrics.families(),
    {
      name: 'quorumlite_raft_follower_lag_entries',
      help: 'On the leader: entries each follower is not known to hold.',
      type: 'gauge',
      samples: followers.map((follower) => ({ labels: { follower: follower.id }, value: follower.lagEntries })),
    },
    counter('quorumlite_node_events_total', 'State changes this node recorded (elected, snapshot, halted, ...).', observed.events.recordedCount),
  ];
}
