/**
 * Reading what the user typed: where a SQL statement ends (the shared splitter, by
 * sqlite3_complete's rules), and how a dot command splits into its name and arguments.
 */
import { splitFinishedSqlStatements } from '../common/sql-statements.js';

interface SplitResult {
  /** Complete statements, without the final semicolon, trimmed; empty ones dropped. */
  readonly statements: string[];
  /** Text after the last complete statement (an unfinished statement), or '' when only blanks and comments remain. */
  readonly rest: string;
}

/** Complete statements as written (comments around them kept), and the unfinished rest. */
export function splitStatements(text: string): SplitResult {
  const split = splitFinishedSqlStatements(text);
  return {
    statements: split.statements.map((statement) => text.slice(statement.segmentStart, statement.segmentEnd).trim()),
    rest: split.restIsBlank ? '' : text.slice(split.restStart),
  };
}

export interface DotCommand {
  /** Without the dot, lower-case. */
  readonly name: string;
  readonly args: string[];
}

/** Splits `.name arg 'quoted arg' "other"`; returns undefined when the line is not a dot command. */
export function parseDotCommand(line: string): DotCommand | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('.')) return undefined;
  const tokens = tokenizeArguments(trimmed.slice(1));
  const name = tokens.shift();
  if (name === undefined || name === '') return { name: '', args: tokens };
  return { name: name.toLowerCase(), args: tokens };
}

function tokenizeArguments(text: string): string[] {
  const tokens: string[] = [];
  let index = 0;
  while (index < text.length) {
    while (index < text.length && /\s/.test(text[index] as string)) index += 1;
    if (index >= text.length) break;
    const quote = text[index];
    if (quote === "'" || quote === '"') {
      const end = text.indexOf(quote, index + 1);
      const stop = end < 0 ? text.length : end;
      tokens.push(text.slice(index + 1, stop));
      index = stop + 1;
      continue;
    }
    let end = index;
    while (end < text.length && !/\s/.test(text[end] as string)) end += 1;
    tokens.push(text.slice(index, end));
    index = end;
  }
  return tokens;
}
