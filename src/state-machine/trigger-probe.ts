/**
 * Double-quoted string literals in a trigger (double-quoted-strings.ts): SQLite resolves a
 * trigger's WHEN clause and body only when a statement that fires it is prepared, so a
 * `CREATE TRIGGER` prepares fine whatever its body says. To apply the same rule there, the
 * write runner creates the trigger inside a savepoint, prepares (never runs) a statement
 * that fires it, reads SQLite's verdict, and rolls the savepoint back.
 *
 * This file finds, from the tokens, the statement that fires a trigger and where its WHEN
 * clause and body start.
 */
import type { Token } from '../common/sql-tokens.js';

interface TriggerProbe {
  /** The firing statement (prepared only); `firstColumn` is a column of the table, for UPDATE without OF. */
  readonly firingSql: (firstColumn: string | undefined) => string;
  /** The table as written (`t`, `"my t"`, `main.t`): for looking a column up. */
  readonly tableName: string;
  readonly schemaName: string | undefined;
  readonly needsColumn: boolean;
  /** Tokens from here on (WHEN clause and body) may be string literals. */
  readonly bodyTokenIndex: number;
}

const events = new Set(['DELETE', 'INSERT', 'UPDATE']);

function isWord(token: Token | undefined, text: string): boolean {
  return token?.kind === 'word' && token.text === text;
}

function isName(token: Token | undefined): boolean {
  return token?.kind === 'word' || token?.kind === 'quoted-identifier' || token?.kind === 'string';
}

/** The source text of tokens[first..last]. */
function textOf(sql: string, tokens: readonly Token[], first: number, last: number): string {
  const base = tokens[0]?.start ?? 0;
  return sql.slice((tokens[first] as Token).start - base, (tokens[last] as Token).end - base);
}

/** The firing statement of `CREATE TRIGGER … (DELETE | INSERT | UPDATE [OF c, …]) ON table …`, or undefined. */
export function triggerProbeFor(sql: string, tokens: readonly Token[]): TriggerProbe | undefined {
  if (!isWord(tokens[0], 'CREATE')) return undefined;
  const triggerPosition = isWord(tokens[1], 'TRIGGER') ? 1 : 2;
  if (!isWord(tokens[triggerPosition], 'TRIGGER')) return undefined;
  const eventPosition = tokens.findIndex((token, position) => position > triggerPosition && token.kind === 'word' && events.has(token.text));
  const onPosition = tokens.findIndex((token, position) => position > eventPosition && isWord(token, 'ON'));
  if (eventPosition < 0 || onPosition < 0 || !isName(tokens[onPosition + 1])) return undefined;
  const qualified = tokens[onPosition + 2]?.text === '.' && isName(tokens[onPosition + 3]);
  const tableLast = qualified ? onPosition + 3 : onPosition + 1;
  const table = textOf(sql, tokens, onPosition + 1, tableLast);
  const event = (tokens[eventPosition] as Token).text;
  const ofColumn = event === 'UPDATE' && isWord(tokens[eventPosition + 1], 'OF') ? textOf(sql, tokens, eventPosition + 2, eventPosition + 2) : undefined;
  const firingSql = (firstColumn: string | undefined): string => {
    if (event === 'INSERT') return `INSERT INTO ${table} DEFAULT VALUES`;
    if (event === 'DELETE') return `DELETE FROM ${table}`;
    const column = ofColumn ?? firstColumn ?? 'rowid';
    return `UPDATE ${table} SET ${column} = ${column}`;
  };
  return {
    firingSql,
    tableName: (tokens[tableLast] as Token).text,
    schemaName: qualified ? (tokens[onPosition + 1] as Token).text : undefined,
    needsColumn: event === 'UPDATE' && ofColumn === undefined,
    bodyTokenIndex: tableLast + 1,
  };
}
