/**
 * A tokenizer for SQLite's SQL, enough to split text into statements and to see each
 * statement's keywords and names: comments (`--` to the end of the line, `/* *\/`),
 * strings, quoted identifiers (`"x"`, `[x]`, `` `x` ``) and blob literals are
 * recognised so that a keyword or `;` inside any of them never counts.
 */

type TokenKind = 'word' | 'quoted-identifier' | 'string' | 'number' | 'variable' | 'semicolon' | 'punctuation';

export interface Token {
  readonly kind: TokenKind;
  /** Words upper-cased; identifiers and strings unquoted; everything else as written. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** A string, quoted identifier or block comment still open at the end of the text. */
interface UnclosedSpan {
  readonly kind: 'string' | 'quoted-identifier' | 'block-comment';
  /** Offset of its opening quote, bracket or `/*`. */
  readonly start: number;
}

interface TokenScan {
  /** Every token before the end of the text or the unclosed span. */
  readonly tokens: Token[];
  readonly unclosed: UnclosedSpan | undefined;
}

export class SqlSyntaxError extends Error {
  override readonly name = 'SqlSyntaxError';
}

/**
 * The tokens of `sql`. A string or quoted identifier left open is an error (SQLite
 * refuses it too); a block comment left open runs to the end, as SQLite reads it.
 */
export function tokenize(sql: string): Token[] {
  const { tokens, unclosed } = scanTokens(sql);
  if (unclosed === undefined || unclosed.kind === 'block-comment') return tokens;
  throw new SqlSyntaxError(`unterminated ${unclosed.kind === 'string' ? 'string' : 'quoted identifier'} at offset ${unclosed.start}`);
}

/** The tokens of `sql`, stopping without error at a span left open (text still being typed). */
export function scanTokens(sql: string): TokenScan {
  const tokens: Token[] = [];
  let position = skipSpace(sql, 0);
  while (position >= 0 && position < sql.length) {
    const token = scanToken(sql, position);
    if (token === undefined) return { tokens, unclosed: unclosedAt(sql, position) };
    tokens.push(token);
    position = skipSpace(sql, token.end);
  }
  if (position < 0) return { tokens, unclosed: { kind: 'block-comment', start: -position - 1 } };
  return { tokens, unclosed: undefined };
}

function unclosedAt(sql: string, start: number): UnclosedSpan {
  const character = sql[start];
  if (character === "'") return { kind: 'string', start };
  if (character === 'x' || character === 'X') return { kind: 'string', start: start + 1 };
  return { kind: 'quoted-identifier', start };
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

/** Ends after the closing quote; a doubled quote is an escaped one. Undefined when never closed. */
function scanQuoted(sql: string, start: number, close: string): { end: number; text: string } | undefined {
  let text = '';
  let position = start + 1;
  for (;;) {
    const found = sql.indexOf(close, position);
    if (found < 0) return undefined;
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

/**
 * Skips whitespace and comments; returns the next significant offset, or, when a block
 * comment is never closed, `-(its start + 1)` (the text ends inside it).
 */
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
      if (close < 0) return -position - 1;
      position = close + 2;
    } else break;
  }
  return position;
}

function scanToken(sql: string, start: number): Token | undefined {
  const character = sql[start] as string;
  const code = sql.charCodeAt(start);
  if (character === "'") return quotedToken('string', scanQuoted(sql, start, "'"), start);
  if (character === '"' || character === '`' || character === '[') {
    return quotedToken('quoted-identifier', scanQuoted(sql, start, character === '[' ? ']' : character), start);
  }
  if ((character === 'x' || character === 'X') && sql[start + 1] === "'") {
    return quotedToken('string', scanQuoted(sql, start + 1, "'"), start);
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

function quotedToken(kind: TokenKind, quoted: { end: number; text: string } | undefined, start: number): Token | undefined {
  return quoted === undefined ? undefined : { kind, text: quoted.text, start, end: quoted.end };
}
