/**
 * A tokenizer for SQLite's SQL, enough to split a string into statements and to see
 * each statement's keywords and names: comments, strings, quoted identifiers ("x",
 * [x], `x`) and blob literals are recognised so that a keyword inside any of them is
 * never mistaken for one. Splitting follows sqlite3_complete(): a `;` inside
 * CREATE TRIGGER … BEGIN … END does not end the statement.
 */

export type TokenKind = 'word' | 'quoted-identifier' | 'string' | 'number' | 'variable' | 'semicolon' | 'punctuation';

export interface Token {
  readonly kind: TokenKind;
  /** Words upper-cased; identifiers and strings unquoted; everything else as written. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

export interface SqlStatementText {
  /** The statement's source text, without the terminating `;`. */
  readonly sql: string;
  readonly tokens: readonly Token[];
}

export class SqlSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SqlSyntaxError';
  }
}

function isWordStart(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code > 127;
}

function isWordPart(code: number): boolean {
  return isWordStart(code) || (code >= 48 && code <= 57) || code === 36;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13 || code === 12;
}

/** Ends after the closing quote; a doubled quote is an escaped one. */
function scanQuoted(sql: string, start: number, close: string): { end: number; text: string } {
  let text = '';
  let position = start + 1;
  for (;;) {
    const found = sql.indexOf(close, position);
    if (found < 0) throw new SqlSyntaxError(`unterminated ${close === "'" ? 'string' : 'quoted identifier'} at offset ${start}`);
    text += sql.slice(position, found);
    if (close !== ']' && sql[found + 1] === close) {
      text += close;
      position = found + 2;
      continue;
    }
    return { end: found + 1, text };
  }
}

function scanWhile(sql: string, start: number, predicate: (code: number) => boolean): number {
  let position = start;
  while (position < sql.length && predicate(sql.charCodeAt(position))) position++;
  return position;
}

/** Skips whitespace and comments; returns the next significant offset. */
function skipSpace(sql: string, start: number): number {
  let position = start;
  while (position < sql.length) {
    const code = sql.charCodeAt(position);
    if (isSpace(code)) position++;
    else if (sql.startsWith('--', position)) {
      const newline = sql.indexOf('\n', position);
      position = newline < 0 ? sql.length : newline + 1;
    } else if (sql.startsWith('/*', position)) {
      const close = sql.indexOf('*/', position + 2);
      position = close < 0 ? sql.length : close + 2;
    } else break;
  }
  return position;
}

function scanToken(sql: string, start: number): Token {
  const character = sql[start] as string;
  const code = sql.charCodeAt(start);
  if (character === "'") {
    const { end, text } = scanQuoted(sql, start, "'");
    return { kind: 'string', text, start, end };
  }
  if (character === '"' || character === '`' || character === '[') {
    const { end, text } = scanQuoted(sql, start, character === '[' ? ']' : character);
    return { kind: 'quoted-identifier', text, start, end };
  }
  if ((character === 'x' || character === 'X') && sql[start + 1] === "'") {
    const { end, text } = scanQuoted(sql, start + 1, "'");
    return { kind: 'string', text, start, end };
  }
  if (isWordStart(code)) {
    const end = scanWhile(sql, start, isWordPart);
    return { kind: 'word', text: sql.slice(start, end).toUpperCase(), start, end };
  }
  if (isDigit(code) || (character === '.' && isDigit(sql.charCodeAt(start + 1)))) {
    const end = scanWhile(sql, start, (next) => isWordPart(next) || next === 46);
    return { kind: 'number', text: sql.slice(start, end), start, end };
  }
  if (character === '?' || character === ':' || character === '@' || character === '$') {
    const end = scanWhile(sql, start + 1, (next) => isWordPart(next));
    return { kind: 'variable', text: sql.slice(start, end), start, end };
  }
  if (character === ';') return { kind: 'semicolon', text: ';', start, end: start + 1 };
  return { kind: 'punctuation', text: character, start, end: start + 1 };
}

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let position = skipSpace(sql, 0);
  while (position < sql.length) {
    const token = scanToken(sql, position);
    tokens.push(token);
    position = skipSpace(sql, token.end);
  }
  return tokens;
}

// sqlite3_complete()'s states and transitions, on the tokens that matter.
const enum State {
  Start = 1,
  Normal = 2,
  Explain = 3,
  Create = 4,
  Trigger = 5,
  Semi = 6,
  End = 7,
}

const enum Class {
  Semi = 0,
  Other = 1,
  Explain = 2,
  Create = 3,
  Temp = 4,
  Trigger = 5,
  End = 6,
}

// Rows: states 1..7 (index 0 unused); columns: Class.
const transitions: readonly (readonly State[])[] = [
  [],
  [State.Start, State.Normal, State.Explain, State.Create, State.Normal, State.Normal, State.Normal],
  [State.Start, State.Normal, State.Normal, State.Normal, State.Normal, State.Normal, State.Normal],
  [State.Start, State.Explain, State.Normal, State.Create, State.Normal, State.Normal, State.Normal],
  [State.Start, State.Normal, State.Normal, State.Normal, State.Create, State.Trigger, State.Normal],
  [State.Semi, State.Trigger, State.Trigger, State.Trigger, State.Trigger, State.Trigger, State.Trigger],
  [State.Semi, State.Trigger, State.Trigger, State.Trigger, State.Trigger, State.Trigger, State.End],
  [State.Start, State.Trigger, State.Trigger, State.Trigger, State.Trigger, State.Trigger, State.Trigger],
];

function classify(token: Token): Class {
  if (token.kind === 'semicolon') return Class.Semi;
  if (token.kind !== 'word') return Class.Other;
  switch (token.text) {
    case 'EXPLAIN':
      return Class.Explain;
    case 'CREATE':
      return Class.Create;
    case 'TEMP':
    case 'TEMPORARY':
      return Class.Temp;
    case 'TRIGGER':
      return Class.Trigger;
    case 'END':
      return Class.End;
    default:
      return Class.Other;
  }
}

/** Splits SQL text into statements; empty statements (`;;`) are dropped. */
export function splitStatements(sql: string): SqlStatementText[] {
  const statements: SqlStatementText[] = [];
  let state: State = State.Start;
  let current: Token[] = [];
  for (const token of tokenize(sql)) {
    const next = (transitions[state] as readonly State[])[classify(token)] as State;
    if (token.kind === 'semicolon' && next === State.Start) {
      if (current.length > 0) statements.push(statementOf(sql, current));
      current = [];
    } else {
      current.push(token);
    }
    state = next;
  }
  if (current.length > 0) statements.push(statementOf(sql, current));
  return statements;
}

function statementOf(sql: string, tokens: Token[]): SqlStatementText {
  const first = tokens[0] as Token;
  const last = tokens[tokens.length - 1] as Token;
  return { sql: sql.slice(first.start, last.end), tokens };
}
