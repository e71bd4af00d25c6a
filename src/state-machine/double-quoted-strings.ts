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
  /** The positions (in `tokens`) of the tokens written as strings. */
  readonly rewritten: readonly number[];
}

/** One statement being prepared: its text and tokens, and the double-quoted tokens turned into strings so far. */
interface Attempt<Prepared> {
  readonly prepare: (sql: string) => Prepared;
  readonly sql: string;
  readonly tokens: readonly Token[];
  readonly candidates: readonly number[];
  readonly rewritten: Set<number>;
  prepareCount: number;
}

/**
 * After SQLite's `error`: the tokens to turn into strings next (never empty), or
 * undefined when `error` is not about one of them or the prepare bound would be passed.
 */
function nextRewrites<Prepared>(attempt: Attempt<Prepared>, error: unknown): number[] | undefined {
  const unresolved = unresolvedDoubleQuoted(error);
  if (unresolved === undefined) return undefined;
  const pending = attempt.candidates.filter((position) => !attempt.rewritten.has(position) && attempt.tokens[position]?.text === unresolved);
  // Several tokens with this text: each is tested alone. One more prepare must stay within the bound.
  const testCount = pending.length > 1 ? pending.length : 0;
  if (pending.length === 0 || attempt.prepareCount + testCount + 1 > doubleQuotedPrepareCountMax) return undefined;
  attempt.prepareCount += testCount;
  const failing = testCount === 0 ? pending : pending.filter((position) => failsAlone(attempt, pending, position));
  return failing.length === 0 ? undefined : failing;
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
  const attempt: Attempt<Prepared> = { prepare, sql, tokens, candidates, rewritten: new Set(), prepareCount: 0 };
  for (;;) {
    const text = render(sql, tokens, attempt.rewritten);
    attempt.prepareCount++;
    try {
      return { prepared: prepare(text), sql: text, rewritten: [...attempt.rewritten].sort((left, right) => left - right) };
    } catch (error) {
      const rewrites = nextRewrites(attempt, error);
      if (rewrites === undefined) throw error;
      for (const position of rewrites) attempt.rewritten.add(position);
    }
  }
}

/**
 * Whether the token at `position` fails to resolve by itself: every other pending token
 * with its text is a string, so a "no such column" naming that text can only be this one.
 */
function failsAlone<Prepared>(attempt: Attempt<Prepared>, pending: readonly number[], position: number): boolean {
  const others = new Set([...attempt.rewritten, ...pending.filter((other) => other !== position)]);
  try {
    attempt.prepare(render(attempt.sql, attempt.tokens, others));
    return false;
  } catch (error) {
    const unresolved = unresolvedDoubleQuoted(error);
    // Only SQLite's verdict on the SQL may decide; a failure of the environment surfaces.
    if (unresolved === undefined && (error as { code?: unknown }).code !== 'SQLITE_ERROR') throw error;
    return unresolved === attempt.tokens[position]?.text;
  }
}

/**
 * For `CREATE [TEMP] VIEW … AS select`: the index of the select's first token. SQLite
 * resolves a view's columns only when it is used, so the body is prepared on its own.
 */
export function viewBodyTokenIndex(tokens: readonly Token[]): number | undefined {
  const isWord = (position: number, ...texts: string[]): boolean => tokens[position]?.kind === 'word' && texts.includes(tokens[position]?.text ?? '');
  if (!isWord(0, 'CREATE')) return undefined;
  const viewPosition = isWord(1, 'TEMP', 'TEMPORARY') ? 2 : 1;
  if (!isWord(viewPosition, 'VIEW')) return undefined;
  let depth = 0;
  for (let position = viewPosition + 1; position < tokens.length - 1; position++) {
    const text = tokens[position]?.kind === 'punctuation' ? tokens[position]?.text : undefined;
    if (text === '(') depth++;
    if (text === ')') depth--;
    if (depth === 0 && isWord(position, 'AS')) return position + 1;
  }
  return undefined;
}

interface RewrittenSpan {
  readonly originalEnd: number;
  readonly rewrittenStart: number;
  readonly rewrittenEnd: number;
}

/** Where each rewritten token sits in the original and in the rewritten text (offsets from the statement's start). */
function rewrittenSpans(tokens: readonly Token[], rewritten: readonly number[]): RewrittenSpan[] {
  const base = tokens[0]?.start ?? 0;
  let shift = 0;
  return rewritten.map((position) => {
    const token = tokens[position] as Token;
    const literalLength = stringLiteral(token.text).length;
    const span = { originalEnd: token.end - base, rewrittenStart: token.start - base + shift, rewrittenEnd: token.start - base + shift + literalLength };
    shift += literalLength - (token.end - token.start);
    return span;
  });
}

/** The original offset of rewritten offset `offset`; undefined inside a rewritten token. */
function originalOffset(spans: readonly RewrittenSpan[], offset: number): number | undefined {
  let delta = 0;
  for (const span of spans) {
    if (offset <= span.rewrittenStart) break;
    if (offset < span.rewrittenEnd) return undefined;
    delta = span.originalEnd - span.rewrittenEnd;
  }
  return offset + delta;
}

/**
 * Result column names as SQLite with DQS on gives them: an expression's name is its text,
 * so `SELECT "yes"` is named `"yes"`, not `'yes'`. Names that hold a rewritten literal are
 * found in the rewritten text in column order and read back from the original.
 */
export function columnNamesAsWritten(names: readonly string[], sql: string, tokens: readonly Token[], accepted: Accepted<unknown>): string[] {
  const spans = rewrittenSpans(tokens, accepted.rewritten);
  const literals = spans.map((span) => accepted.sql.slice(span.rewrittenStart, span.rewrittenEnd));
  let searchFrom = 0;
  return names.map((name) => {
    if (!literals.some((literal) => name.includes(literal))) return name;
    const found = accepted.sql.indexOf(name, searchFrom);
    const start = found < 0 ? undefined : originalOffset(spans, found);
    const end = found < 0 ? undefined : originalOffset(spans, found + name.length);
    if (start === undefined || end === undefined) return name;
    searchFrom = found + name.length;
    return sql.slice(start, end);
  });
}
