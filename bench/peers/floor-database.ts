/**
 * The write floor's database (write-floor-node.ts, `--sqlite`): the least a state machine
 * can do to apply a write to SQLite. One transaction per request in WAL mode with
 * synchronous=NORMAL (the log is the durable copy), prepared statements in a bounded
 * cache, and each statement's row count and rowid for the reply.
 */
import Database from 'better-sqlite3';

/** Prepared statements a floor database keeps; past it the cache starts again empty. */
export const preparedStatementsMax = 16;

export type StatementArray = readonly [string, ...unknown[]];

/** The least of an apply: one transaction per request, prepared statements (a bounded cache), row count and rowid per statement. */
export class FloorDatabase {
  readonly #database: Database.Database;
  readonly #prepared = new Map<string, Database.Statement>();
  readonly #begin: Database.Statement;
  readonly #commit: Database.Statement;

  constructor(path: string) {
    this.#database = new Database(path);
    this.#database.pragma('journal_mode = WAL');
    this.#database.pragma('synchronous = NORMAL');
    this.#database.exec('CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
    this.#begin = this.#database.prepare('BEGIN IMMEDIATE');
    this.#commit = this.#database.prepare('COMMIT');
  }

  apply(statements: readonly StatementArray[]): { last_insert_id: number; rows_affected: number }[] {
    this.#begin.run();
    try {
      const results = statements.map(([sql, ...parameters]) => {
        const info = this.#statement(sql).run(...parameters);
        return { last_insert_id: Number(info.lastInsertRowid), rows_affected: info.changes };
      });
      this.#commit.run();
      return results;
    } catch (error) {
      if (this.#database.inTransaction) this.#database.exec('ROLLBACK');
      throw error;
    }
  }

  /** Statements prepared and kept now: at most preparedStatementsMax. */
  get preparedCount(): number {
    return this.#prepared.size;
  }

  close(): void {
    this.#database.close();
  }

  #statement(sql: string): Database.Statement {
    let statement = this.#prepared.get(sql);
    if (statement === undefined) {
      if (this.#prepared.size >= preparedStatementsMax) this.#prepared.clear();
      statement = this.#database.prepare(sql);
      this.#prepared.set(sql, statement);
    }
    return statement;
  }
}

export function statementsOf(body: Buffer): StatementArray[] {
  const statements = JSON.parse(body.toString('utf8')) as unknown;
  if (!Array.isArray(statements) || !statements.every((statement) => Array.isArray(statement) && typeof statement[0] === 'string')) {
    throw new Error('the floor takes an array of [sql, ...parameters]');
  }
  return statements as StatementArray[];
}
