/**
 * Kysely's SQLite adapter takes no migration lock: one process owns one SQLite file. A
 * cluster has many clients, so this adapter takes Kysely's lock row as a lease through
 * the Raft log: a conditional UPDATE that sets `is_locked` to the lease's expiry (unix
 * milliseconds) only when it is 0 or already expired. The log orders the competing
 * UPDATEs, so exactly one migrator sees its row changed. A migrator that dies holding
 * the lease blocks others until the lease expires (`migrationLockLeaseMs`), never forever.
 */
import { type Kysely, type MigrationLockOptions, SqliteAdapter } from 'kysely';
import { QuorumliteError } from '../../client/errors.js';

export interface MigrationLockConfig {
  /** How long a held lock stays valid if its holder never releases it. */
  readonly migrationLockLeaseMs?: number;
  /** How long a migrator waits for another's lock before giving up. */
  readonly migrationLockWaitMs?: number;
}

/** The lock table as Kysely's Migrator creates it, under whatever name it was given. */
type LockDatabase = Record<string, { id: string; is_locked: number }>;

const defaultLeaseMs = 15 * 60_000;
const defaultWaitMs = 60_000;
const pollIntervalMsMax = 500;

export class QuorumliteAdapter extends SqliteAdapter {
  readonly #leaseMs: number;
  readonly #waitMs: number;
  /** The expiry this adapter wrote, by lock table: release clears only its own lease. */
  readonly #heldExpiryMs = new Map<string, number>();

  constructor(config: MigrationLockConfig = {}) {
    super();
    this.#leaseMs = config.migrationLockLeaseMs ?? defaultLeaseMs;
    this.#waitMs = config.migrationLockWaitMs ?? defaultWaitMs;
  }

  override async acquireMigrationLock(db: Kysely<unknown>, options: MigrationLockOptions): Promise<void> {
    const lockDb = db as unknown as Kysely<LockDatabase>;
    const deadlineMs = Date.now() + this.#waitMs;
    for (let attempt = 0; ; attempt += 1) {
      const nowMs = Date.now();
      const expiryMs = nowMs + this.#leaseMs;
      const result = await lockDb
        .updateTable(options.lockTable)
        .set({ is_locked: expiryMs })
        .where('id', '=', options.lockRowId)
        .where((where) => where.or([where('is_locked', '=', 0), where('is_locked', '<', nowMs)]))
        .executeTakeFirst();
      if (result.numUpdatedRows === 1n) {
        this.#heldExpiryMs.set(options.lockTable, expiryMs);
        return;
      }
      if (Date.now() >= deadlineMs) {
        throw new QuorumliteError('DEADLINE_EXCEEDED', `the migration lock (${options.lockTable}) is held by another migrator; waited ${this.#waitMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollIntervalMsMax, 25 * 2 ** attempt)));
    }
  }

  override async releaseMigrationLock(db: Kysely<unknown>, options: MigrationLockOptions): Promise<void> {
    const lockDb = db as unknown as Kysely<LockDatabase>;
    const expiryMs = this.#heldExpiryMs.get(options.lockTable);
    if (expiryMs === undefined) return;
    this.#heldExpiryMs.delete(options.lockTable);
    await lockDb.updateTable(options.lockTable).set({ is_locked: 0 }).where('id', '=', options.lockRowId).where('is_locked', '=', expiryMs).execute();
  }
}
