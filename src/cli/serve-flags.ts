/**
 * The flags of `quorumlite serve`: rqlited's command line as is (`rqlited [flags] <data
 * directory>`, Go flag syntax, see go-flags.ts) beside quorumlite's own GNU-style flags.
 * serve-flag-table.ts lists every flag and why a refused one is refused. Parsing is pure:
 * it returns options, 'help' or 'version', or throws a UsageError (exit 2).
 */
import { nodeConfigDefaults, type NodeConfig } from '../node/config.js';
import { goDurationRangeMs, timerDelayMsMax } from '../common/duration.js';
import { commandLimits } from '../state-machine/command-codec.js';
import { isPageSize, pageSizeMax, pageSizeMin } from '../state-machine/options.js';
import { parseGoFlags, type GivenFlag } from './go-flags.js';
import { formatHostPort, parseDurationFlag, parseGoIntegerFlag, parseHostPort, parseWholeNumber, timerRangeMs, type HostPort } from './flag-values.js';
import { serveFlagKinds, serveFlagSpecs } from './serve-flag-table.js';
import { parseAuthFlags, type AuthOptions } from './serve-auth-flags.js';
import { parseTimingFlags } from './serve-timing-flags.js';
import { parseTlsFlags } from './serve-tls-flags.js';
import type { NodeTlsSettings } from '../server/node-tls.js';
import { backupOptions, type BackupOptions } from './serve-backup-flags.js';
import { parseConsensusFlags, type ConsensusOptions } from './serve-consensus-flags.js';
import { checkDiscoveryFormation, discoveryGiven, parseDiscoveryFlags, type DiscoveryOptions } from './serve-disco-flags.js';
import { cdcOptions, type CdcOptions } from './serve-cdc-flag.js';
import { nodeIdLengthMax } from '../service/service.js';
import { UsageError } from './usage-error.js';

export { UsageError } from './usage-error.js';
export { formatHostPort, parseHostPort } from './flag-values.js';
export { serveUsage } from './serve-usage.js';

type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
const logLevels: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Node settings a flag gives as they are: NodeConfig types and documents each, with its rqlited flag. */
type NodeSettingFlags = Pick<
  NodeConfig,
  | 'exitWhenRemoved'
  | 'removeOnShutdown'
  | 'stepDownOnShutdown'
  | 'reapNodeTimeoutMs'
  | 'reapReadOnlyNodeTimeoutMs'
  | 'foreignKeys'
  | 'databaseCountMax'
  | 'sqlitePageSize'
  | 'writeQueueCountMax'
  | 'writeQueueBatchCountMax'
  | 'writeQueueTimeoutMs'
  | 'writeQueueTransaction'
>;

/** Parsed elsewhere: -auto-backup/-auto-restore, -disco-*, --consensus, -cdc-config (serve-backup-flags.ts, serve-disco-flags.ts, …). */
export interface ServeOptions extends AuthOptions, BackupOptions, DiscoveryOptions, ConsensusOptions, CdcOptions, NodeSettingFlags {
  readonly nodeId: string;
  readonly httpAddress: HostPort;
  readonly httpAdvertisedAddress: HostPort;
  readonly raftAddress: HostPort;
  readonly raftAdvertisedAddress: HostPort;
  /** --data-dir, or rqlited's positional `<data directory>`. */
  readonly dataDirectory: string;
  /**
   * Existing members to join through (or, with bootstrapExpect, the peers to find): each
   * a Raft address `host:port`, or an HTTP API address `http(s)://host:port`.
   */
  readonly joinAddresses: readonly string[];
  /** Rounds of join attempts over every --join address (rqlited -join-attempts). */
  readonly joinAttemptCountMax: number;
  /** Pause between rounds of join attempts (rqlited -join-interval). */
  readonly joinIntervalMs: number;
  /** The user to join as ('' = anonymously; rqlited -join-as). */
  readonly joinAs: string;
  /** 0: off. Otherwise the cluster size to form once that many nodes have seen each other. */
  readonly bootstrapExpect: number;
  /** -bootstrap-expect-timeout: how long to wait for the expected nodes. */
  readonly bootstrapExpectTimeoutMs: number;
  readonly nonVoter: boolean;
  /** The leader's heartbeat interval (a tenth of -raft-heartbeat-timeout when that is given). */
  readonly heartbeatMs: number;
  /** A follower campaigns after [T, 2T) without the leader (-raft-heartbeat-timeout). */
  readonly electionTimeoutMs: number;
  /** A candidate campaigns again after [T, 2T) without a result (-raft-election-timeout); 0: electionTimeoutMs. */
  readonly candidateElectionTimeoutMs: number;
  /** -raft-apply-timeout: how long a write waits for its entry to commit and apply. */
  readonly applyTimeoutMs: number;
  /** Take a snapshot once this many entries were applied since the last one. */
  readonly snapshotThresholdEntries: number;
  /** How often the snapshot threshold is checked. */
  readonly snapshotIntervalMs: number;
  /** Log entries kept behind a snapshot: --raft-trailing-logs, else rqlite's 1.25 × -raft-snap. */
  readonly snapshotTrailingEntries: number;
  /** -raft-snap-wal-size: a snapshot is due once the WAL holds this many bytes (rqlite's meaning); 0: never for its size. */
  readonly snapshotWalBytes: number;
  /** -auto-vacuum-int, -auto-optimize-int: 0 is off. */
  readonly autoVacuumIntervalMs: number;
  readonly autoOptimizeIntervalMs: number;
  /** -extensions-path: files, directories, zip or tar.gz files of SQLite extensions. */
  readonly extensionPaths: readonly string[];
  /** -db-max-ro-conns: a bound on read-only connections (<= 0: none, as Go's database/sql). */
  readonly readOnlyConnectionCountMax: number;
  /** -cluster-connect-timeout: dialling a peer, handshake included; undefined: the transport's own default. */
  readonly connectTimeoutMs: number | undefined;
  /** -http-allow-origin: Access-Control-Allow-Origin on every response; null: none. */
  readonly httpAllowOrigin: string | null;
  /** Largest HTTP request body accepted (ours). */
  readonly httpBodyBytesMax: number;
  readonly logLevel: LogLevel;
  /** -raft-log-level: the Raft core's own level; undefined: the same as logLevel. */
  readonly raftLogLevel: LogLevel | undefined;
  /** Test-only: accept fault-injection commands on standard input (partition from peers). */
  readonly testFaultsOnStdin: boolean;
  /** -http-cert … -node-verify-common-name (serve-tls-flags.ts): HTTPS and node-to-node TLS. */
  readonly tls: NodeTlsSettings;
}

export const joinAddressCountMax = 16;
export const joinAsLengthMax = 128;
export const bootstrapExpectMax = 9;
export const extensionPathCountMax = 64;
export const allowOriginLengthMax = 1024;
export const joinAttemptCountFlagMax = 10_000;
/** -write-queue-capacity at most (rqlited sets no bound; each queued write holds memory until sent). */
export const writeQueueCountFlagMax = 1_000_000;
/** -db-count-max at most: every database is a file pair and connections held open. */
const databaseCountFlagMax = 10_000;
const snapshotWalBytesMax = 2 ** 36;
/** rqlite keeps 1.25 × -raft-snap entries behind a snapshot (its trailing-logs policy). */
const trailingEntriesPerThreshold = 1.25;

type Flags = ReadonlyMap<string, GivenFlag>;

/** The refused rqlited flags given a value that would ask for their feature: refused, with why. */
function refuseUnsupported(flags: Flags): void {
  for (const [name, given] of flags) {
    const refusal = serveFlagSpecs[name]?.refusal;
    if (refusal !== undefined && !refusal.accepts(given.value)) throw new UsageError(`${given.spelling}: not supported: ${refusal.reason}`);
  }
}

/** rqlited's `<data directory>` positional, or --data-dir; nothing may follow it. */
function dataDirectoryOf(flags: Flags, positionals: readonly string[]): string {
  const [positional, ...rest] = positionals;
  if (positional !== undefined && rest.length > 0) {
    throw new UsageError(`arguments after data directory (${positional}) are not accepted (${rest.join(' ')})`);
  }
  const flag = flags.get('data-dir');
  if (flag?.value === '') throw new UsageError(`${flag.spelling}: the data directory is empty`);
  if (positional === undefined) return flag?.value ?? './data';
  if (flag !== undefined && flag.value !== positional) {
    throw new UsageError(`the data directory is given twice: ${flag.spelling} ${flag.value} and ${positional}`);
  }
  if (positional === '') throw new UsageError('the data directory is empty');
  return positional;
}

function hostPortFlag(flags: Flags, name: string, fallback: HostPort): HostPort {
  const given = flags.get(name);
  return given === undefined ? fallback : parseHostPort(given.value, given.spelling);
}

/**
 * One -join address: `host:port` is a Raft address (rqlited 8); `http://host:port` or
 * `https://host:port` (one trailing '/' allowed) is an HTTP API address (rqlited 7), kept
 * with its scheme. Anything else is a usage error.
 */
function parseJoinAddress(text: string, spelling: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(text);
  if (scheme === null) return formatHostPort(parseHostPort(text, spelling));
  const name = (scheme[1] ?? '').toLowerCase();
  if (name !== 'http' && name !== 'https') {
    throw new UsageError(`${spelling}: invalid address ${JSON.stringify(text)}, expected HOST:PORT or http(s)://HOST:PORT`);
  }
  const rest = text.slice(scheme[0].length);
  return `${name}://${formatHostPort(parseHostPort(rest.endsWith('/') ? rest.slice(0, -1) : rest, spelling))}`;
}

function parseJoinList(given: GivenFlag | undefined): string[] {
  if (given === undefined || given.value === '') return [];
  const addresses = given.value.split(',').map((part) => part.trim());
  if (addresses.length > joinAddressCountMax) throw new UsageError(`${given.spelling}: at most ${joinAddressCountMax} addresses`);
  return addresses.map((address) => parseJoinAddress(address, given.spelling));
}

function parseJoinAs(given: GivenFlag | undefined): string {
  if (given === undefined) return '';
  const text = given.value;
  if (text.length > joinAsLengthMax) throw new UsageError(`${given.spelling}: longer than ${joinAsLengthMax} characters`);
  // Printable characters only, and no ':' (HTTP Basic separates the user from the password with it).
  if (text !== '' && (text.includes(':') || !/^[\p{L}\p{N}\p{P}\p{S}]+$/u.test(text))) {
    throw new UsageError(`${given.spelling}: ${JSON.stringify(text)} may contain only printable characters other than spaces and ':'`);
  }
  return text;
}

function parseNodeId(given: GivenFlag): string {
  const text = given.value;
  if (text.length > nodeIdLengthMax) throw new UsageError(`${given.spelling}: longer than ${nodeIdLengthMax} characters`);
  if (!/^[A-Za-z0-9._:[\]-]+$/.test(text)) {
    throw new UsageError(`${given.spelling}: ${JSON.stringify(text)} may use only letters, digits and . _ : - [ ]`);
  }
  return text;
}

function parseLogLevel(given: GivenFlag | undefined): LogLevel {
  if (given === undefined) return 'info';
  const level = logLevels.find((candidate) => candidate === given.value);
  if (level === undefined) throw new UsageError(`${given.spelling}: ${JSON.stringify(given.value)} is not one of ${logLevels.join('|')}`);
  return level;
}

/** rqlited's -raft-log-level: hclog's names, any case (ERROR, WARN, INFO, DEBUG; also TRACE and OFF). */
function parseRaftLogLevel(given: GivenFlag | undefined): LogLevel | undefined {
  if (given === undefined) return undefined;
  const name = given.value.trim().toLowerCase();
  const levels: Readonly<Record<string, LogLevel>> = { trace: 'trace', debug: 'debug', info: 'info', warn: 'warn', error: 'error', off: 'silent' };
  const level = levels[name];
  if (level === undefined) throw new UsageError(`${given.spelling}: ${JSON.stringify(given.value)} is not one of ERROR, WARN, INFO, DEBUG, TRACE, OFF`);
  return level;
}

function booleanFlag(flags: Flags, name: string, fallback: boolean): boolean {
  const given = flags.get(name);
  return given === undefined ? fallback : given.value === 'true';
}

/** A Go duration flag that may be 0 (off); `fallbackMs` when absent. */
function intervalOrOff(flags: Flags, name: string, fallbackMs: number, durationMsMax = goDurationRangeMs.durationMsMax): number {
  const given = flags.get(name);
  if (given === undefined) return fallbackMs;
  return parseDurationFlag(given.value, given.spelling, { durationMsMin: 0, durationMsMax });
}

function durationFlag(flags: Flags, name: string, fallbackMs: number): number {
  const given = flags.get(name);
  return given === undefined ? fallbackMs : parseDurationFlag(given.value, given.spelling);
}

type FormationOptions = Pick<
  ServeOptions,
  'joinAddresses' | 'joinAttemptCountMax' | 'joinIntervalMs' | 'joinAs' | 'bootstrapExpect' | 'bootstrapExpectTimeoutMs' | 'nonVoter'
>;

function formationOptions(flags: Flags): FormationOptions {
  const joinAddresses = parseJoinList(flags.get('join'));
  const expect = flags.get('bootstrap-expect');
  const bootstrapExpect =
    expect === undefined ? 0 : parseGoIntegerFlag(expect.value, expect.spelling, { minimum: 0, maximum: bootstrapExpectMax, signed: true });
  if (bootstrapExpect > 1 && joinAddresses.length === 0 && !discoveryGiven(flags)) {
    throw new UsageError(`${expect?.spelling ?? '--bootstrap-expect'} needs --join with the addresses of the other nodes`);
  }
  const nonVoter = booleanFlag(flags, 'raft-non-voter', false);
  const attempts = flags.get('join-attempts');
  return {
    joinAddresses,
    joinAttemptCountMax:
      attempts === undefined
        ? nodeConfigDefaults.joinAttemptCountMax
        : parseGoIntegerFlag(attempts.value, attempts.spelling, { minimum: 1, maximum: joinAttemptCountFlagMax, signed: true }),
    joinIntervalMs: durationFlag(flags, 'join-interval', nodeConfigDefaults.joinIntervalMs),
    joinAs: parseJoinAs(flags.get('join-as')),
    bootstrapExpect,
    bootstrapExpectTimeoutMs: durationFlag(flags, 'bootstrap-expect-timeout', nodeConfigDefaults.bootstrapExpectTimeoutMs),
    nonVoter,
  };
}

function snapshotOptions(flags: Flags): Pick<ServeOptions, 'snapshotThresholdEntries' | 'snapshotIntervalMs' | 'snapshotTrailingEntries' | 'snapshotWalBytes'> {
  const snap = flags.get('raft-snap');
  const snapshotThresholdEntries =
    snap === undefined
      ? nodeConfigDefaults.snapshotThresholdEntries
      : parseGoIntegerFlag(snap.value, snap.spelling, { minimum: 1, maximum: 1e9, signed: false });
  const trailing = flags.get('raft-trailing-logs');
  const walSize = flags.get('raft-snap-wal-size');
  const snapshotWalBytes =
    walSize === undefined
      ? nodeConfigDefaults.snapshotWalBytes
      : parseGoIntegerFlag(walSize.value, walSize.spelling, { minimum: 0, maximum: snapshotWalBytesMax, signed: false });
  return {
    snapshotThresholdEntries,
    snapshotIntervalMs: durationFlag(flags, 'raft-snap-int', nodeConfigDefaults.snapshotIntervalMs),
    snapshotTrailingEntries:
      trailing === undefined ? Math.floor(snapshotThresholdEntries * trailingEntriesPerThreshold) : parseWholeNumber(trailing.value, trailing.spelling, 0, 1e9),
    snapshotWalBytes,
  };
}

function extensionPathsOf(given: GivenFlag | undefined): string[] {
  // As rqlited's string-slice flag: split on commas, nothing trimmed; empty means none.
  if (given === undefined || given.value === '') return [];
  const paths = given.value.split(',');
  if (paths.length > extensionPathCountMax) throw new UsageError(`${given.spelling}: at most ${extensionPathCountMax} paths`);
  if (paths.some((path) => path === '')) throw new UsageError(`${given.spelling}: an empty path in ${JSON.stringify(given.value)}`);
  return paths;
}

function allowOriginOf(given: GivenFlag | undefined): string | null {
  if (given === undefined || given.value === '') return null;
  if (given.value.length > allowOriginLengthMax) throw new UsageError(`${given.spelling}: longer than ${allowOriginLengthMax} characters`);
  // A header value: printable ASCII only (a line break would split the response head).
  if (!/^[\x20-\x7e]+$/.test(given.value)) throw new UsageError(`${given.spelling}: ${JSON.stringify(given.value)} is not a valid header value`);
  return given.value;
}

function databaseOptions(
  flags: Flags,
): Pick<ServeOptions, 'autoVacuumIntervalMs' | 'autoOptimizeIntervalMs' | 'extensionPaths' | 'readOnlyConnectionCountMax'> {
  const connections = flags.get('db-max-ro-conns');
  return {
    autoVacuumIntervalMs: intervalOrOff(flags, 'auto-vacuum-int', 0),
    autoOptimizeIntervalMs: intervalOrOff(flags, 'auto-optimize-int', 24 * 60 * 60 * 1000),
    extensionPaths: extensionPathsOf(flags.get('extensions-path')),
    readOnlyConnectionCountMax:
      connections === undefined
        ? 256
        : parseGoIntegerFlag(connections.value, connections.spelling, { minimum: -(2 ** 31), maximum: 2 ** 31 - 1, signed: true }),
  };
}

/** -raft-reap-*: off unless given; when given, rqlited insists on a positive duration. */
function reapTimeout(flags: Flags, name: string): number {
  const given = flags.get(name);
  if (given === undefined) return 0;
  const timeoutMs = intervalOrOff(flags, name, 0);
  if (timeoutMs <= 0) throw new UsageError(`${given.spelling} must be greater than 0`);
  return timeoutMs;
}

type WriteQueueOptions = Pick<ServeOptions, 'writeQueueCountMax' | 'writeQueueBatchCountMax' | 'writeQueueTimeoutMs' | 'writeQueueTransaction'>;

/**
 * -write-queue-*, with rqlited's defaults. As in rqlited a 0 timeout means a batch goes
 * only once full; the batch size is bounded by what one log entry carries.
 */
function writeQueueOptions(flags: Flags): WriteQueueOptions {
  const capacity = flags.get('write-queue-capacity');
  const batch = flags.get('write-queue-batch-size');
  const defaults = nodeConfigDefaults;
  return {
    writeQueueCountMax:
      capacity === undefined
        ? defaults.writeQueueCountMax
        : parseGoIntegerFlag(capacity.value, capacity.spelling, { minimum: 1, maximum: writeQueueCountFlagMax, signed: true }),
    writeQueueBatchCountMax:
      batch === undefined
        ? defaults.writeQueueBatchCountMax
        : parseGoIntegerFlag(batch.value, batch.spelling, { minimum: 1, maximum: commandLimits.queuedRequestCountMax, signed: true }),
    writeQueueTimeoutMs: intervalOrOff(flags, 'write-queue-timeout', defaults.writeQueueTimeoutMs, timerDelayMsMax),
    writeQueueTransaction: booleanFlag(flags, 'write-queue-tx', defaults.writeQueueTransaction),
  };
}

/** -db-count-max: 1 (the default database alone) to databaseCountFlagMax. */
function databaseCountFlag(flags: Flags): number {
  const value = flags.get('db-count-max');
  if (value === undefined) return nodeConfigDefaults.databaseCountMax;
  return parseGoIntegerFlag(value.value, value.spelling, { minimum: 1, maximum: databaseCountFlagMax, signed: true });
}

/** -sqlite-page-size: a power of two from 512 to 65536 (SQLite's own bounds). */
function pageSizeFlag(flags: Flags): number {
  const value = flags.get('sqlite-page-size');
  if (value === undefined) return nodeConfigDefaults.sqlitePageSize;
  const pageSize = parseWholeNumber(value.value, value.spelling, pageSizeMin, pageSizeMax);
  if (!isPageSize(pageSize)) throw new UsageError(`${value.spelling}: ${pageSize} is not a power of two (SQLite takes 512, 1024, … 65536)`);
  return pageSize;
}

function addressOptions(flags: Flags): Pick<ServeOptions, 'nodeId' | 'httpAddress' | 'httpAdvertisedAddress' | 'raftAddress' | 'raftAdvertisedAddress'> {
  const httpAddress = hostPortFlag(flags, 'http-addr', { host: '127.0.0.1', port: 4001 });
  const raftAddress = hostPortFlag(flags, 'raft-addr', { host: '127.0.0.1', port: 4002 });
  const raftAdvertisedAddress = hostPortFlag(flags, 'raft-adv-addr', raftAddress);
  const httpAdvertisedAddress = hostPortFlag(flags, 'http-adv-addr', httpAddress);
  if (httpAddress.host === raftAddress.host && httpAddress.port === raftAddress.port) throw new UsageError('--http-addr and --raft-addr must differ');
  if (formatHostPort(httpAdvertisedAddress) === formatHostPort(raftAdvertisedAddress)) throw new UsageError('advertised HTTP and Raft addresses must differ');
  const nodeId = flags.get('node-id');
  return {
    // rqlite's default node id: the advertised raft address.
    nodeId: nodeId === undefined ? formatHostPort(raftAdvertisedAddress) : parseNodeId(nodeId),
    httpAddress,
    httpAdvertisedAddress,
    raftAddress,
    raftAdvertisedAddress,
  };
}

/** Parses `serve`'s command line. Returns 'help' for -h/--help and 'version' for -version. */
export function parseServeFlags(argv: readonly string[]): ServeOptions | 'help' | 'version' {
  const { flags, positionals } = parseGoFlags(argv, serveFlagKinds);
  if (booleanFlag(flags, 'help', false) || booleanFlag(flags, 'h', false)) return 'help';
  if (booleanFlag(flags, 'version', false)) return 'version';
  refuseUnsupported(flags);
  // First: with --consensus etcd, a Raft-only flag is refused before its own checks run.
  const consensus = parseConsensusFlags(flags);
  const bodyBytes = flags.get('http-max-body-bytes');
  const connectTimeout = flags.get('cluster-connect-timeout');
  const formation = { ...formationOptions(flags), ...parseDiscoveryFlags(flags) };
  checkDiscoveryFormation(formation);
  return {
    ...addressOptions(flags),
    dataDirectory: dataDirectoryOf(flags, positionals),
    ...formation,
    ...parseTimingFlags(flags),
    applyTimeoutMs: durationFlag(flags, 'raft-apply-timeout', 10_000),
    ...snapshotOptions(flags),
    ...databaseOptions(flags),
    connectTimeoutMs: connectTimeout === undefined ? undefined : parseDurationFlag(connectTimeout.value, connectTimeout.spelling, timerRangeMs),
    httpAllowOrigin: allowOriginOf(flags.get('http-allow-origin')),
    ...parseAuthFlags(flags),
    httpBodyBytesMax: bodyBytes === undefined ? 64 * 1024 * 1024 : parseWholeNumber(bodyBytes.value, bodyBytes.spelling, 1024, 2 ** 31),
    logLevel: parseLogLevel(flags.get('log-level')),
    raftLogLevel: parseRaftLogLevel(flags.get('raft-log-level')),
    testFaultsOnStdin: booleanFlag(flags, 'test-faults-on-stdin', false),
    exitWhenRemoved: booleanFlag(flags, 'raft-remove-shutdown', false),
    removeOnShutdown: booleanFlag(flags, 'raft-cluster-remove-shutdown', false),
    stepDownOnShutdown: booleanFlag(flags, 'raft-shutdown-stepdown', true),
    reapNodeTimeoutMs: reapTimeout(flags, 'raft-reap-node-timeout'),
    reapReadOnlyNodeTimeoutMs: reapTimeout(flags, 'raft-reap-read-only-node-timeout'),
    ...writeQueueOptions(flags),
    foreignKeys: booleanFlag(flags, 'fk', false),
    databaseCountMax: databaseCountFlag(flags),
    sqlitePageSize: pageSizeFlag(flags),
    tls: parseTlsFlags(flags),
    ...backupOptions(flags, consensus.etcd !== undefined),
    ...consensus,
    ...cdcOptions(flags),
  };
}
