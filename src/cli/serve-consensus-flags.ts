/**
 * quorumlite's consensus flags: `--consensus raft` (the embedded Raft, the default) or
 * `--consensus etcd` with `--etcd-endpoints URL,…` (etcd's client URLs), `--etcd-prefix`
 * (the keys this cluster's log lives under; clusters sharing an etcd differ in it),
 * `--etcd-lease-ttl` (how long a stopped leader keeps the leader key),
 * `--etcd-compaction-lag-max` (how far behind a live node may hold compaction back) and etcd's TLS
 * (`--etcd-ca-cert`, `--etcd-cert`, `--etcd-key`: https:// endpoints only). The etcd flags
 * without `--consensus etcd`, or `--consensus etcd` without endpoints, are usage errors.
 */
import type { EtcdConsensusOptions, EtcdTlsFiles } from '../server/etcd-quorum-node.js';
import type { GivenFlag } from './go-flags.js';
import { parseWholeNumber } from './flag-values.js';
import { UsageError } from './usage-error.js';

export interface ConsensusOptions {
  /** Absent: the embedded Raft. */
  readonly etcd: EtcdConsensusOptions | undefined;
}

const defaultPrefix = '/quorumlite';
const etcdTlsFlagNames = ['etcd-ca-cert', 'etcd-cert', 'etcd-key'] as const;
/**
 * Flags whose features only the embedded-Raft node assembles (extensions, joining,
 * discovery). Refused with --consensus etcd rather than ignored: a node started with a
 * flag it did not honour would be worse than no start. (-auto-backup and -auto-restore
 * work on etcd, but for -auto-backup's point_in_time: serve-backup-flags.ts refuses it.)
 */
const raftOnlyFlagNames = ['extensions-path', 'join', 'bootstrap-expect', 'disco-mode', 'disco-key', 'disco-config'] as const;
/** etcd's own minimum TTL is a few seconds' worth of its election ticks; 2 s fails over fast and survives a GC pause. */
const defaultLeaseTtlSeconds = 2;
const leaseTtlSecondsMax = 3600;
/** Beyond this the log in etcd would outgrow etcd's backend quota long before a laggard counted. */
const compactionLagEntryCountMaxMax = 100_000_000;

/** https:// endpoints, with a CA for etcd's certificate and optionally a client certificate; plain http:// without any. */
function parseEtcdTls(flags: ReadonlyMap<string, GivenFlag>, endpoints: readonly string[]): EtcdTlsFiles | undefined {
  const ca = flags.get('etcd-ca-cert');
  const cert = flags.get('etcd-cert');
  const key = flags.get('etcd-key');
  const secure = endpoints.filter((endpoint) => endpoint.startsWith('https://')).length;
  // One set of credentials serves every endpoint (the etcd client's own rule).
  if (secure !== 0 && secure !== endpoints.length) throw new UsageError('--etcd-endpoints: give all http:// or all https:// URLs, not both');
  const given = [ca, cert, key].find((flag) => flag !== undefined);
  if (given === undefined) return undefined;
  if (secure === 0) throw new UsageError(`${given.spelling}: etcd's TLS needs https:// --etcd-endpoints`);
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError(`${(cert ?? key)?.spelling ?? '--etcd-cert'}: give --etcd-cert and --etcd-key together`);
  if (ca === undefined) throw new UsageError(`${given.spelling}: a client certificate needs --etcd-ca-cert (the CA that signed etcd's certificate)`);
  return { caPath: ca.value, ...(cert === undefined || key === undefined ? {} : { certPath: cert.value, keyPath: key.value }) };
}

function parseEndpoints(given: GivenFlag): string[] {
  const endpoints = given.value
    .split(',')
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint !== '');
  if (endpoints.length === 0) throw new UsageError(`${given.spelling}: give etcd's client URLs, comma-separated`);
  for (const endpoint of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(endpoint))
      throw new UsageError(`${given.spelling}: ${JSON.stringify(endpoint)} is not an http:// or https:// URL of an etcd member`);
  }
  return endpoints;
}

export function parseConsensusFlags(flags: ReadonlyMap<string, GivenFlag>): ConsensusOptions {
  const consensus = flags.get('consensus');
  const kind = consensus?.value ?? 'raft';
  if (kind !== 'raft' && kind !== 'etcd') throw new UsageError(`${consensus?.spelling ?? '--consensus'}: ${JSON.stringify(kind)} is neither raft nor etcd`);
  const endpoints = flags.get('etcd-endpoints');
  const prefix = flags.get('etcd-prefix');
  const ttl = flags.get('etcd-lease-ttl');
  const lag = flags.get('etcd-compaction-lag-max');
  if (kind === 'raft') {
    const stray = [endpoints, prefix, ttl, lag, ...etcdTlsFlagNames.map((name) => flags.get(name))].find((given) => given !== undefined);
    if (stray !== undefined) throw new UsageError(`${stray.spelling}: only with --consensus etcd`);
    return { etcd: undefined };
  }
  if (endpoints === undefined) throw new UsageError('--consensus etcd needs --etcd-endpoints URL,…');
  const raftOnly = raftOnlyFlagNames.map((name) => flags.get(name)).find((given) => given !== undefined);
  if (raftOnly !== undefined) throw new UsageError(`${raftOnly.spelling}: not available with --consensus etcd (only the embedded Raft node has it yet)`);
  if (prefix !== undefined && !prefix.value.startsWith('/')) throw new UsageError(`${prefix.spelling}: ${JSON.stringify(prefix.value)} must start with /`);
  const endpointList = parseEndpoints(endpoints);
  const tls = parseEtcdTls(flags, endpointList);
  return {
    etcd: {
      endpoints: endpointList,
      prefix: prefix?.value ?? defaultPrefix,
      leaseTtlSeconds: ttl === undefined ? defaultLeaseTtlSeconds : parseWholeNumber(ttl.value, ttl.spelling, 1, leaseTtlSecondsMax),
      ...(lag === undefined ? {} : { compactionLagEntryCountMax: parseWholeNumber(lag.value, lag.spelling, 1, compactionLagEntryCountMaxMax) }),
      ...(tls === undefined ? {} : { tls }),
    },
  };
}
