/**
 * The flags of `quorumlite serve`, GNU-style (`--name value` or `--name=value`), named
 * after rqlited's where rqlited has a flag for the same thing. Parsing is pure: it
 * returns options or throws a UsageError, which the CLI prints and exits 2 on.
 */
import { nodeConfigDefaults } from '../node/config.js';
import { writeQueueDefaults } from '../node/queued-writes.js';
import { commandLimits } from '../state-machine/command-codec.js';
import { DurationError, parseDurationMs, timerDelayMsMax } from '../common/duration.js';

type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
const logLevels: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface ServeOptions {
  readonly nodeId: string;
  readonly httpAddress: HostPort;
  readonly httpAdvertisedAddress: HostPort;
  readonly raftAddress: HostPort;
  readonly raftAdvertisedAddress: HostPort;
  readonly dataDirectory: string;
  /** Raft addresses of existing members (or, with bootstrapExpect, of the peers to find). */
  readonly joinAddresses: readonly string[];
  /** 0: off. Otherwise the cluster size to form once that many nodes have seen each other. */
  readonly bootstrapExpect: number;
  readonly nonVoter: boolean;
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  /** Take a snapshot once this many entries were applied since the last one. */
  readonly snapshotThresholdEntries: number;
  /** How often the snapshot threshold is checked. */
  readonly snapshotIntervalMs: number;
  /** Log entries kept behind a snapshot (ours). */
  readonly snapshotTrailingEntries: number;
  /** Largest HTTP request body accepted (ours). */
  readonly httpBodyBytesMax: number;
  /** Queued writes (`?queue`) held at most (rqlited's -write-queue-capacity). */
  readonly writeQueueCapacity: number;
  /** Queued writes per log entry at most (-write-queue-batch-size). */
  readonly writeQueueBatchSize: number;
  /** A batch goes this long after its first write, full or not; 0: only when full (-write-queue-timeout). */
  readonly writeQueueTimeoutMs: number;
  /** One transaction per batch (-write-queue-tx). */
  readonly writeQueueTransaction: boolean;
  readonly logLevel: LogLevel;
  /** Test-only: accept fault-injection commands on standard input (partition from peers). */
  readonly testFaultsOnStdin: boolean;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const joinAddressCountMax = 16;
export const bootstrapExpectMax = 9;
export const nodeIdLengthMax = 128;
const heartbeatMsMin = 10;
export const writeQueueCapacityMax = 1_000_000;
const electionTimeoutMsMax = 60_000;

export const serveUsage = `Usage: quorumlite serve [flags]

  --node-id ID              unique node id (default: derived from the raft address)
  --http-addr HOST:PORT     HTTP API listen address (default 127.0.0.1:4001)
  --http-adv-addr HOST:PORT HTTP address advertised to other nodes (default: --http-addr)
  --raft-addr HOST:PORT     Raft listen address (default 127.0.0.1:4002)
  --raft-adv-addr HOST:PORT Raft address advertised to other nodes (default: --raft-addr)
  --data-dir DIR            data directory (default ./data)
  --join ADDR[,ADDR...]     Raft addresses of cluster members to join
  --bootstrap-expect N      form a cluster of N nodes found through --join
  --raft-non-voter          join as a non-voting member (read replica)
  --heartbeat-ms MS         leader heartbeat interval (default ${nodeConfigDefaults.heartbeatMs})
  --election-timeout-ms MS  election timeout; elections start after [T, 2T) of silence (default ${nodeConfigDefaults.electionTimeoutMs})
  --raft-snap N             snapshot after N applied entries (default ${nodeConfigDefaults.snapshotThresholdEntries})
  --raft-snap-int DURATION  how often to check the snapshot threshold (default ${nodeConfigDefaults.snapshotIntervalMs / 1000}s)
  --raft-trailing-logs N    log entries kept behind a snapshot (default ${nodeConfigDefaults.snapshotTrailingEntries})
  --http-max-body-bytes N   largest request body accepted (default 64 MiB)
  --write-queue-capacity N  queued writes (?queue) held at most (default ${writeQueueDefaults.writeQueueCapacity})
  --write-queue-batch-size N
                            queued writes per log entry at most (default ${writeQueueDefaults.writeQueueBatchSize})
  --write-queue-timeout DURATION
                            send a batch this long after its first write, full or not; 0s: only
                            when full (default ${writeQueueDefaults.writeQueueTimeoutMs}ms)
  --write-queue-tx          one transaction per batch of queued writes
  --log-level LEVEL         trace|debug|info|warn|error|silent (default info)
  --help                    show this help
`;

interface FlagSpec {
  readonly takesValue: boolean;
}

const flagSpecs: Readonly<Record<string, FlagSpec>> = {
  'node-id': { takesValue: true },
  'http-addr': { takesValue: true },
  'http-adv-addr': { takesValue: true },
  'raft-addr': { takesValue: true },
  'raft-adv-addr': { takesValue: true },
  'data-dir': { takesValue: true },
  join: { takesValue: true },
  'bootstrap-expect': { takesValue: true },
  'raft-non-voter': { takesValue: false },
  'heartbeat-ms': { takesValue: true },
  'election-timeout-ms': { takesValue: true },
  'raft-snap': { takesValue: true },
  'raft-snap-int': { takesValue: true },
  'raft-trailing-logs': { takesValue: true },
  'http-max-body-bytes': { takesValue: true },
  'write-queue-capacity': { takesValue: true },
  'write-queue-batch-size': { takesValue: true },
  'write-queue-timeout': { takesValue: true },
  'write-queue-tx': { takesValue: false },
  'log-level': { takesValue: true },
  'test-faults-on-stdin': { takesValue: false },
  help: { takesValue: false },
};

/** `--name` or `--name=value`: a known flag's name and spec, and the value after '=' if there is one. */
function readFlag(argument: string): { readonly name: string; readonly spec: FlagSpec; readonly inlineValue: string | undefined } {
  if (!argument.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(argument)}`);
  const equals = argument.indexOf('=');
  const name = argument.slice(2, equals === -1 ? undefined : equals);
  const spec = flagSpecs[name];
  if (spec === undefined) throw new UsageError(`unknown flag --${name}`);
  return { name, spec, inlineValue: equals === -1 ? undefined : argument.slice(equals + 1) };
}

/** Flag `name`'s value: '' for a boolean flag, else its inline value or `next` (the following argument, not a flag). */
function flagValue(name: string, spec: FlagSpec, inlineValue: string | undefined, next: string | undefined): string {
  if (!spec.takesValue) {
    if (inlineValue !== undefined) throw new UsageError(`flag --${name} takes no value`);
    return '';
  }
  const value = inlineValue ?? next;
  if (value === undefined || value === '' || (inlineValue === undefined && value.startsWith('--'))) throw new UsageError(`flag --${name} needs a value`);
  return value;
}

/** Splits argv into flag → value ('' for booleans). Throws on unknown, repeated or valueless flags. */
export function splitFlags(argv: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (let position = 0; position < argv.length; position += 1) {
    const { name, spec, inlineValue } = readFlag(argv[position] ?? '');
    if (values.has(name)) throw new UsageError(`flag --${name} given twice`);
    // Without '=', a flag that takes a value takes the next argument.
    const takesNext = spec.takesValue && inlineValue === undefined;
    values.set(name, flagValue(name, spec, inlineValue, takesNext ? argv[position + 1] : undefined));
    if (takesNext) position += 1;
  }
  return values;
}

/** Parses "host:port" (IPv6 as "[::1]:port"). */
export function parseHostPort(text: string, flag: string): HostPort {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (match === null) throw new UsageError(`--${flag}: invalid address ${JSON.stringify(text)}, expected HOST:PORT`);
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) throw new UsageError(`--${flag}: port ${port} out of range 1-65535`);
  const hostText = match[1] ?? '';
  const host = hostText.startsWith('[') ? hostText.slice(1, -1) : hostText;
  return { host, port };
}

export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

function parseInteger(text: string, flag: string, minimum: number, maximum: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${flag}: ${JSON.stringify(text)} is not a whole number`);
  const value = Number(text);
  if (value < minimum || value > maximum) {
    throw new UsageError(`--${flag}: ${value} out of range ${minimum}-${maximum}`);
  }
  return value;
}

/** Interval flags drive timers: at least 1ms, at most what a Node timer can wait. */
const intervalRangeMs = { durationMsMin: 1, durationMsMax: timerDelayMsMax };

function parseDurationFlag(text: string, flag: string, range = intervalRangeMs): number {
  try {
    return parseDurationMs(text, range);
  } catch (error) {
    if (error instanceof DurationError) throw new UsageError(`--${flag}: ${error.message}`);
    throw error;
  }
}

function parseJoinList(text: string | undefined): string[] {
  if (text === undefined) return [];
  const addresses = text.split(',').map((part) => part.trim());
  if (addresses.length > joinAddressCountMax) {
    throw new UsageError(`--join: at most ${joinAddressCountMax} addresses`);
  }
  // Accept rqlite's habit of "http://host:port" by stripping a scheme.
  return addresses.map((address) => {
    const bare = address.replace(/^[a-z]+:\/\//, '');
    return formatHostPort(parseHostPort(bare, 'join'));
  });
}

/** The node id rqlite derives when none is given: the advertised raft address. */
function defaultNodeId(raftAdvertisedAddress: HostPort): string {
  return formatHostPort(raftAdvertisedAddress);
}

function parseNodeId(text: string): string {
  if (text.length > nodeIdLengthMax) throw new UsageError(`--node-id: longer than ${nodeIdLengthMax} characters`);
  if (!/^[A-Za-z0-9._:[\]-]+$/.test(text)) {
    throw new UsageError(`--node-id: ${JSON.stringify(text)} may use only letters, digits and . _ : - [ ]`);
  }
  return text;
}

function parseLogLevel(text: string): LogLevel {
  const level = logLevels.find((candidate) => candidate === text);
  if (level === undefined) throw new UsageError(`--log-level: ${JSON.stringify(text)} is not one of ${logLevels.join('|')}`);
  return level;
}

/** An address flag's value, or `fallback` when the flag is absent. */
function hostPortFlag(flags: ReadonlyMap<string, string>, flag: string, fallback: HostPort): HostPort {
  const text = flags.get(flag);
  return text === undefined ? fallback : parseHostPort(text, flag);
}

function parseTimingFlags(flags: ReadonlyMap<string, string>): Pick<ServeOptions, 'heartbeatMs' | 'electionTimeoutMs'> {
  const heartbeatMs = parseInteger(flags.get('heartbeat-ms') ?? String(nodeConfigDefaults.heartbeatMs), 'heartbeat-ms', heartbeatMsMin, electionTimeoutMsMax);
  const electionTimeoutMs = parseInteger(
    flags.get('election-timeout-ms') ?? String(nodeConfigDefaults.electionTimeoutMs),
    'election-timeout-ms',
    heartbeatMsMin,
    electionTimeoutMsMax,
  );
  if (electionTimeoutMs < 2 * heartbeatMs) {
    throw new UsageError(`--election-timeout-ms (${electionTimeoutMs}) must be at least twice --heartbeat-ms (${heartbeatMs})`);
  }
  return { heartbeatMs, electionTimeoutMs };
}

function parseFormationFlags(flags: ReadonlyMap<string, string>): Pick<ServeOptions, 'joinAddresses' | 'bootstrapExpect'> {
  const joinAddresses = parseJoinList(flags.get('join'));
  const bootstrapExpect = parseInteger(flags.get('bootstrap-expect') ?? '0', 'bootstrap-expect', 0, bootstrapExpectMax);
  if (bootstrapExpect > 1 && joinAddresses.length === 0) {
    throw new UsageError('--bootstrap-expect needs --join with the addresses of the other nodes');
  }
  return { joinAddresses, bootstrapExpect };
}

function parseWriteQueueFlags(
  flags: ReadonlyMap<string, string>,
): Pick<ServeOptions, 'writeQueueCapacity' | 'writeQueueBatchSize' | 'writeQueueTimeoutMs' | 'writeQueueTransaction'> {
  const timeoutText = flags.get('write-queue-timeout') ?? `${writeQueueDefaults.writeQueueTimeoutMs}ms`;
  return {
    writeQueueCapacity: parseInteger(
      flags.get('write-queue-capacity') ?? String(writeQueueDefaults.writeQueueCapacity),
      'write-queue-capacity',
      1,
      writeQueueCapacityMax,
    ),
    writeQueueBatchSize: parseInteger(
      flags.get('write-queue-batch-size') ?? String(writeQueueDefaults.writeQueueBatchSize),
      'write-queue-batch-size',
      1,
      commandLimits.queuedRequestCountMax,
    ),
    // A timer counts whole milliseconds: a fraction rounds up, so a batch never goes early.
    writeQueueTimeoutMs: Math.ceil(parseDurationFlag(timeoutText, 'write-queue-timeout', { durationMsMin: 0, durationMsMax: timerDelayMsMax })),
    writeQueueTransaction: flags.has('write-queue-tx'),
  };
}

/** Parses `serve` flags. Returns 'help' when --help was given. */
export function parseServeFlags(argv: readonly string[]): ServeOptions | 'help' {
  const flags = splitFlags(argv);
  if (flags.has('help')) return 'help';
  const httpAddress = hostPortFlag(flags, 'http-addr', { host: '127.0.0.1', port: 4001 });
  const raftAddress = hostPortFlag(flags, 'raft-addr', { host: '127.0.0.1', port: 4002 });
  const raftAdvertisedAddress = hostPortFlag(flags, 'raft-adv-addr', raftAddress);
  const nodeIdText = flags.get('node-id');
  const timing = parseTimingFlags(flags);
  const formation = parseFormationFlags(flags);
  if (httpAddress.host === raftAddress.host && httpAddress.port === raftAddress.port) {
    throw new UsageError('--http-addr and --raft-addr must differ');
  }
  return {
    nodeId: nodeIdText === undefined ? defaultNodeId(raftAdvertisedAddress) : parseNodeId(nodeIdText),
    httpAddress,
    httpAdvertisedAddress: hostPortFlag(flags, 'http-adv-addr', httpAddress),
    raftAddress,
    raftAdvertisedAddress,
    dataDirectory: flags.get('data-dir') ?? './data',
    ...formation,
    nonVoter: flags.has('raft-non-voter'),
    ...timing,
    snapshotThresholdEntries: parseInteger(flags.get('raft-snap') ?? String(nodeConfigDefaults.snapshotThresholdEntries), 'raft-snap', 1, 1e9),
    snapshotIntervalMs: parseDurationFlag(flags.get('raft-snap-int') ?? `${nodeConfigDefaults.snapshotIntervalMs}ms`, 'raft-snap-int'),
    snapshotTrailingEntries: parseInteger(flags.get('raft-trailing-logs') ?? String(nodeConfigDefaults.snapshotTrailingEntries), 'raft-trailing-logs', 0, 1e9),
    httpBodyBytesMax: parseInteger(flags.get('http-max-body-bytes') ?? String(64 * 1024 * 1024), 'http-max-body-bytes', 1024, 2 ** 31),
    ...parseWriteQueueFlags(flags),
    logLevel: parseLogLevel(flags.get('log-level') ?? 'info'),
    testFaultsOnStdin: flags.has('test-faults-on-stdin'),
  };
}
