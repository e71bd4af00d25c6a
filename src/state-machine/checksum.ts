/**
 * An order-independent content checksum: the schema of user objects and every row of
 * every user table, internal tables excluded. Each row's typed cells (integer 1, real
 * 1.0, text '1' and blob x'31' all differ) are hashed with SHA-256 under the table's
 * name; row hashes are added lane-wise (four 64-bit lanes), a commutative combination
 * in which duplicates do not cancel. Equal databases give equal checksums whatever the
 * order rows were inserted in.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { internalNamePrefix } from './sql-policy.js';

export interface ContentChecksum {
  /** Hex SHA-256 of the combined row hashes and the row count. */
  readonly checksum: string;
  /** The applied index the content corresponds to (internal, reported alongside). */
  readonly appliedIndex: number;
  readonly tableCount: number;
  readonly rowCount: number;
}

const laneMask = (1n << 64n) - 1n;

/** SQL text for user objects: not internal, not SQLite's own autoindexes on internal tables. */
function userObjectFilterFor(alias: string): string {
  const length = internalNamePrefix.length;
  return `substr(${alias}name, 1, ${length}) <> '${internalNamePrefix}' AND substr(${alias}tbl_name, 1, ${length}) <> '${internalNamePrefix}'`;
}

export const userObjectFilter = userObjectFilterFor('');

function hashCell(hash: Hash, value: unknown): void {
  if (value === null) hash.update('n');
  else if (typeof value === 'bigint') {
    const bytes = Buffer.alloc(9);
    bytes.write('i');
    bytes.writeBigInt64BE(value, 1);
    hash.update(bytes);
  } else if (typeof value === 'number') {
    const bytes = Buffer.alloc(9);
    bytes.write('r');
    bytes.writeDoubleBE(value, 1);
    hash.update(bytes);
  } else if (typeof value === 'string') {
    const text = Buffer.from(value, 'utf8');
    hash.update(`t${text.length}:`);
    hash.update(text);
  } else if (value instanceof Uint8Array) {
    hash.update(`b${value.length}:`);
    hash.update(value);
  } else {
    throw new Error(`unexpected cell type ${typeof value}`);
  }
}

class RowSum {
  readonly #lanes = [0n, 0n, 0n, 0n];
  rowCount = 0;

  add(label: string, cells: readonly unknown[]): void {
    const hash = createHash('sha256');
    hash.update(`${Buffer.byteLength(label)}:${label}`);
    for (const cell of cells) hashCell(hash, cell);
    const digest = hash.digest();
    for (let lane = 0; lane < 4; lane++) {
      this.#lanes[lane] = ((this.#lanes[lane] as bigint) + digest.readBigUInt64BE(lane * 8)) & laneMask;
    }
    this.rowCount++;
  }

  finish(): string {
    const hash = createHash('sha256');
    for (const lane of this.#lanes) hash.update(lane.toString(16).padStart(16, '0'));
    hash.update(`rows:${this.rowCount}`);
    return hash.digest('hex');
  }
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

interface TableToHash {
  readonly name: string;
  readonly withoutRowid: boolean;
}

function tablesToHash(database: Database.Database): TableToHash[] {
  const rows = database
    .prepare(
      `SELECT s.name, l.wr FROM sqlite_schema s JOIN pragma_table_list l ON l.name = s.name AND l.schema = 'main'
       WHERE s.type = 'table' AND ${userObjectFilterFor('s.')} AND s.sql NOT LIKE 'CREATE VIRTUAL%'
       ORDER BY s.name`,
    )
    .raw(true)
    .all() as [string, bigint | number][];
  return rows.map(([name, withoutRowid]) => ({ name, withoutRowid: Number(withoutRowid) === 1 }));
}

/** Reads everything in one read transaction, so the checksum and the index (read by `appliedIndexOf`) agree. */
export function contentChecksum(database: Database.Database, appliedIndexOf: (database: Database.Database) => number): ContentChecksum {
  const read = database.transaction((): ContentChecksum => {
    const sum = new RowSum();
    const schemaRows = database
      .prepare(`SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE ${userObjectFilter}`)
      .raw(true)
      .safeIntegers(true)
      .iterate() as IterableIterator<unknown[]>;
    for (const row of schemaRows) sum.add('sqlite_schema', row);
    const tables = tablesToHash(database);
    for (const table of tables) {
      const columns = table.withoutRowid ? '*' : '_rowid_, *';
      const rows = database
        .prepare(`SELECT ${columns} FROM ${quoteIdentifier(table.name)}`)
        .raw(true)
        .safeIntegers(true)
        .iterate() as IterableIterator<unknown[]>;
      for (const row of rows) sum.add(table.name, row);
    }
    return { checksum: sum.finish(), appliedIndex: appliedIndexOf(database), tableCount: tables.length, rowCount: sum.rowCount };
  });
  return read.deferred();
}
