/**
 * Kysely's Driver for quorumlite. There is no pool: every statement is its own HTTP call
 * and the client bounds how many run at once, so each acquired connection is a fresh,
 * cheap router (connection.ts) and concurrent queries really run concurrently. A
 * transaction is an interactive transaction held by its connection until commit or
 * rollback. The driver does not own the client: `db.destroy()` leaves it open.
 */
import type { DatabaseConnection, Driver, TransactionSettings } from 'kysely';
import type { ClientPort } from '../client-port.js';
import { QuorumliteConnection } from './connection.js';

export class QuorumliteDriver implements Driver {
  readonly #client: ClientPort;

  constructor(client: ClientPort) {
    this.#client = client;
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new QuorumliteConnection(this.#client);
  }

  /** quorumlite transactions are serializable: at least as strong as any isolation level or access mode Kysely can ask for. */
  async beginTransaction(connection: DatabaseConnection, _settings: TransactionSettings): Promise<void> {
    await asQuorumlite(connection).begin();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await asQuorumlite(connection).commit();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await asQuorumlite(connection).rollback();
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    // A connection released mid-transaction (its owner failed between begin and commit) rolls back, so no transaction stays open on the server.
    const quorumlite = asQuorumlite(connection);
    if (quorumlite.inTransaction) await quorumlite.rollback().catch(() => undefined);
  }

  async destroy(): Promise<void> {}
}

function asQuorumlite(connection: DatabaseConnection): QuorumliteConnection {
  if (!(connection instanceof QuorumliteConnection)) throw new Error('not a quorumlite connection');
  return connection;
}
