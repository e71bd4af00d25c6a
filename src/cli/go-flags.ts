/**
 * Command lines read the way Go's `flag` package reads them (rqlited's parser), so an
 * rqlited command line works unchanged, while today's GNU spellings keep working:
 *
 * - `-name` and `--name` are the same flag; a value follows `=` or comes as the next
 *   argument (`-name=value`, `-name value`, `--name value`);
 * - a boolean flag is `-name` (true) or `-name=BOOL`, BOOL as Go's strconv.ParseBool
 *   (1 t T TRUE true True, 0 f F FALSE false False); `-name false` does not set it false:
 *   "false" is the first positional argument, as in Go;
 * - flags end at the first argument that is not one (`-` alone is not one) or after
 *   `--`; everything from there on is positional;
 * - `---name`, `-=value` and `--=value` are bad syntax.
 *
 * Two deliberate differences, each refusing what Go would accept without a word:
 * - a flag given twice is refused (Go keeps the last);
 * - a value flag followed by another known flag (`-node-id -http-addr x`) is refused as
 *   missing its value (Go would take "-http-addr" for the node id).
 * Pure: returns the flags and positionals, or throws a UsageError.
 */
import { UsageError } from './usage-error.js';

export type FlagKind = 'value' | 'boolean';

export interface GivenFlag {
  /** The value; a boolean flag's is 'true' or 'false'. */
  readonly value: string;
  /** The flag as the user wrote it (`-raft-snap` or `--raft-snap`), for messages. */
  readonly spelling: string;
}

interface ParsedCommandLine {
  readonly flags: ReadonlyMap<string, GivenFlag>;
  readonly positionals: readonly string[];
}

const trueTexts = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const falseTexts = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool, or undefined for anything else. */
export function parseGoBoolean(text: string): boolean | undefined {
  if (trueTexts.has(text)) return true;
  if (falseTexts.has(text)) return false;
  return undefined;
}

interface FlagArgument {
  readonly name: string;
  readonly dashes: string;
  readonly inlineValue: string | undefined;
}

/** A flag argument's parts, 'end' for `--`, or undefined for a positional argument. */
function readFlagArgument(argument: string): FlagArgument | 'end' | undefined {
  if (argument.length < 2 || !argument.startsWith('-')) return undefined;
  if (argument === '--') return 'end';
  const dashes = argument.startsWith('--') ? '--' : '-';
  const body = argument.slice(dashes.length);
  if (body === '' || body.startsWith('-') || body.startsWith('=')) throw new UsageError(`bad flag syntax: ${argument}`);
  const equals = body.indexOf('=');
  if (equals === -1) return { name: body, dashes, inlineValue: undefined };
  return { name: body.slice(0, equals), dashes, inlineValue: body.slice(equals + 1) };
}

/** Whether `argument` names a flag this command knows (so it cannot be another flag's value). */
function isKnownFlag(argument: string, kinds: ReadonlyMap<string, FlagKind>): boolean {
  try {
    const parsed = readFlagArgument(argument);
    return parsed !== undefined && parsed !== 'end' && kinds.has(parsed.name);
  } catch {
    return false;
  }
}

function booleanValue(flag: FlagArgument, spelling: string): string {
  if (flag.inlineValue === undefined) return 'true';
  const value = parseGoBoolean(flag.inlineValue);
  if (value === undefined) {
    throw new UsageError(`invalid boolean value ${JSON.stringify(flag.inlineValue)} for ${spelling}: a boolean flag takes no value, or =true / =false`);
  }
  return String(value);
}

/**
 * Reads `argv` against the flags in `kinds`. Throws a UsageError on an unknown flag,
 * bad syntax, a repeated flag, a value flag without its value or a malformed boolean.
 */
export function parseGoFlags(argv: readonly string[], kinds: ReadonlyMap<string, FlagKind>): ParsedCommandLine {
  const flags = new Map<string, GivenFlag>();
  let position = 0;
  while (position < argv.length) {
    const argument = argv[position] as string;
    const flag = readFlagArgument(argument);
    if (flag === undefined) break;
    position += 1;
    if (flag === 'end') break;
    const spelling = `${flag.dashes}${flag.name}`;
    const kind = kinds.get(flag.name);
    if (kind === undefined) throw new UsageError(`unknown flag ${spelling}`);
    if (flags.has(flag.name)) throw new UsageError(`flag ${spelling} given twice`);
    if (kind === 'boolean') {
      flags.set(flag.name, { value: booleanValue(flag, spelling), spelling });
      continue;
    }
    const value = flag.inlineValue ?? separateValue(argv[position], spelling, kinds);
    if (flag.inlineValue === undefined) position += 1;
    flags.set(flag.name, { value, spelling });
  }
  return { flags, positionals: argv.slice(position) };
}

/** A value flag's value given as the next argument, which must be there and not be another flag. */
function separateValue(next: string | undefined, spelling: string, kinds: ReadonlyMap<string, FlagKind>): string {
  if (next === undefined || isKnownFlag(next, kinds)) throw new UsageError(`flag ${spelling} needs a value`);
  return next;
}
