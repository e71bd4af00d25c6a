/**
 * What the runtime measures for /metrics beyond its positions and counters: leader
 * changes, how long a proposal takes from proposing to its result (commit and apply), how
 * long applying a batch of committed entries takes, and the durable log's saves (one
 * write and fdatasync each: the group commit's fsync latency) with the bytes they carried.
 */
import { LatencyHistogram } from '../service/latency-histogram.js';
import type { MetricFamily } from '../service/service.js';
import type { RecentEvents } from './recent-events.js';

/** One follower as the leader sees it (/status `replication`, the console's lag column). */
export interface FollowerProgress {
  readonly id: string;
  readonly matchIndex: number;
  /** Entries the leader has that this follower is not known to hold. */
  readonly lagEntries: number;
  /** The core's replication state: probe, replicate or snapshot. */
  readonly state: string;
  readonly voter: boolean;
  readonly recentActive: boolean;
  /** Since the leader last heard from it (ms); -1 never. */
  readonly lastContactAgeMs: number;
}

/** What the service reads of the runtime for /status and /metrics beyond the log (NodeRuntime has it). */
export interface ObservedNode {
  readonly metrics: NodeMetrics;
  readonly events: RecentEvents;
  followerProgress(): FollowerProgress[];
}

export class NodeMetrics {
  leaderChangeCount = 0;
  readonly proposalSeconds = new LatencyHistogram();
  readonly applySeconds = new LatencyHistogram();
  readonly logSaveSeconds = new LatencyHistogram();
  logSavedBytes = 0;
  logSaveFailureCount = 0;

  families(): MetricFamily[] {
    const histogram = (name: string, help: string, value: LatencyHistogram): MetricFamily => ({ name, help, type: 'histogram', samples: value.samples() });
    const counter = (name: string, help: string, value: number): MetricFamily => ({ name, help, type: 'counter', samples: [{ labels: {}, value }] });
    return [
      counter('quorumlite_raft_leader_changes_total', 'Times this node saw the leader change (including to none).', this.leaderChangeCount),
      histogram('quorumlite_raft_proposal_duration_seconds', 'From proposing an entry on the leader to its applied result.', this.proposalSeconds),
      histogram('quorumlite_raft_apply_duration_seconds', 'Applying one batch of committed entries to SQLite.', this.applySeconds),
      histogram('quorumlite_storage_log_save_duration_seconds', 'One save of the Raft log: a write and its fdatasync (group commit).', this.logSaveSeconds),
      counter('quorumlite_storage_log_saved_bytes_total', 'Entry bytes saved to the Raft log.', this.logSavedBytes),
      counter('quorumlite_storage_log_save_failures_total', 'Saves of the Raft log that failed (disk full, I/O error).', this.logSaveFailureCount),
    ];
  }
}
