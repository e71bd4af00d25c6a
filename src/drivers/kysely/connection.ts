/**
 * One Kysely connection. quorumlite speaks HTTP, so a connection is no socket: it is a
 * routing rule plus, between beginTransaction and commit/rollback, an interactive
 * transaction. Routing: a SELECT goes to `query` (the client's read consistency), raw SQL
 * (`sql\`…\``) too when its text starts with SELECT, other raw SQL to `request`, where the
 * server decides; every other query (INSERT, UPDATE, DELETE, DDL, RETURNING or not) to
 * `execute` on the leader.
 */
import { type CompiledQuery, type DatabaseConnection, type QueryResult, RawNode, SelectQueryNode } from 'kysely';
import type { InValue, Reply, ResultSet } from '../../client/types.js';
import { beginInteractive, type ClientPort, commitOrRelease, type InteractiveTransactionPort, isPlainSelect, type StatementPort } from '../client-port.js';

export class QuorumliteConnection implements DatabaseConnection {
  readonly #client: ClientPort;
  #transaction: InteractiveTransactionPort | undefined;

  constructor(client: ClientPort) {
    this.#client = client;
  }

  async executeQuery<Row>(compiledQuery: CompiledQuery): Promise<QueryResult<Row>> {
    const port: StatementPort = this.#transaction ?? this.#client;
    const statement = { sql: compiledQuery.sql, args: compiledQuery.parameters as readonly InValue[] };
    let reply: Reply<unknown>;
    if (SelectQueryNode.is(compiledQuery.query)) reply = await port.query(statement);
    else if (RawNode.is(compiledQuery.query)) reply = isPlainSelect(compiledQuery.sql) ? await port.query(statement) : await port.request(statement);
    else reply = await port.execute(statement);
    const result = reply.results[0];
    if (result === undefined) return { rows: [] };
    return toQueryResult<Row>(result);
  }

  /** The server answers whole results, so a stream is the result in chunks of `chunkSize` rows. */
  async *streamQuery<Row>(compiledQuery: CompiledQuery, chunkSize = 100): AsyncIterableIterator<QueryResult<Row>> {
    if (!SelectQueryNode.is(compiledQuery.query)) throw new Error('quorumlite streams SELECT queries only');
    const { rows } = await this.executeQuery<Row>(compiledQuery);
    for (let start = 0; start < rows.length; start += chunkSize) yield { rows: rows.slice(start, start + chunkSize) };
  }

  get inTransaction(): boolean {
    return this.#transaction !== undefined;
  }

  async begin(): Promise<void> {
    if (this.#transaction !== undefined) throw new Error('this connection is already in a transaction');
    this.#transaction = await beginInteractive(this.#client);
  }

  /** Forgets the transaction first: whatever the commit answers, the connection is free again. */
  async commit(): Promise<void> {
    const transaction = this.#transaction;
    if (transaction === undefined) throw new Error('no transaction is open on this connection');
    this.#transaction = undefined;
    await commitOrRelease(transaction);
  }

  /**
   * Kysely rolls back after a failed commit too; the commit already ended the transaction
   * (commitOrRelease), so there is nothing left to do. A transaction the server no longer
   * knows (TX_NOT_FOUND: aborted by a conflict found at one of its statements, expired, lost
   * with its leader) is rolled back already. Either way the error that made Kysely roll
   * back (TX_CONFLICT, say) stays the one the caller sees.
   */
  async rollback(): Promise<void> {
    const transaction = this.#transaction;
    if (transaction === undefined) return;
    this.#transaction = undefined;
    try {
      await transaction.rollback();
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'TX_NOT_FOUND') throw error;
    }
  }
}

/**
 * A read gives rows only; a write gives numAffectedRows and insertId as bigint, as Kysely
 * expects. A write with RETURNING gives its rows (the server reports no count for it).
 */
function toQueryResult<Row>(result: ResultSet<unknown>): QueryResult<Row> {
  const rows = result.rows as Row[];
  if (result.columns.length > 0) return { rows };
  return {
    rows,
    numAffectedRows: BigInt(result.rowsAffected),
    ...(result.lastInsertId === undefined ? {} : { insertId: BigInt(result.lastInsertId) }),
  };
}
