/**
 * Every flag `quorumlite serve` knows: all of rqlited's (v10, plus -raft-timeout, the
 * name -raft-heartbeat-timeout had before v10), so an rqlited command line parses as is,
 * and quorumlite's own. An rqlited flag is either implemented with rqlited's meaning,
 * default and syntax, or refused with the reason, unless it is given the value that
 * leaves its feature off (rqlited's default): asking for nothing quorumlite lacks is fine.
 * docs/FLAGS.md lists the same flags for operators (a test keeps the two in step).
 */
import { DurationError, parseDurationMs } from '../common/duration.js';
import { parseGoBoolean, type FlagKind } from './go-flags.js';

interface FlagRefusal {
  /** Why quorumlite refuses the flag, completing "-NAME: not supported: …". */
  readonly reason: string;
  /** The values that ask for nothing (the feature stays off): accepted without a word. */
  readonly accepts: (value: string) => boolean;
}

interface ServeFlagSpec {
  readonly kind: FlagKind;
  /** rqlited has this flag (same name and meaning), or it is quorumlite's own. */
  readonly origin: 'rqlited' | 'quorumlite';
  readonly refusal?: FlagRefusal;
}

const rqlited = (kind: FlagKind): ServeFlagSpec => ({ kind, origin: 'rqlited' });
const own = (kind: FlagKind): ServeFlagSpec => ({ kind, origin: 'quorumlite' });

const isEmpty = (value: string): boolean => value === '';
const isFalse = (value: string): boolean => parseGoBoolean(value) === false;

function durationIs(expectedMs: number): (value: string) => boolean {
  return (value) => {
    try {
      return parseDurationMs(value) === expectedMs;
    } catch (error) {
      if (error instanceof DurationError) return false;
      throw error;
    }
  };
}

function refused(kind: FlagKind, reason: string, accepts: (value: string) => boolean): ServeFlagSpec {
  return { kind, origin: 'rqlited', refusal: { reason, accepts } };
}

const noProfilingReason = "Go profiling does not apply to a Node.js process; use node's --cpu-prof or --heap-prof";

const refusedRqlitedFlags: Readonly<Record<string, ServeFlagSpec>> = {
  'compress-snap-transport': refused('boolean', 'snapshots are streamed to peers uncompressed', isFalse),
  'on-disk-path': refused('value', 'the database always lives in the data directory (db.sqlite), beside the Raft log it must agree with', isEmpty),
  'raft-leader-lease-timeout': refused(
    'value',
    'quorumlite reads never rely on a leader lease (linearizable reads use ReadIndex), ' +
      'and a leader steps down after one election timeout (-raft-heartbeat-timeout) without hearing from a quorum',
    durationIs(0),
  ),
  'raft-commit-timeout': refused(
    'value',
    'followers learn the commit index with the next append or heartbeat (--heartbeat-ms, a tenth of -raft-heartbeat-timeout), not on a separate timer',
    durationIs(50),
  ),
  'cpu-profile': refused('value', noProfilingReason, isEmpty),
  'mem-profile': refused('value', noProfilingReason, isEmpty),
  'trace-profile': refused('value', noProfilingReason, isEmpty),
};

export const serveFlagSpecs: Readonly<Record<string, ServeFlagSpec>> = {
  version: rqlited('boolean'),
  'extensions-path': rqlited('value'),
  'http-addr': rqlited('value'),
  'http-adv-addr': rqlited('value'),
  'http-allow-origin': rqlited('value'),
  auth: rqlited('value'),
  // TLS: serve-tls-flags.ts.
  'http-cert': rqlited('value'),
  'http-key': rqlited('value'),
  'http-ca-cert': rqlited('value'),
  'http-verify-client': rqlited('boolean'),
  'http-verify-common-name': rqlited('value'),
  'node-cert': rqlited('value'),
  'node-key': rqlited('value'),
  'node-ca-cert': rqlited('value'),
  'node-no-verify': rqlited('boolean'),
  'node-verify-client': rqlited('boolean'),
  'node-verify-server-name': rqlited('value'),
  'node-verify-common-name': rqlited('value'),
  'node-id': rqlited('value'),
  'raft-addr': rqlited('value'),
  'raft-adv-addr': rqlited('value'),
  join: rqlited('value'),
  'join-attempts': rqlited('value'),
  'join-interval': rqlited('value'),
  'join-as': rqlited('value'),
  'bootstrap-expect': rqlited('value'),
  'bootstrap-expect-timeout': rqlited('value'),
  // Discovery (consul-kv refused there): serve-disco-flags.ts.
  'disco-mode': rqlited('value'),
  'disco-key': rqlited('value'),
  'disco-config': rqlited('value'),
  fk: rqlited('boolean'),
  'auto-vacuum-int': rqlited('value'),
  'auto-optimize-int': rqlited('value'),
  'db-max-ro-conns': rqlited('value'),
  'raft-log-level': rqlited('value'),
  'raft-non-voter': rqlited('boolean'),
  'raft-snap': rqlited('value'),
  'raft-snap-wal-size': rqlited('value'),
  'raft-snap-int': rqlited('value'),
  'raft-heartbeat-timeout': rqlited('value'),
  'raft-timeout': rqlited('value'),
  'raft-election-timeout': rqlited('value'),
  'raft-apply-timeout': rqlited('value'),
  'raft-remove-shutdown': rqlited('boolean'),
  'raft-cluster-remove-shutdown': rqlited('boolean'),
  'raft-shutdown-stepdown': rqlited('boolean'),
  'raft-reap-node-timeout': rqlited('value'),
  'raft-reap-read-only-node-timeout': rqlited('value'),
  'cluster-connect-timeout': rqlited('value'),
  'write-queue-capacity': rqlited('value'),
  'write-queue-batch-size': rqlited('value'),
  'write-queue-timeout': rqlited('value'),
  'write-queue-tx': rqlited('boolean'),
  'auto-backup': rqlited('value'),
  'auto-restore': rqlited('value'),
  'cdc-config': rqlited('value'),
  ...refusedRqlitedFlags,
  'data-dir': own('value'),
  'db-count-max': own('value'),
  'sqlite-page-size': own('value'),
  'heartbeat-ms': own('value'),
  'election-timeout-ms': own('value'),
  'raft-trailing-logs': own('value'),
  'http-max-body-bytes': own('value'),
  'log-level': own('value'),
  // serve-consensus-flags.ts
  consensus: own('value'),
  'etcd-endpoints': own('value'),
  'etcd-prefix': own('value'),
  'etcd-lease-ttl': own('value'),
  'etcd-compaction-lag-max': own('value'),
  'etcd-ca-cert': own('value'),
  'etcd-cert': own('value'),
  'etcd-key': own('value'),
  'test-faults-on-stdin': own('boolean'),
  help: own('boolean'),
  h: own('boolean'),
};

export const serveFlagKinds: ReadonlyMap<string, FlagKind> = new Map(Object.entries(serveFlagSpecs).map(([name, spec]) => [name, spec.kind]));
