/**
 * Double-quoted string literals, as SQLite accepts them with its DQS setting on (rqlite's
 * own docs write `INSERT INTO foo(name) VALUES("fiona")`). better-sqlite3 is built with
 * DQS off and exposes no way to turn it on, so SQLite's own rule is applied at prepare
 * time: a double-quoted token that resolves to no column is a string literal; one that
 * does resolve stays the identifier.
 *
 * SQLite names the token it could not resolve — `no such column: "X" - should this be a
 * string literal in single-quotes?`, a message it gives only for a double-quoted token —
 * so: prepare; on that message, turn the double-quoted tokens that failed into
 * single-quoted strings; prepare again, within a bound. SQL that prepares today is never
 * changed. When several tokens carry the same text X, each is tested alone (the others
 * turned into strings): only the ones that fail by themselves are rewritten, so
 * `SELECT "v" FROM has_v UNION SELECT "v" FROM lacks_v` keeps its first "v" a column.
 *
 * The outcome depends only on the SQL and the schema, so every node decides the same:
 * the log carries the SQL as the client sent it, and each node rewrites at apply (and a
 * follower at read) against its own, identical, schema. Callers must prepare again when
 * the schema changes (statement-runner.ts keys its cache on the schema version for
 * statements that hold a double-quoted token).
 */
import type { Token } from '../common/sql-tokens.js';

/** Prepares a rewritten statement at most this many times before giving up with SQLite's error. */
export const doubleQuotedPrepareCountMax = 64;

const unresolvedPrefix = 'no such column: "';
const unresolvedSuffix = '" - should this be a string literal in single-quotes?';

/** The text of the double-quoted token SQLite could not resolve, if `error` says so. */
function unresolvedDoubleQuoted(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== 'SqliteError') return undefined;
  const message = error.message;
  if (!message.startsWith(unresolvedPrefix) || !message.endsWith(unresolvedSuffix)) return undefined;
  return message.slice(unresolvedPrefix.length, message.length - unresolvedSuffix.length);
}

/**
 * Tokens that could be string literals: `"…"` not qualified (`t."c"`, `"s".t`) and not
 * a function's name (`"f"(…)`), where a string is not allowed.
 */
export function doubleQuotedCandidates(sql: string, tokens: readonly Token[], firstTokenIndex = 0): number[] {
  const base = tokens[0]?.start ?? 0;
  const candidates: number[] = [];
  for (let position = firstTokenIndex; position < tokens.length; position++) {
    const token = tokens[position] as Token;
    if (token.kind !== 'quoted-identifier' || sql[token.start - base] !== '"') continue;
    const previous = tokens[position - 1]?.text;
    const next = tokens[position + 1]?.text;
    if (previous === '.' || next === '.' || next === '(') continue;
    candidates.push(position);
  }
  return candidates;
}

function stringLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** `sql` (the text of `tokens`) with the tokens at `positions` written as string literals. */
function render(sql: string, tokens: readonly Token[], positions: ReadonlySet<number>): string {
  const base = tokens[0]?.start ?? 0;
  let text = '';
  let copiedTo = 0;
  for (const position of [...positions].sort((left, right) => left - right)) {
    const token = tokens[position] as Token;
    text += sql.slice(copiedTo, token.start - base) + stringLiteral(token.text);
    copiedTo = token.end - base;
  }
  return text + sql.slice(copiedTo);
}

interface Accepted<Prepared> {
  readonly prepared: Prepared;
  /** The SQL that prepared: `sql` itself when nothing was rewritten. */
  readonly sql: string;
}

/**
 * Prepares `sql` (one statement; `tokens` are its tokens) with `prepare`, turning
 * double-quoted tokens from `firstTokenIndex` on that SQLite cannot resolve into string
 * literals. Throws SQLite's last error when that does not make it prepare.
 */
export function prepareAcceptingDoubleQuotedStrings<Prepared>(
  prepare: (sql: string) => Prepared,
  sql: string,
  tokens: readonly Token[],
  firstTokenIndex = 0,
): Accepted<Prepared> {
  const candidates = doubleQuotedCandidates(sql, tokens, firstTokenIndex);
  const rewritten = new Set<number>();
  let prepareCount = 0;
  for (;;) {
    const text = render(sql, tokens, rewritten);
    prepareCount++;
    try {
      return { prepared: prepare(text), sql: text };
    } catch (error) {
      const unresolved = unresolvedDoubleQuoted(error);
      if (unresolved === undefined) throw error;
      const pending = candidates.filter((position) => !rewritten.has(position) && tokens[position]?.text === unresolved);
      // One more prepare after this round's tests must stay within the bound.
      const testCount = pending.length > 1 ? pending.length : 0;
      if (pending.length === 0 || prepareCount + testCount + 1 > doubleQuotedPrepareCountMax) throw error;
      prepareCount += testCount;
      const failing = testCount === 0 ? pending : pending.filter((position) => failsAlone(prepare, sql, tokens, rewritten, pending, position));
      if (failing.length === 0) throw error;
      for (const position of failing) rewritten.add(position);
    }
  }
}

/**
 * Whether the token at `position` fails to resolve by itself: every other pending token
 * with its text is a string, so a "no such column" naming that text can only be this one.
 */
function failsAlone<Prepared>(
  prepare: (sql: string) => Prepared,
  sql: string,
  tokens: readonly Token[],
  rewritten: ReadonlySet<number>,
  pending: readonly number[],
  position: number,
): boolean {
  const others = new Set([...rewritten, ...pending.filter((other) => other !== position)]);
  try {
    prepare(render(sql, tokens, others));
    return false;
  } catch (error) {
    return unresolvedDoubleQuoted(error) === tokens[position]?.text;
  }
}

/**
 * For `CREATE [TEMP] VIEW … AS select`: the index of the select's first token. SQLite
 * resolves a view's columns only when it is used, so the body is prepared on its own.
 */
export function viewBodyTokenIndex(tokens: readonly Token[]): number | undefined {
  let position = tokens[0]?.text === 'CREATE' ? 1 : -1;
  if (position < 0) return undefined;
  if (tokens[position]?.text === 'TEMP' || tokens[position]?.text === 'TEMPORARY') position++;
  if (tokens[position]?.text !== 'VIEW' || tokens[position]?.kind !== 'word') return undefined;
  let depth = 0;
  for (position++; position < tokens.length; position++) {
    const token = tokens[position] as Token;
    if (token.text === '(' && token.kind === 'punctuation') depth++;
    else if (token.text === ')' && token.kind === 'punctuation') depth--;
    else if (depth === 0 && token.kind === 'word' && token.text === 'AS') return position + 1 < tokens.length ? position + 1 : undefined;
  }
  return undefined;
}
