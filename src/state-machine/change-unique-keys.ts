/**
 * What the REPLACE probe (change-replace-probe.ts) compares: each unique index of a table
 * as its key terms, a column or an expression, each with the collation the index compares
 * it by (so a conflict is found exactly where SQLite finds one), and a WITHOUT ROWID
 * table's primary key (its rows' identity). SQLite keeps an index's expressions only in
 * its CREATE INDEX text: the terms are cut out of it at the top-level commas.
 */
import type Database from 'better-sqlite3';
import { quoteName } from './change-triggers.js';

/** One term of a unique key: `sql` reads unqualified column names; `column` set when it is a plain column. */
export interface KeyTerm {
  readonly sql: string;
  readonly column: string | undefined;
  readonly collation: string;
}

interface IndexColumn {
  readonly name: string | null;
  readonly coll: string;
  /** A number or a bigint (the connection may read integers safely). */
  readonly key: number | bigint;
}

/** What a table's REPLACE probe compares (CapturedTable's fields); all undefined without probing. */
export function probedKeys(
  database: Database.Database,
  table: string,
  withoutRowid: boolean,
  probing: boolean,
): { uniqueKeys: KeyTerm[][] | undefined; primaryKey: KeyTerm[] | undefined; probeRefusal: string | undefined } {
  if (!probing) return { uniqueKeys: undefined, primaryKey: undefined, probeRefusal: undefined };
  const uniqueKeys = uniqueKeyTerms(database, table);
  return {
    uniqueKeys,
    primaryKey: withoutRowid ? primaryKeyTerms(database, table) : undefined,
    probeRefusal: uniqueKeys === undefined ? 'the text of a unique index on an expression could not be read' : undefined,
  };
}

/** The unique indexes' key terms, in index name order; undefined if an expression's text cannot be found (the probe then refuses). */
function uniqueKeyTerms(database: Database.Database, table: string): KeyTerm[][] | undefined {
  const indexes = database.prepare('SELECT name FROM pragma_index_list(?) WHERE "unique" = 1 ORDER BY name').pluck().all(table) as string[];
  const keys: KeyTerm[][] = [];
  for (const index of indexes) {
    const columns = (database.prepare('SELECT name, coll, key FROM pragma_index_xinfo(?) ORDER BY seqno').all(index) as IndexColumn[]).filter(
      (column) => Number(column.key) === 1,
    );
    let expressions: string[] | undefined;
    if (columns.some((column) => column.name === null)) {
      const sql = database.prepare(`SELECT sql FROM main.sqlite_schema WHERE type = 'index' AND name = ?`).pluck().get(index) as string | null;
      expressions = sql === null ? undefined : indexTerms(sql);
      if (expressions?.length !== columns.length) return undefined;
    }
    keys.push(
      columns.map((column, position) =>
        column.name === null
          ? { sql: expressions?.[position] as string, column: undefined, collation: column.coll }
          : { sql: quoteName(column.name), column: column.name, collation: column.coll },
      ),
    );
  }
  return keys;
}

/** A WITHOUT ROWID table's primary key columns with their collations. */
function primaryKeyTerms(database: Database.Database, table: string): KeyTerm[] {
  const index = database.prepare(`SELECT name FROM pragma_index_list(?) WHERE origin = 'pk'`).pluck().get(table) as string;
  const columns = database.prepare('SELECT name, coll, key FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno').all(index) as IndexColumn[];
  return columns.map((column) => ({ sql: quoteName(column.name as string), column: column.name as string, collation: column.coll }));
}

/** The terms between the parentheses after ON <table> of a CREATE INDEX, without ASC / DESC; undefined if not found. */
function indexTerms(createIndexSql: string): string[] | undefined {
  const onMatch = /\sON\s/i.exec(maskQuoted(createIndexSql));
  if (onMatch === null) return undefined;
  const masked = maskQuoted(createIndexSql);
  const open = masked.indexOf('(', onMatch.index);
  if (open < 0) return undefined;
  const terms: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let position = open; position < masked.length; position++) {
    const character = masked[position];
    if (character === '(') depth += 1;
    else if (character === ')') depth -= 1;
    if ((character === ',' && depth === 1) || depth === 0) {
      terms.push(
        createIndexSql
          .slice(start, position)
          .trim()
          .replace(/\s+(ASC|DESC)$/i, ''),
      );
      start = position + 1;
    }
    if (depth === 0) return terms;
  }
  return undefined;
}

/** The text with every string and quoted identifier's content replaced by spaces (same length), so its structure can be scanned. */
function maskQuoted(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]/g, (quoted) => ' '.repeat(quoted.length));
}
