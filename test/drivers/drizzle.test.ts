/**
 * The drizzle driver against a real 3-node cluster (built CLI, real processes on
 * 127.0.0.134–136), each step through drizzle's own query builder: drizzle-kit migrations
 * by the migrator (atomic, applied once), CRUD with `run`/`all`/`get`/`values`, joins,
 * typed results (checked by `npm run typecheck:all`), 64-bit integers and BLOBs, SQL
 * errors, atomic batches, and transactions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DrizzleQueryError, eq, sql } from 'drizzle-orm';
import { blob, customType, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { createClient, type Client, QuorumliteError } from '../../src/client/index.js';
import { type ClientPort, drizzle, migrate, type QuorumliteDatabase } from '../../src/drivers/drizzle/index.js';
import { TestCluster } from '../cluster/harness.js';

/** A 64-bit INTEGER column read as bigint: the client hands over a number when it is exact, a bigint beyond 2^53. */
const int64 = customType<{ data: bigint; driverData: number | bigint }>({
  dataType: () => 'integer',
  fromDriver: (value) => BigInt(value),
  toDriver: (value) => value,
});

const person = sqliteTable('person', {
  id: integer('id').primaryKey(),
  name: text('name').notNull().unique(),
  balance: int64('balance').notNull().default(0n),
  avatar: blob('avatar', { mode: 'buffer' }),
  active: integer('active', { mode: 'boolean' }).notNull().default(true),
});

const post = sqliteTable('post', {
  id: integer('id').primaryKey(),
  authorId: integer('author_id')
    .notNull()
    .references(() => person.id),
  title: text('title').notNull(),
});

const migrationsFolder = fileURLToPath(new URL('./fixtures/drizzle-migrations', import.meta.url));
const int64Max = 2n ** 63n - 1n;
const int64Min = -(2n ** 63n);

describe('drizzle driver on a real cluster', () => {
  let cluster: TestCluster;
  let client: Client;
  let db: QuorumliteDatabase;

  before(async () => {
    cluster = await TestCluster.create({ size: 3, formation: 'join', firstHostIndex: 134, flags: ['--log-level', 'warn'] });
    await cluster.start();
    client = createClient({ nodes: cluster.nodes.map((node) => node.url), deadlineMs: 60_000 });
    db = drizzle(client);
  });
  after(async () => {
    await client?.close();
    await cluster?.close();
  });

  it('migrates with drizzle’s migrator: every migration once, in one atomic request', async () => {
    await migrate(db, { migrationsFolder });
    const tables = await db.values<[string]>(sql`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`);
    assert.deepEqual(tables, [['__drizzle_migrations'], ['person'], ['post']]);
    const writesBefore = client.lastWriteIndex;
    await migrate(db, { migrationsFolder });
    const recorded = await db.all<[string]>(sql`SELECT created_at FROM __drizzle_migrations ORDER BY created_at`);
    assert.deepEqual(recorded, [[1764900000000], [1764900060000]], 'each migration is recorded once');
    assert.ok(client.lastWriteIndex - writesBefore <= 1, 'a second run sends no migration (only its CREATE TABLE IF NOT EXISTS)');
  });

  it('creates, reads, updates and deletes: run, all, get and values', async () => {
    const inserted = await db.insert(person).values({ name: 'fiona', balance: 10n }).run();
    assert.equal(inserted.rowsAffected, 1);
    assert.ok(Number(inserted.lastInsertId) > 0);
    const [sinead] = await db.insert(person).values({ name: 'sinead', balance: 20n, active: false }).returning({ id: person.id, name: person.name });
    assert.equal(sinead?.name, 'sinead');
    const updated = await db.update(person).set({ balance: 15n }).where(eq(person.name, 'fiona')).run();
    assert.equal(updated.rowsAffected, 1);
    const everyone = await db.select({ name: person.name, balance: person.balance, active: person.active }).from(person).orderBy(person.name);
    assert.deepEqual(everyone, [
      { name: 'fiona', balance: 15n, active: true },
      { name: 'sinead', balance: 20n, active: false },
    ]);
    const one = await db.select().from(person).where(eq(person.name, 'sinead')).get();
    assert.equal(one?.id, sinead?.id);
    assert.equal(one?.avatar, null);
    assert.equal(await db.select().from(person).where(eq(person.name, 'nobody')).get(), undefined);
    await db.insert(person).values({ name: 'temporary' }).run();
    const deleted = await db.delete(person).where(eq(person.name, 'temporary')).run();
    assert.equal(deleted.rowsAffected, 1);
    assert.equal(await db.$count(person), 2);
  });

  it('joins, with left-join nulls', async () => {
    const fiona = await db.select({ id: person.id }).from(person).where(eq(person.name, 'fiona')).get();
    assert.ok(fiona !== undefined);
    await db.insert(post).values([
      { authorId: fiona.id, title: 'first' },
      { authorId: fiona.id, title: 'second' },
    ]);
    const inner = await db.select({ author: person.name, title: post.title }).from(post).innerJoin(person, eq(person.id, post.authorId)).orderBy(post.title);
    assert.deepEqual(inner, [
      { author: 'fiona', title: 'first' },
      { author: 'fiona', title: 'second' },
    ]);
    const outer = await db.select().from(person).leftJoin(post, eq(post.authorId, person.id)).where(eq(person.name, 'sinead'));
    assert.equal(outer.length, 1);
    assert.equal(outer[0]?.person.name, 'sinead');
    assert.equal(outer[0]?.post, null);
  });

  it('keeps 64-bit integers and BLOBs intact', async () => {
    const avatar = Buffer.from(new Uint8Array(256).map((_, index) => index));
    await db.insert(person).values([
      { name: 'max', balance: int64Max, avatar },
      { name: 'min', balance: int64Min, avatar: Buffer.alloc(0) },
    ]);
    const rows = await db
      .select({ name: person.name, balance: person.balance, avatar: person.avatar })
      .from(person)
      .where(sql`${person.name} IN ('max', 'min')`)
      .orderBy(person.name);
    assert.deepEqual(rows, [
      { name: 'max', balance: int64Max, avatar },
      { name: 'min', balance: int64Min, avatar: Buffer.alloc(0) },
    ]);
    assert.ok(Buffer.isBuffer(rows[0]?.avatar), 'a buffer-mode blob reads as a Buffer');
    const found = await db.select({ name: person.name }).from(person).where(eq(person.balance, int64Max));
    assert.deepEqual(found, [{ name: 'max' }]);
  });

  it('surfaces an SQL error as an error, and writes nothing for it', async () => {
    await assert.rejects(db.insert(person).values({ name: 'fiona' }), (error: unknown) => {
      assert.ok(error instanceof DrizzleQueryError, 'drizzle wraps a failing query');
      assert.ok(error.cause instanceof QuorumliteError);
      assert.equal(error.cause.code, 'SQL_ERROR');
      assert.match(error.cause.message, /UNIQUE constraint failed/);
      return true;
    });
    await assert.rejects(db.run(sql`SELECT * FROM no_such_table`), (error: unknown) => {
      assert.ok(error instanceof DrizzleQueryError);
      assert.match(String((error.cause as Error).message), /no such table/);
      return true;
    });
  });

  it('runs a batch as one atomic request: all of it, or none of it', async () => {
    const [added, counted] = await db.batch([
      db.insert(person).values({ name: 'batched' }).returning({ name: person.name }),
      db.select({ count: sql<number>`count(*)` }).from(person),
    ]);
    assert.deepEqual(added, [{ name: 'batched' }]);
    assert.deepEqual(counted, [{ count: 5 }]);
    await assert.rejects(db.batch([db.insert(person).values({ name: 'half' }), db.insert(person).values({ name: 'fiona' })]), { code: 'SQL_ERROR' });
    assert.equal(await db.$count(person, eq(person.name, 'half')), 0, 'the failing batch applied nothing');
  });

  it('refuses a transaction, clearly and before any statement, on a client without interactive transactions', async () => {
    const withoutBegin: ClientPort = {
      query: (statements, options) => client.query(statements, options),
      execute: (statements, options) => client.execute(statements, options),
      request: (statements, options) => client.request(statements, options),
      transaction: (statements, options) => client.transaction(statements, options),
    };
    const plain = drizzle(withoutBegin);
    let ran = false;
    await assert.rejects(
      plain.transaction(async (tx) => {
        ran = true;
        await tx.insert(person).values({ name: 'never' });
      }),
      { code: 'INVALID_ARGUMENT', message: /interactive transactions/ },
    );
    assert.equal(ran, false);
    assert.equal(await db.$count(person, eq(person.name, 'never')), 0);
  });
});

/** Type-level checks, compiled by `npm run typecheck:all` and never run. */
export async function typedResults(db: QuorumliteDatabase): Promise<void> {
  const rows: { name: string; balance: bigint; active: boolean; avatar: Buffer | null }[] = await db
    .select({ name: person.name, balance: person.balance, active: person.active, avatar: person.avatar })
    .from(person);
  void rows;
  const joined: { person: { id: number; name: string }; post: { title: string } | null }[] = await db
    .select({ person: { id: person.id, name: person.name }, post: { title: post.title } })
    .from(person)
    .leftJoin(post, eq(post.authorId, person.id));
  void joined;
  const ran: { rowsAffected: number; lastInsertId: number | bigint | undefined } = await db.delete(post).run();
  void ran;
  // @ts-expect-error: title is a string
  await db.insert(post).values({ authorId: 1, title: 2 });
  // @ts-expect-error: no such column
  await db.select({ nickname: person.nickname }).from(person);
}
