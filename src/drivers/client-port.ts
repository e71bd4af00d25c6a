/**
 * What the ORM drivers need of a quorumlite client: the smallest interface, so a wrapper
 * or a test double can stand in and the drivers pull in no transport code. `begin` is the
 * interactive-transaction entry (`POST /db/begin`); a client without it serves every
 * statement, and the drivers refuse transactions with a clear error.
 */
import { QuorumliteError } from '../client/errors.js';
import { isConflict } from '../client/conflict-retry.js';
import type { InStatement, Reply, RowMode } from '../client/types.js';

/** The only call option the drivers set: rows as arrays for drizzle, objects for Kysely. */
export interface StatementOptions {
  readonly rowMode?: RowMode;
}

/** Where statements go: the client itself, or one interactive transaction. */
export interface StatementPort {
  query(statements: InStatement | readonly InStatement[], options?: StatementOptions): Promise<Reply<unknown>>;
  execute(statements: InStatement | readonly InStatement[], options?: StatementOptions): Promise<Reply<unknown>>;
  request(statements: InStatement | readonly InStatement[], options?: StatementOptions): Promise<Reply<unknown>>;
}

/** An open interactive transaction: reads see its snapshot and its own writes; commit applies them at once or conflicts. */
export interface InteractiveTransactionPort extends StatementPort {
  commit(): Promise<unknown>;
  rollback(): Promise<unknown>;
}

export interface ClientPort extends StatementPort {
  /** One atomic batch (`/db/execute?transaction`). */
  transaction(statements: readonly InStatement[], options?: StatementOptions): Promise<Reply<unknown>>;
  begin?(): Promise<InteractiveTransactionPort>;
}

/** Opens an interactive transaction, or refuses when the client (or the server it was built for) has none. */
export async function beginInteractive(client: ClientPort): Promise<InteractiveTransactionPort> {
  if (typeof client.begin !== 'function') {
    throw new QuorumliteError(
      'INVALID_ARGUMENT',
      'ORM transactions need interactive transactions (POST /db/begin), and this client has no begin(): ' +
        'use a quorumlite client and server that support them, or an atomic batch (client.transaction([...]))',
    );
  }
  return client.begin();
}

/**
 * Commits. When the commit fails for another reason than a conflict (which ended the
 * transaction on the server), a best-effort rollback frees it there rather than leaving it
 * to the idle timeout; the commit's error is what the caller sees.
 */
export async function commitOrRelease(transaction: InteractiveTransactionPort): Promise<void> {
  try {
    await transaction.commit();
  } catch (error) {
    if (!isConflict(error)) await transaction.rollback().catch(() => undefined);
    throw error;
  }
}

/** Leading blanks, `--` line comments, block comments and opening parentheses. */
const leadingNoise = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()*/;

/**
 * A statement that starts with SELECT reads: it goes to `/db/query`, at the client's read
 * consistency and on any node it allows. Anything else (INSERT … RETURNING, WITH …, PRAGMA)
 * goes where it may write, and the server decides.
 */
export function isPlainSelect(sql: string): boolean {
  return /^select\b/i.test(sql.replace(leadingNoise, ''));
}
