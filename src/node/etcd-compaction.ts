/**
 * Compaction of the etcd log. Each node's SQLite database (with its applied index) is its
 * own snapshot, so the log only needs the entries some member has not applied yet. The
 * leader deletes, fenced by its term, the entries below the lowest applied index every
 * registered member reported (less `trailingEntries`), once at least `thresholdEntries`
 * can go, and moves `first` past them. A member that stopped loses its registration with
 * its lease and holds nothing back: if it returns behind `first`, it catches up from a
 * snapshot (the leader's database). A member that is registered but more than
 * `lagEntryCountMax` entries behind the leader (paused, stuck, far too slow — or new and
 * not reporting yet) holds nothing back either: otherwise one live laggard would keep the
 * whole log in etcd without bound; it catches up from a snapshot the same way.
 * etcd keeps deleted keys in its history until etcd itself compacts its revisions (its
 * --auto-compaction-* settings); the log does not compact etcd's history for it.
 */
import type { Etcd3 } from 'etcd3';
import { Range } from 'etcd3';
import type { NodeId } from '../raft/types.js';
import { logKey, type EtcdKeys } from './etcd-keys.js';
import type { NodeLogger } from './logger.js';

interface CompactionDependencies {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  readonly logger: NodeLogger;
  readonly trailingEntries: number;
  /** A member further behind the leader's applied index than this holds compaction back no more. */
  readonly lagEntryCountMax: number;
}

interface CompactionView {
  /** The leader's term (the fencing token the deletion compares). */
  readonly term: number;
  readonly appliedIndex: number;
  readonly memberIds: readonly NodeId[];
  readonly thresholdEntries: number;
  readonly trailingEntries?: number;
  readonly reports: () => Promise<Map<NodeId, number>>;
}

export class EtcdCompaction {
  readonly #dependencies: CompactionDependencies;
  #firstIndex = 1;

  constructor(dependencies: CompactionDependencies) {
    this.#dependencies = dependencies;
  }

  /** The first index still in etcd, as this node last read or wrote it. */
  get firstIndex(): number {
    return this.#firstIndex;
  }

  /**
   * The first index to keep: below what every member within `lagEntryCountMax` of the
   * leader applied (and the leader itself), less the trailing entries; and the members
   * passed over (further behind: they will need a snapshot).
   */
  static keepFrom(
    appliedIndex: number,
    memberIds: readonly NodeId[],
    reports: ReadonlyMap<NodeId, number>,
    bounds: { readonly trailingEntries: number; readonly lagEntryCountMax: number },
  ): { readonly keepFrom: number; readonly passed: readonly NodeId[] } {
    let lowest = appliedIndex;
    const passed: NodeId[] = [];
    for (const id of memberIds) {
      const reported = reports.get(id) ?? 0;
      if (appliedIndex - reported > bounds.lagEntryCountMax) passed.push(id);
      else lowest = Math.min(lowest, reported);
    }
    return { keepFrom: Math.max(1, lowest - bounds.trailingEntries + 1), passed };
  }

  /** Deletes what every member applied, if at least the threshold can go; true when it deleted. */
  async maybeCompact(view: CompactionView): Promise<boolean> {
    const { client, keys, logger } = this.#dependencies;
    if (view.term === 0) return false;
    const stored = await client.get(keys.first).string();
    this.#firstIndex = stored === null ? 1 : Number(stored);
    const trailing = view.trailingEntries ?? this.#dependencies.trailingEntries;
    const bounds = { trailingEntries: trailing, lagEntryCountMax: this.#dependencies.lagEntryCountMax };
    const { keepFrom, passed } = EtcdCompaction.keepFrom(view.appliedIndex, view.memberIds, await view.reports(), bounds);
    if (keepFrom - this.#firstIndex < view.thresholdEntries) return false;
    const result = await client
      .if(keys.leader, 'Create', '==', view.term)
      .then(client.delete().range(new Range(logKey(keys, this.#firstIndex), logKey(keys, keepFrom))), client.put(keys.first).value(String(keepFrom)))
      .commit();
    if (!result.succeeded) return false;
    const fields = { event: 'etcd-compacted', firstIndex: keepFrom, deleted: keepFrom - this.#firstIndex };
    if (passed.length === 0) logger.info(fields, 'compacted the etcd log');
    else logger.warn({ ...fields, passed }, 'compacted the etcd log past members too far behind: they will catch up from a snapshot');
    this.#firstIndex = keepFrom;
    return true;
  }
}
