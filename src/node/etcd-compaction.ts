/**
 * Compaction of the etcd log. Each node's SQLite database (with its applied index) is its
 * own snapshot, so the log only needs the entries some member has not applied yet. The
 * leader deletes, fenced by its term, the entries below the lowest applied index every
 * registered member reported (less `trailingEntries`), once at least `thresholdEntries`
 * can go, and moves `first` past them. A member that reported nothing holds everything.
 * A member that stopped loses its registration with its lease and holds nothing back: if
 * it returns behind `first`, it catches up from a snapshot (the leader's database).
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

  /** The first index to keep: below what every member applied (and the leader itself), less the trailing entries. */
  static keepFrom(appliedIndex: number, memberIds: readonly NodeId[], reports: ReadonlyMap<NodeId, number>, trailingEntries: number): number {
    let lowest = appliedIndex;
    for (const id of memberIds) lowest = Math.min(lowest, reports.get(id) ?? 0);
    return Math.max(1, lowest - trailingEntries + 1);
  }

  /** Deletes what every member applied, if at least the threshold can go; true when it deleted. */
  async maybeCompact(view: CompactionView): Promise<boolean> {
    const { client, keys, logger } = this.#dependencies;
    if (view.term === 0) return false;
    const stored = await client.get(keys.first).string();
    this.#firstIndex = stored === null ? 1 : Number(stored);
    const trailing = view.trailingEntries ?? this.#dependencies.trailingEntries;
    const keepFrom = EtcdCompaction.keepFrom(view.appliedIndex, view.memberIds, await view.reports(), trailing);
    if (keepFrom - this.#firstIndex < view.thresholdEntries) return false;
    const result = await client
      .if(keys.leader, 'Create', '==', view.term)
      .then(client.delete().range(new Range(logKey(keys, this.#firstIndex), logKey(keys, keepFrom))), client.put(keys.first).value(String(keepFrom)))
      .commit();
    if (!result.succeeded) return false;
    logger.info({ event: 'etcd-compacted', firstIndex: keepFrom, deleted: keepFrom - this.#firstIndex }, 'compacted the etcd log');
    this.#firstIndex = keepFrom;
    return true;
  }
}
