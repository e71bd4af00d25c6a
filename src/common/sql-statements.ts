/**
 * Where one SQL statement ends and the next begins, by sqlite3_complete()'s rules: at a
 * `;` outside strings, quoted identifiers and comments, except inside a
 * CREATE [TEMP] TRIGGER … BEGIN … END body, which only a `;` right after its END ends.
 * The state machine splits whole requests with it; the shell splits what the user has
 * typed so far, where an open quote or a missing `;` means "not finished yet".
 */
import { scanTokens, tokenize, type Token } from './sql-tokens.js';

export interface SqlStatementText {
  /** The statement's source text from its first token to its last, without the `;`. */
  readonly sql: string;
  readonly tokens: readonly Token[];
}

interface SqlStatementSpan extends SqlStatementText {
  /** Just after the previous statement's `;` (or 0): leading blanks and comments included. */
  readonly segmentStart: number;
  /** The offset of the statement's own `;`, or the end of the text. */
  readonly segmentEnd: number;
}

/**
 * Splits a whole SQL text into statements; the last needs no `;`. Empty statements
 * (`;;`, comments alone) are dropped. A string or quoted identifier left open throws
 * SqlSyntaxError.
 */
export function splitSqlStatements(sql: string): SqlStatementSpan[] {
  const tokens = tokenize(sql);
  const { statements, restStart, restTokens } = splitTokens(sql, tokens);
  if (restTokens.length > 0) statements.push(spanOf(sql, restTokens, restStart, sql.length));
  return statements;
}

interface UnfinishedSqlSplit {
  /** The statements a `;` has ended (as sqlite3_complete would say), empty ones dropped. */
  readonly statements: SqlStatementSpan[];
  /** Where the text after the last ended statement starts. */
  readonly restStart: number;
  /** Whether that text is only blanks and closed comments (nothing left to finish). */
  readonly restIsBlank: boolean;
}

/** Splits text still being typed: what follows the last ending `;` is left unfinished. */
export function splitFinishedSqlStatements(sql: string): UnfinishedSqlSplit {
  const scan = scanTokens(sql);
  const { statements, restStart, restTokens } = splitTokens(sql, scan.tokens);
  return { statements, restStart, restIsBlank: restTokens.length === 0 && scan.unclosed === undefined };
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

/** The statements ended by a `;`, and the tokens after the last of them. */
function splitTokens(sql: string, tokens: readonly Token[]): { statements: SqlStatementSpan[]; restStart: number; restTokens: Token[] } {
  const statements: SqlStatementSpan[] = [];
  let state: State = State.Start;
  let current: Token[] = [];
  let segmentStart = 0;
  for (const token of tokens) {
    const next = (transitions[state] as readonly State[])[classify(token)] as State;
    if (token.kind === 'semicolon' && next === State.Start) {
      if (current.length > 0) statements.push(spanOf(sql, current, segmentStart, token.start));
      current = [];
      segmentStart = token.end;
    } else {
      current.push(token);
    }
    state = next;
  }
  return { statements, restStart: segmentStart, restTokens: current };
}

function spanOf(sql: string, tokens: Token[], segmentStart: number, segmentEnd: number): SqlStatementSpan {
  const first = tokens[0] as Token;
  const last = tokens[tokens.length - 1] as Token;
  return { sql: sql.slice(first.start, last.end), tokens, segmentStart, segmentEnd };
}
