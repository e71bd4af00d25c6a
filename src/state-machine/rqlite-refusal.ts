/**
 * rqlite's own words for the statements it refuses itself: "disallowed pragma" for a
 * PRAGMA that would break its database layer — `wal_checkpoint` in any form, and
 * `journal_mode`, `wal_autocheckpoint`, `synchronous` or `query_only` when set (`= …` or
 * `(…)`), also behind `EXPLAIN [QUERY PLAN]` and a schema name. quorumlite refuses
 * these too (sql-policy.ts), and more; where rqlite refuses, the answer carries rqlite's
 * text so rqlite clients see what they expect.
 */
import { splitSqlStatements } from '../common/sql-statements.js';
import { SqlSyntaxError, type Token } from '../common/sql-tokens.js';

/** rqlite's answer to a request holding a breaking PRAGMA. */
export const rqliteDisallowedPragma = 'disallowed pragma';

const breakingInAnyForm = new Set(['WAL_CHECKPOINT']);
const breakingWhenSet = new Set(['JOURNAL_MODE', 'WAL_AUTOCHECKPOINT', 'SYNCHRONOUS', 'QUERY_ONLY']);

function pragmaNameIndex(tokens: readonly Token[]): number | undefined {
  let position = 0;
  if (tokens[position]?.text === 'EXPLAIN') {
    position++;
    if (tokens[position]?.text === 'QUERY' && tokens[position + 1]?.text === 'PLAN') position += 2;
  }
  if (tokens[position]?.kind !== 'word' || tokens[position]?.text !== 'PRAGMA') return undefined;
  return tokens[position + 2]?.text === '.' ? position + 3 : position + 1;
}

function isBreakingPragma(tokens: readonly Token[]): boolean {
  const nameIndex = pragmaNameIndex(tokens);
  if (nameIndex === undefined) return false;
  const name = tokens[nameIndex]?.text.toUpperCase() ?? '';
  if (breakingInAnyForm.has(name)) return true;
  const next = tokens[nameIndex + 1]?.text;
  return breakingWhenSet.has(name) && (next === '=' || next === '(');
}

/** True when rqlite itself would refuse `sql` with "disallowed pragma". */
export function isRqliteDisallowedPragma(sql: string): boolean {
  try {
    return splitSqlStatements(sql).some((statement) => isBreakingPragma(statement.tokens));
  } catch (error) {
    if (error instanceof SqlSyntaxError) return false;
    throw error;
  }
}
