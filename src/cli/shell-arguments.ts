/** The flags of `quorumlite shell`. Unknown flags are a usage error (exit 2). */
import type { ConsistencyLevel } from '../client/types.js';
import { outputModes, type OutputMode } from './shell-format.js';

export interface ShellArguments {
  readonly hosts: string[];
  /** `-c SQL`: run this and exit. */
  readonly command: string | undefined;
  readonly consistency: ConsistencyLevel;
  readonly mode: OutputMode | undefined;
  readonly headers: boolean | undefined;
  readonly user: { username: string; password: string } | undefined;
  readonly historyFile: string | undefined;
}

type ParsedArguments = { kind: 'run'; arguments: ShellArguments } | { kind: 'help' } | { kind: 'error'; message: string };

export const shellUsage = `Usage: quorumlite shell [options]

Options:
  --host URL[,URL…]      nodes to talk to (env QUORUMLITE_HOST; default http://127.0.0.1:4001)
  -c, --command SQL      run SQL (and dot commands) and exit
  --consistency LEVEL    read consistency: none, weak, linearizable, strong, auto (default weak)
  --mode MODE            output mode: column, csv, json, line (default column)
  --headers on|off       print column headers (default on)
  --user NAME:PASSWORD   HTTP Basic credentials (env QUORUMLITE_USER)
  --history FILE         history file (default ~/.quorumlite_history)
  -h, --help             show this help

SQL read from stdin when it is not a terminal; the exit status is 1 after any error.
`;

const consistencyLevels: readonly ConsistencyLevel[] = ['none', 'weak', 'linearizable', 'strong', 'auto'];

export function parseShellArguments(argv: readonly string[], environment: Readonly<Record<string, string | undefined>>): ParsedArguments {
  const values = new Map<string, string>();
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] as string;
    if (argument === '-h' || argument === '--help') return { kind: 'help' };
    const [flag, inlineValue] = splitFlag(argument);
    const name = flagNames[flag];
    if (name === undefined) {
      return { kind: 'error', message: argument.startsWith('-') ? `unknown flag ${flag}` : `unexpected argument ${JSON.stringify(argument)}` };
    }
    const value = inlineValue ?? argv[index + 1];
    if (inlineValue === undefined) index += 1;
    if (value === undefined) return { kind: 'error', message: `${flag} needs a value` };
    values.set(name, value);
  }
  return buildArguments(values, environment);
}

const flagNames: Record<string, string> = {
  '--host': 'host',
  '-c': 'command',
  '--command': 'command',
  '--consistency': 'consistency',
  '--mode': 'mode',
  '--headers': 'headers',
  '--user': 'user',
  '--history': 'history',
};

function splitFlag(argument: string): [string, string | undefined] {
  const equals = argument.indexOf('=');
  if (!argument.startsWith('--') || equals < 0) return [argument, undefined];
  return [argument.slice(0, equals), argument.slice(equals + 1)];
}

function buildArguments(values: Map<string, string>, environment: Readonly<Record<string, string | undefined>>): ParsedArguments {
  const hostText = values.get('host') ?? environment.QUORUMLITE_HOST ?? 'http://127.0.0.1:4001';
  const hosts = hostText
    .split(',')
    .map((host) => host.trim())
    .filter((host) => host !== '');
  if (hosts.length === 0) return { kind: 'error', message: '--host names no node' };
  const consistency = values.get('consistency') ?? 'weak';
  if (!consistencyLevels.includes(consistency as ConsistencyLevel)) {
    return { kind: 'error', message: `--consistency must be one of ${consistencyLevels.join(', ')}` };
  }
  const mode = values.get('mode');
  if (mode !== undefined && !outputModes.includes(mode as OutputMode)) return { kind: 'error', message: `--mode must be one of ${outputModes.join(', ')}` };
  const headers = values.get('headers');
  if (headers !== undefined && headers !== 'on' && headers !== 'off') return { kind: 'error', message: '--headers must be on or off' };
  const userText = values.get('user') ?? environment.QUORUMLITE_USER;
  const colon = userText?.indexOf(':') ?? -1;
  if (userText !== undefined && colon < 0) return { kind: 'error', message: '--user must be NAME:PASSWORD' };
  return {
    kind: 'run',
    arguments: {
      hosts,
      command: values.get('command'),
      consistency: consistency as ConsistencyLevel,
      mode: mode as OutputMode | undefined,
      headers: headers === undefined ? undefined : headers === 'on',
      user: userText === undefined ? undefined : { username: userText.slice(0, colon), password: userText.slice(colon + 1) },
      historyFile: values.get('history'),
    },
  };
}
