/**
 * Rows that REPLACE conflict resolution deletes, when the delete triggers do not fire for
 * them: recursive_triggers stays off while the database has triggers of the user's
 * (turning it on would change what those do). Before an INSERT or UPDATE of a rowid table,
 * every row that the new values could conflict with (same rowid, same values of a unique
 * constraint) is noted with its values; after it, a noted row that is gone (or whose rowid
 * the new row took) was deleted by REPLACE, and is reported as a DELETE before the change
 * itself. A row deleted by a DELETE (whose trigger fires) is struck from the notes, so it
 * is not reported twice. Over-noting is harmless: only rows that vanished are reported.
 * Not covered: WITHOUT ROWID tables and unique indexes on expressions.
 */
import { candidatesTable, changesTable, operationCodes, quoteName, quoteText, rowObject, type CapturedTable, type ReplaceProbe } from './change-triggers.js';

export function replaceProbe(table: CapturedTable, rowIdsOnly: boolean): ReplaceProbe | undefined {
  if (table.uniqueKeys === undefined || table.rowidName === undefined) return undefined;
  const rowid = quoteName(table.rowidName);
  const name = quoteText(table.name);
  const source = `main.${quoteName(table.name)}`;
  const conflicts = [
    `candidate.${rowid} = NEW.${rowid}`,
    ...table.uniqueKeys.map((columns) => `(${columns.map((column) => `candidate.${quoteName(column)} = NEW.${quoteName(column)}`).join(' AND ')})`),
  ].join(' OR ');
  const note = (extra: string): string =>
    `INSERT INTO temp.${candidatesTable} (table_name, row_id, before) SELECT ${name}, candidate.${rowid}, ` +
    `${rowIdsOnly ? 'NULL' : rowObject(table, 'candidate')} FROM ${source} AS candidate WHERE (${conflicts})${extra};`;
  const reportVanished =
    `INSERT INTO temp.${changesTable} (operation, table_name, old_row_id, new_row_id, before, after) ` +
    `SELECT ${operationCodes.DELETE}, ${name}, row_id, NULL, before, NULL FROM temp.${candidatesTable} ` +
    `WHERE table_name = ${name} AND (row_id = NEW.${rowid} OR NOT EXISTS (SELECT 1 FROM ${source} WHERE ${rowid} = row_id)) ` +
    `GROUP BY row_id ORDER BY row_id; DELETE FROM temp.${candidatesTable} WHERE table_name = ${name};`;
  return {
    beforeTriggers: [
      { operation: 'INSERT', body: note('') },
      { operation: 'UPDATE', body: note(` AND candidate.${rowid} <> OLD.${rowid}`) },
    ],
    afterStatements: {
      INSERT: reportVanished,
      UPDATE: reportVanished,
      DELETE: `DELETE FROM temp.${candidatesTable} WHERE table_name = ${name} AND row_id = OLD.${rowid};`,
    },
  };
}
