/**
 * The flags of `quorumlite shell`: rqlite's shell flags (`-H/--host`, `-p/--port`,
 * `-s/--scheme`, `-P/--prefix`, `-a/--alternatives`, `-u/--user`, `-c/--ca-cert`,
 * `-d/--client-cert`, `-k/--client-key`, `-i/--insecure`, `-t/--http-timeout`,
 * `-v/--version`, `-h/--help`), parsed by the rules of the library rqlite uses
 * (`--flag value`, `--flag=value`, `-Fvalue`, `-xy` for booleans), plus quorumlite's
 * own long-only flags. Unknown flags are a usage error (exit 2); each error carries
 * quorumlite's wording and rqlite's, so each style prints its own.
 */
import type { ConsistencyLevel } from '../client/types.js';
import { DurationError, parseDurationMs } from '../common/duration.js';
import { outputModes, type OutputMode } from './shell-format.js';
import { buildHosts, credentialsInHosts, type HostFlags } from './shell-hosts.js';
import { type BasicCredentials, parseBasicCredentials } from './basic-credentials.js';

/** `rqlite`: rqlite's shell, line for line; `sqlite3`: quorumlite's sqlite3-like shell. */
export type ShellStyle = 'rqlite' | 'sqlite3';

export interface TlsSettings {
  readonly caCertPath: string | undefined;
  readonly clientCertPath: string | undefined;
  readonly clientKeyPath: string | undefined;
  /** Accept any server certificate (`-i`). */
  readonly insecure: boolean;
}

export interface ShellArguments {
  readonly style: ShellStyle;
  /** Base URLs of the nodes to talk to (prefix included), the first one first. */
  readonly hosts: string[];
  /** `--command SQL`: run this and exit. */
  readonly command: string | undefined;
  readonly consistency: ConsistencyLevel;
  readonly mode: OutputMode | undefined;
  readonly headers: boolean | undefined;
  readonly user: BasicCredentials | undefined;
  readonly historyFile: string | undefined;
  readonly tls: TlsSettings;
  /** `-t`: one HTTP exchange may take this long; undefined when not given (rqlite's default is 30s). */
  readonly httpTimeoutMs: number | undefined;
}

interface ParseError {
  readonly kind: 'error';
  /** quorumlite's wording (the sqlite3 style prints it). */
  readonly message: string;
  /** rqlite's wording for the same mistake (the rqlite style prints it after `ERR!`). */
  readonly rqliteMessage: string;
}

type ParsedArguments = { kind: 'run'; arguments: ShellArguments } | { kind: 'help' } | { kind: 'version' } | ParseError;

type FlagKind = 'text' | 'boolean';

interface FlagSpec {
  readonly key: string;
  readonly kind: FlagKind;
  readonly names: readonly string[];
}

const flagSpecs: readonly FlagSpec[] = [
  { key: 'help', kind: 'boolean', names: ['-h', '--help'] },
  { key: 'alternatives', kind: 'text', names: ['-a', '--alternatives'] },
  { key: 'scheme', kind: 'text', names: ['-s', '--scheme'] },
  { key: 'host', kind: 'text', names: ['-H', '--host'] },
  { key: 'port', kind: 'text', names: ['-p', '--port'] },
  { key: 'prefix', kind: 'text', names: ['-P', '--prefix'] },
  { key: 'insecure', kind: 'boolean', names: ['-i', '--insecure'] },
  { key: 'caCert', kind: 'text', names: ['-c', '--ca-cert'] },
  { key: 'clientCert', kind: 'text', names: ['-d', '--client-cert'] },
  { key: 'clientKey', kind: 'text', names: ['-k', '--client-key'] },
  { key: 'user', kind: 'text', names: ['-u', '--user'] },
  { key: 'version', kind: 'boolean', names: ['-v', '--version'] },
  { key: 'httpTimeout', kind: 'text', names: ['-t', '--http-timeout'] },
  // quorumlite's own: long names only, so that no rqlite short flag is shadowed.
  { key: 'command', kind: 'text', names: ['--command'] },
  { key: 'consistency', kind: 'text', names: ['--consistency'] },
  { key: 'mode', kind: 'text', names: ['--mode'] },
  { key: 'headers', kind: 'text', names: ['--headers'] },
  { key: 'history', kind: 'text', names: ['--history'] },
  { key: 'style', kind: 'text', names: ['--style'] },
];

const flagsByName = new Map<string, FlagSpec>(flagSpecs.flatMap((spec) => spec.names.map((name) => [name, spec] as const)));

export const shellUsage = `Usage: quorumlite shell [options]

Options (rqlite's shell flags):

  -h, --help
      display help information

  -a, --alternatives
      comma separated list of 'host:port' pairs to use as fallback

  -s, --scheme[=http]
      protocol scheme (http or https)

  -H, --host[=127.0.0.1]
      rqlited host address (or a comma separated list of http(s):// URLs)

  -p, --port[=4001]
      rqlited host port

  -P, --prefix[=/]
      rqlited HTTP URL prefix

  -i, --insecure[=false]
      do not verify rqlited HTTPS certificate

  -c, --ca-cert
      path to trusted X.509 root CA certificate

  -d, --client-cert
      path to client X.509 certificate for mutual TLS

  -k, --client-key
      path to client X.509 key for mutual TLS

  -u, --user
      set basic auth credentials in form username:password (env QUORUMLITE_USER)

  -v, --version
      display CLI version

  -t, --http-timeout[=30s]
      set timeout on HTTP requests

quorumlite's own:

  --style rqlite|sqlite3   rqlite: rqlite's shell (one statement a line, rqlite's output);
                           sqlite3: statements end at ';', sqlite3's output modes (default rqlite)
  --command SQL            run SQL (and dot commands) and exit
  --consistency LEVEL      read consistency: none, weak, linearizable, strong, auto (default weak)
  --mode MODE              output mode: column, csv, json, line (default column)
  --headers on|off         print column headers (sqlite3 style; default on)
  --history FILE           history file (default ~/.quorumlite_history)

The node comes from the flags, else RQLITE_HOST, else QUORUMLITE_HOST (URLs), else
http://127.0.0.1:4001. Input is read from stdin when it is not a terminal; the exit
status is 1 after any error, 2 for bad flags.
`;

const consistencyLevels: readonly ConsistencyLevel[] = ['none', 'weak', 'linearizable', 'strong', 'auto'];
/** rqlite's shell reads `-t` as a Go duration, 30s unless told. */
export const httpTimeoutMsDefault = 30_000;

function fail(message: string, rqliteMessage = message): ParseError {
  return { kind: 'error', message, rqliteMessage };
}

export function parseShellArguments(argv: readonly string[], environment: Readonly<Record<string, string | undefined>>): ParsedArguments {
  const values = new Map<string, string>();
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] as string;
    if (argument === '-') return fail('unexpected argument "-"', 'unexpected single dash');
    if (!argument.startsWith('-') || argument === '--') {
      // rqlite's shell takes no arguments; after `--` only arguments could follow.
      const stray = argument === '--' ? argv[index + 1] : argument;
      return stray === undefined ? buildArguments(values, environment) : fail(`unexpected argument ${JSON.stringify(stray)}`);
    }
    const consumed = readFlag(argv, index, values);
    if (typeof consumed !== 'number') return consumed;
    index += consumed;
  }
  return buildArguments(values, environment);
}

/** Reads the flag at argv[index] into `values`; returns how many following arguments it took. */
function readFlag(argv: readonly string[], index: number, values: Map<string, string>): number | ParseError {
  const argument = argv[index] as string;
  const equals = argument.indexOf('=');
  const name = equals < 0 ? argument : argument.slice(0, equals);
  const inlineValue = equals < 0 ? undefined : argument.slice(equals + 1);
  const spec = flagsByName.get(name);
  if (spec === undefined) return readUnknownFlag(argument, name, values);
  if (spec.kind === 'boolean') {
    const value = inlineValue === undefined ? true : booleanValue(inlineValue);
    if (value === undefined) return fail(`${name} must be true or false`, `\`${inlineValue}\` couldn't convert to a bool value`);
    values.set(spec.key, String(value));
    return 0;
  }
  if (inlineValue !== undefined) {
    values.set(spec.key, inlineValue);
    return 0;
  }
  // As rqlite's flag library does, a following argument that starts with '-' is not a value.
  const next = argv[index + 1];
  if (next === undefined || next.startsWith('-')) return fail(`${name} needs a value`);
  values.set(spec.key, next);
  return 1;
}

/** `-Hvalue` (a value flag and its value in one), `-iv` (boolean flags folded), or an error. */
function readUnknownFlag(argument: string, name: string, values: Map<string, string>): number | ParseError {
  if (name.startsWith('--')) return fail(`unknown flag ${name}`, `undefined flag ${name}`);
  const joined = flagsByName.get(argument.slice(0, 2));
  if (joined !== undefined && joined.kind === 'text') {
    values.set(joined.key, argument.slice(2));
    return 0;
  }
  for (const character of name.slice(1)) {
    const folded = flagsByName.get(`-${character}`);
    if (folded === undefined) return fail(`unknown flag -${character}`, `undefined flag -${character}`);
    if (folded.kind !== 'boolean') return fail(`-${character} needs a value`, `each fold flag should be boolean, but -${character} not`);
    values.set(folded.key, 'true');
  }
  return 0;
}

/** The boolean spellings rqlite's flag library accepts. */
function booleanValue(text: string): boolean | undefined {
  if (['true', 'yes', 'y', ''].includes(text)) return true;
  if (['false', 'none', 'no', 'not', 'n'].includes(text)) return false;
  return /^[+-]?\d+$/.test(text) ? Number(text) !== 0 : undefined;
}

function buildArguments(values: Map<string, string>, environment: Readonly<Record<string, string | undefined>>): ParsedArguments {
  if (values.get('help') === 'true') return { kind: 'help' };
  if (values.get('version') === 'true') return { kind: 'version' };
  const style = values.get('style') ?? 'rqlite';
  if (style !== 'rqlite' && style !== 'sqlite3') return fail('--style must be rqlite or sqlite3');
  const hosts = buildHosts(hostFlags(values), environment);
  if (!Array.isArray(hosts)) return fail(hosts.message, hosts.rqliteMessage);
  const modes = buildModes(values, style);
  if ('kind' in modes) return modes;
  const givenUser = buildUser(values.get('user') ?? nonEmpty(environment.QUORUMLITE_USER));
  if (givenUser === 'invalid') return fail('--user must be NAME:PASSWORD', 'invalid Basic Auth credential format');
  const user = givenUser ?? credentialsInHosts(hostFlags(values), environment);
  const httpTimeoutMs = buildTimeout(values.get('httpTimeout'));
  if (typeof httpTimeoutMs === 'object') return httpTimeoutMs;
  return {
    kind: 'run',
    arguments: {
      style,
      hosts,
      command: values.get('command'),
      ...modes,
      user,
      historyFile: values.get('history'),
      tls: {
        caCertPath: values.get('caCert'),
        clientCertPath: values.get('clientCert'),
        clientKeyPath: values.get('clientKey'),
        insecure: values.get('insecure') === 'true',
      },
      httpTimeoutMs,
    },
  };
}

function hostFlags(values: Map<string, string>): HostFlags {
  return {
    host: values.get('host'),
    port: values.get('port'),
    scheme: values.get('scheme'),
    prefix: values.get('prefix'),
    alternatives: values.get('alternatives'),
  };
}

type Modes = Pick<ShellArguments, 'consistency' | 'mode' | 'headers'>;

function buildModes(values: Map<string, string>, style: ShellStyle): Modes | ParseError {
  const consistency = values.get('consistency') ?? 'weak';
  if (!consistencyLevels.includes(consistency as ConsistencyLevel)) return fail(`--consistency must be one of ${consistencyLevels.join(', ')}`);
  const mode = values.get('mode');
  if (mode !== undefined && !outputModes.includes(mode as OutputMode)) return fail(`--mode must be one of ${outputModes.join(', ')}`);
  const headers = values.get('headers');
  if (headers !== undefined && headers !== 'on' && headers !== 'off') return fail('--headers must be on or off');
  // rqlite's shell always prints headers; a flag that would do nothing is refused.
  if (headers !== undefined && style === 'rqlite') return fail('--headers needs --style sqlite3');
  return { consistency: consistency as ConsistencyLevel, mode: mode as OutputMode | undefined, headers: headers === undefined ? undefined : headers === 'on' };
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}

function buildUser(text: string | undefined): ShellArguments['user'] | 'invalid' {
  return text === undefined ? undefined : parseBasicCredentials(text);
}

function buildTimeout(text: string | undefined): number | undefined | ParseError {
  if (text === undefined) return undefined;
  try {
    const timeoutMs = parseDurationMs(text);
    if (timeoutMs > 0) return timeoutMs;
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
  }
  return fail('--http-timeout must be a positive duration such as 30s', `time: invalid duration ${JSON.stringify(text)}`);
}
