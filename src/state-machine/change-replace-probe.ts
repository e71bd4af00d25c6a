/**
 * Rows that REPLACE conflict resolution deletes, when the delete triggers do not fire for
 * them: recursive_triggers stays off while the database has triggers of the user's
 * (turning it on would change what those do). Before an INSERT or UPDATE, every row that
 * the new values could conflict with (same rowid or primary key, same values of a unique
 * index's terms, columns or expressions, compared by the index's collation) is noted with
 * its values and identity (rowid, or a WITHOUT ROWID table's primary key values); after
 * it, a noted row that is gone (or whose identity the new row took) was deleted by
 * REPLACE, and is reported as a DELETE before the change itself. A row deleted by a
 * DELETE (whose trigger fires) is struck from the notes, so it is not reported twice.
 * Over-noting is harmless (a partial index's rows, say): only rows that vanished are reported.
 */
import {
  candidatesTable,
  candidateKeyColumnCountMax,
  changesTable,
  refusalCode,
  operationCodes,
  quoteName,
  quoteText,
  rowObject,
  type CapturedTable,
  type ReplaceProbe,
} from './change-triggers.js';
import type { KeyTerm } from './change-unique-keys.js';

/** Undefined when the table needs no probe (no user triggers) or cannot be probed (see CapturedTable.uniqueKeys). */
export function replaceProbe(table: CapturedTable, rowIdsOnly: boolean): ReplaceProbe | undefined {
  const name = quoteText(table.name);
  const identity = identityOf(table);
  if (table.probeRefusal !== undefined || (table.uniqueKeys !== undefined && identity === undefined)) {
    return refusingProbe(name, table.probeRefusal ?? `its primary key has more than ${candidateKeyColumnCountMax} columns`);
  }
  if (table.uniqueKeys === undefined || identity === undefined) return undefined;
  const source = `main.${quoteName(table.name)}`;
  const newRow = `(SELECT ${table.columns.map((column) => `NEW.${quoteName(column)} AS ${quoteName(column)}`).join(', ')})`;
  const conflicts = [
    identity.same('candidate', 'NEW'),
    ...table.uniqueKeys.map((key) => `(${key.map((term) => termConflict(term, newRow)).join(' AND ')})`),
  ].join(' OR ');
  const note = (extra: string): string =>
    `INSERT INTO temp.${candidatesTable} (table_name, row_id, ${identity.keyColumns}, before) SELECT ${name}, ${identity.values('candidate')}, ` +
    `${rowIdsOnly ? 'NULL' : rowObject(table, 'candidate')} FROM ${source} AS candidate WHERE (${conflicts})${extra};`;
  const reportVanished =
    `INSERT INTO temp.${changesTable} (operation, table_name, old_row_id, new_row_id, before, after) ` +
    `SELECT ${operationCodes.DELETE}, ${name}, row_id, NULL, before, NULL FROM temp.${candidatesTable} ` +
    `WHERE table_name = ${name} AND (${identity.noted('NEW')} OR NOT EXISTS (SELECT 1 FROM ${source} AS present WHERE ${identity.noted('present')})) ` +
    `GROUP BY row_id, ${identity.keyColumns} ORDER BY min(sequence); DELETE FROM temp.${candidatesTable} WHERE table_name = ${name};`;
  return {
    beforeTriggers: [
      { operation: 'INSERT', body: note('') },
      { operation: 'UPDATE', body: note(` AND NOT (${identity.same('candidate', 'OLD')})`) },
    ],
    afterStatements: {
      INSERT: reportVanished,
      UPDATE: reportVanished,
      DELETE: `DELETE FROM temp.${candidatesTable} WHERE table_name = ${name} AND ${identity.noted('OLD')};`,
    },
  };
}

/**
 * A table the probe cannot follow: every INSERT and UPDATE on it (any of which may be a
 * REPLACE that deleted rows unseen) is preceded by an error event, never a silent miss.
 */
function refusingProbe(name: string, reason: string): ReplaceProbe {
  const error = quoteText(`rows that REPLACE deleted from table ${name.slice(1, -1).replaceAll("''", "'")} may be missing: ${reason}`);
  const report =
    `INSERT INTO temp.${changesTable} (operation, table_name, old_row_id, new_row_id, before, after) ` +
    `VALUES (${refusalCode}, ${name}, NULL, NULL, NULL, ${error});`;
  return { beforeTriggers: [], afterStatements: { INSERT: report, UPDATE: report, DELETE: '' } };
}

interface Identity {
  /** The candidates table's key columns this table fills ('key_0, key_1'; always at least one, NULL when unused). */
  readonly keyColumns: string;
  /** The row_id and key column values of `row`. */
  values(row: string): string;
  /** `left` and `right` (table rows, NEW or OLD) are the same row. */
  same(left: string, right: string): string;
  /** A noted candidate is `row` (a table row, NEW or OLD). */
  noted(row: string): string;
}

/** How a row is told apart: its rowid, or a WITHOUT ROWID table's primary key values (undefined if too wide to note). */
function identityOf(table: CapturedTable): Identity | undefined {
  if (table.rowidName !== undefined) {
    const rowid = quoteName(table.rowidName);
    return {
      keyColumns: 'key_0',
      values: (row) => `${row}.${rowid}, NULL`,
      same: (left, right) => `${left}.${rowid} = ${right}.${rowid}`,
      noted: (row) => `row_id = ${row}.${rowid}`,
    };
  }
  const key = table.primaryKey ?? [];
  if (key.length === 0 || key.length > candidateKeyColumnCountMax) return undefined;
  const columns = key.map((_, position) => `key_${position}`);
  const compare = (term: KeyTerm, left: string, right: string): string => `${left} = ${right} COLLATE ${quoteName(term.collation)}`;
  return {
    keyColumns: columns.join(', '),
    values: (row) => `NULL, ${key.map((term) => `${row}.${term.sql}`).join(', ')}`,
    same: (left, right) => key.map((term) => compare(term, `${left}.${term.sql}`, `${right}.${term.sql}`)).join(' AND '),
    noted: (row) => key.map((term, position) => compare(term, `${row}.${term.sql}`, columns[position] as string)).join(' AND '),
  };
}

/** The candidate's term equals the new row's, as the index compares them. */
function termConflict(term: KeyTerm, newRow: string): string {
  const collation = quoteName(term.collation);
  if (term.column !== undefined) return `candidate.${quoteName(term.column)} = NEW.${quoteName(term.column)} COLLATE ${collation}`;
  // The expression reads unqualified columns: the candidate's here, the new row's in the subquery.
  return `(${term.sql}) = (SELECT ${term.sql} FROM ${newRow}) COLLATE ${collation}`;
}
