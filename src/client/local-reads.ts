/**
 * The seam for reads served inside the application process: an embedded replica
 * (src/replica, docs/REPLICA.md) plugs in here, and the client stays free of SQLite and
 * of Node-only modules. With local reads, `query()` without a `consistency` (or with
 * 'none') asks them first; they wait, bounded, until the local copy has applied the
 * client's last write, and answer undefined when it has not in time, so the client reads
 * from the cluster instead (level none, with `min_index`).
 */
import type { ResultOptions } from './call-options.js';
import type { InStatement, Reply } from './types.js';

export interface LocalReads {
  /** The reply read locally once the copy applied `appliedIndexMin`; undefined when it did not in time. */
  query<Row>(statements: InStatement | readonly InStatement[], options: ResultOptions, appliedIndexMin: number): Promise<Reply<Row> | undefined>;
  close(): Promise<void>;
}

/** What local reads may use of the client: the nodes it knows now (seeds and those learned) and its request headers (credentials). */
export interface ClusterAccess {
  nodes(): readonly string[];
  readonly headers: Readonly<Record<string, string>>;
}

/** Made once the client exists, so that the local side follows the nodes the client learns. */
export type LocalReadsFactory = (cluster: ClusterAccess) => LocalReads;
