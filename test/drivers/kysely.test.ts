/**
 * The Kysely dialect against a real 3-node cluster (built CLI, real processes on
 * 127.0.0.131–133), each step through Kysely's own query builder: migrations by Kysely's
 * Migrator (two migrators racing, serialised by the cluster-wide migration lock), CRUD,
 * joins, typed results (checked by `npm run typecheck:all`), 64-bit integers and BLOBs,
 * SQL errors, and transactions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Generated, Kysely, type Migration, Migrator, sql } from 'kysely';
import { createClient, type Client, QuorumliteError } from '../../src/client/index.js';
import { type ClientPort, QuorumliteDialect } from '../../src/drivers/kysely/index.js';
import { TestCluster } from '../cluster/harness.js';

interface Database {
  person: { id: Generated<number>; name: string; balance: number | bigint; avatar: Uint8Array | null };
  post: { id: Generated<number>; author_id: number; title: string };
}

const migrations: Record<string, Migration> = {
  '0001_people': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('person')
        .addColumn('id', 'integer', (column) => column.primaryKey())
        .addColumn('name', 'text', (column) => column.notNull().unique())
        .addColumn('balance', 'integer', (column) => column.notNull().defaultTo(0))
        .addColumn('avatar', 'blob')
        .execute();
    },
  },
  '0002_posts': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('post')
        .addColumn('id', 'integer', (column) => column.primaryKey())
        .addColumn('author_id', 'integer', (column) => column.notNull().references('person.id'))
        .addColumn('title', 'text', (column) => column.notNull())
        .execute();
      await db.schema.createIndex('post_author').on('post').column('author_id').execute();
    },
  },
};

const int64Max = 2n ** 63n - 1n;
const int64Min = -(2n ** 63n);

describe('Kysely dialect on a real cluster', () => {
  let cluster: TestCluster;
  let client: Client;
  let db: Kysely<Database>;

  before(async () => {
    cluster = await TestCluster.create({ size: 3, formation: 'join', firstHostIndex: 131, flags: ['--log-level', 'warn'] });
    await cluster.start();
    client = createClient({ nodes: cluster.nodes.map((node) => node.url), deadlineMs: 60_000 });
    db = new Kysely<Database>({ dialect: new QuorumliteDialect({ client }) });
  });
  after(async () => {
    await db?.destroy();
    await client?.close();
    await cluster?.close();
  });

  it('migrates with Kysely’s Migrator: two racing migrators apply each migration once', async () => {
    const otherClient = createClient({ nodes: [cluster.node(3).url], deadlineMs: 60_000 });
    const otherDb = new Kysely<Database>({ dialect: new QuorumliteDialect({ client: otherClient }) });
    try {
      const provider = { getMigrations: async () => migrations };
      const outcomes = await Promise.all([new Migrator({ db, provider }).migrateToLatest(), new Migrator({ db: otherDb, provider }).migrateToLatest()]);
      for (const outcome of outcomes) assert.equal(outcome.error, undefined, String(outcome.error));
      const applied = outcomes.flatMap((outcome) => outcome.results ?? []).map((result) => `${result.migrationName} ${result.status}`);
      assert.deepEqual(applied.sort(), ['0001_people Success', '0002_posts Success']);
      const recorded = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(db);
      assert.deepEqual(
        recorded.rows.map((row) => row.name),
        ['0001_people', '0002_posts'],
      );
      const lock = await sql<{ is_locked: number }>`SELECT is_locked FROM kysely_migration_lock`.execute(db);
      assert.deepEqual(lock.rows, [{ is_locked: 0 }], 'the lock is released');
      const again = await new Migrator({ db, provider }).migrateToLatest();
      assert.deepEqual(again.results, []);
      const tables = await db.introspection.getTables();
      assert.deepEqual(tables.map((table) => table.name).sort(), ['person', 'post']);
    } finally {
      await otherDb.destroy();
      await otherClient.close();
    }
  });

  it('creates, reads, updates and deletes, with Kysely’s result counts', async () => {
    const inserted = await db.insertInto('person').values({ name: 'fiona', balance: 10 }).executeTakeFirstOrThrow();
    assert.equal(typeof inserted.insertId, 'bigint');
    assert.ok((inserted.insertId ?? 0n) > 0n);
    assert.equal(inserted.numInsertedOrUpdatedRows, 1n);
    const returned = await db.insertInto('person').values({ name: 'sinead', balance: 20 }).returning(['id', 'name']).executeTakeFirstOrThrow();
    assert.equal(returned.name, 'sinead');
    assert.equal(typeof returned.id, 'number');
    const updated = await db.updateTable('person').set({ balance: 15 }).where('name', '=', 'fiona').executeTakeFirstOrThrow();
    assert.equal(updated.numUpdatedRows, 1n);
    const people = await db.selectFrom('person').select(['name', 'balance']).orderBy('name').execute();
    assert.deepEqual(people, [
      { name: 'fiona', balance: 15 },
      { name: 'sinead', balance: 20 },
    ]);
    await db.insertInto('person').values({ name: 'temporary', balance: 0 }).execute();
    const deleted = await db.deleteFrom('person').where('name', '=', 'temporary').executeTakeFirstOrThrow();
    assert.equal(deleted.numDeletedRows, 1n);
    const counted = await db
      .selectFrom('person')
      .select((expression) => expression.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    assert.equal(counted.count, 2);
  });

  it('joins', async () => {
    const fiona = await db.selectFrom('person').select('id').where('name', '=', 'fiona').executeTakeFirstOrThrow();
    await db
      .insertInto('post')
      .values([
        { author_id: fiona.id, title: 'first' },
        { author_id: fiona.id, title: 'second' },
      ])
      .execute();
    const inner = await db
      .selectFrom('post')
      .innerJoin('person', 'person.id', 'post.author_id')
      .select(['person.name as author', 'post.title'])
      .orderBy('post.title')
      .execute();
    assert.deepEqual(inner, [
      { author: 'fiona', title: 'first' },
      { author: 'fiona', title: 'second' },
    ]);
    const outer = await db
      .selectFrom('person')
      .leftJoin('post', 'post.author_id', 'person.id')
      .select(['person.name', 'post.title'])
      .where('person.name', '=', 'sinead')
      .execute();
    assert.deepEqual(outer, [{ name: 'sinead', title: null }]);
  });

  it('keeps 64-bit integers and BLOBs intact', async () => {
    const avatar = new Uint8Array(256).map((_, index) => index);
    await db
      .insertInto('person')
      .values([
        { name: 'max', balance: int64Max, avatar },
        { name: 'min', balance: int64Min, avatar: new Uint8Array(0) },
      ])
      .execute();
    const rows = await db.selectFrom('person').select(['name', 'balance', 'avatar']).where('name', 'in', ['max', 'min']).orderBy('name').execute();
    assert.deepEqual(rows, [
      { name: 'max', balance: int64Max, avatar },
      { name: 'min', balance: int64Min, avatar: new Uint8Array(0) },
    ]);
    const found = await db.selectFrom('person').select('name').where('balance', '=', int64Max).execute();
    assert.deepEqual(found, [{ name: 'max' }]);
  });

  it('surfaces an SQL error as an error, and writes nothing for it', async () => {
    await assert.rejects(db.insertInto('person').values({ name: 'fiona', balance: 0 }).execute(), (error: unknown) => {
      assert.ok(error instanceof QuorumliteError);
      assert.equal(error.code, 'SQL_ERROR');
      assert.match(error.message, /UNIQUE constraint failed/);
      return true;
    });
    await assert.rejects(sql`SELECT * FROM no_such_table`.execute(db), { code: 'SQL_ERROR', message: /no such table/ });
    const fionas = await db.selectFrom('person').select('id').where('name', '=', 'fiona').execute();
    assert.equal(fionas.length, 1);
  });

  it('refuses a transaction, clearly and before any statement, on a client without interactive transactions', async () => {
    const withoutBegin: ClientPort = {
      query: (statements, options) => client.query(statements, options),
      execute: (statements, options) => client.execute(statements, options),
      request: (statements, options) => client.request(statements, options),
      transaction: (statements, options) => client.transaction(statements, options),
    };
    const plain = new Kysely<Database>({ dialect: new QuorumliteDialect({ client: withoutBegin }) });
    let ran = false;
    await assert.rejects(
      plain.transaction().execute(async (trx) => {
        ran = true;
        await trx.insertInto('person').values({ name: 'never', balance: 0 }).execute();
      }),
      { code: 'INVALID_ARGUMENT', message: /interactive transactions/ },
    );
    assert.equal(ran, false);
    assert.deepEqual(await plain.selectFrom('person').select('id').where('name', '=', 'never').execute(), []);
    await plain.destroy();
  });

  it('runs raw SQL: reads and writes, the server decides where', async () => {
    const read = await sql<{ answer: number }>`SELECT 40 + ${2} AS answer`.execute(db);
    assert.deepEqual(read.rows, [{ answer: 42 }]);
    const written = await sql`UPDATE person SET balance = balance + 1 WHERE name = ${'sinead'}`.execute(db);
    assert.equal(written.numAffectedRows, 1n);
  });
});

/** Type-level checks, compiled by `npm run typecheck:all` and never run. */
export async function typedResults(db: Kysely<Database>): Promise<void> {
  const row: { name: string; balance: number | bigint } | undefined = await db.selectFrom('person').select(['name', 'balance']).executeTakeFirst();
  void row;
  const joined: { title: string; author: string }[] = await db
    .selectFrom('post')
    .innerJoin('person', 'person.id', 'post.author_id')
    .select(['post.title', 'person.name as author'])
    .execute();
  void joined;
  // @ts-expect-error: no such column
  await db.selectFrom('person').select('nickname').execute();
  // @ts-expect-error: title is a string
  await db.insertInto('post').values({ author_id: 1, title: 2 }).execute();
}
