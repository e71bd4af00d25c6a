/**
 * ORM transactions on a real 3-node cluster (built CLI, real processes on
 * 127.0.0.137–139), through each ORM's own transaction API on interactive transactions:
 * a transaction sees its own writes and rolls back entirely; a commit whose read changed
 * meanwhile fails with TX_CONFLICT and applies nothing; retryOnConflict runs it again; and
 * concurrent read-modify-write increments through retryOnConflict lose no update.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eq } from 'drizzle-orm';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { Kysely } from 'kysely';
import { createClient, type Client, QuorumliteError } from '../../src/client/index.js';
import { drizzle, type QuorumliteDatabase, retryOnConflict as retryDrizzle } from '../../src/drivers/drizzle/index.js';
import { isConflict, QuorumliteDialect, retryOnConflict } from '../../src/drivers/kysely/index.js';
import { TestCluster } from '../cluster/harness.js';

interface Database {
  counter: { name: string; value: number };
  item: { name: string };
}

const counter = sqliteTable('counter', { name: text('name').primaryKey(), value: integer('value').notNull() });
const item = sqliteTable('item', { name: text('name').primaryKey() });

const concurrentIncrements = 10;
/** Enough reruns for 10 writers racing on one row on a loaded machine. */
const attemptsMax = 100;

describe('ORM transactions on a real cluster', () => {
  let cluster: TestCluster;
  let client: Client;
  let kysely: Kysely<Database>;
  let db: QuorumliteDatabase;

  before(async () => {
    cluster = await TestCluster.create({ size: 3, formation: 'join', firstHostIndex: 137, flags: ['--log-level', 'warn'] });
    await cluster.start();
    client = createClient({ nodes: cluster.nodes.map((node) => node.url), deadlineMs: 60_000 });
    kysely = new Kysely<Database>({ dialect: new QuorumliteDialect({ client }) });
    db = drizzle(client);
    await client.execute([
      'CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL)',
      'CREATE TABLE item (name TEXT PRIMARY KEY)',
      "INSERT INTO counter VALUES ('kysely', 0), ('drizzle', 0), ('kysely-race', 0), ('drizzle-race', 0)",
    ]);
  });
  after(async () => {
    await kysely?.destroy();
    await client?.close();
    await cluster?.close();
  });

  const kyselyValue = async (name: string) => (await kysely.selectFrom('counter').select('value').where('name', '=', name).executeTakeFirstOrThrow()).value;
  const drizzleValue = async (name: string) => (await db.select({ value: counter.value }).from(counter).where(eq(counter.name, name)).get())?.value;

  it('Kysely: a transaction sees its own writes, and a throw rolls all of them back', async () => {
    await assert.rejects(
      kysely.transaction().execute(async (trx) => {
        const added = await trx.insertInto('item').values({ name: 'kysely-doomed' }).returning('name').execute();
        assert.deepEqual(added, [{ name: 'kysely-doomed' }], 'RETURNING inside a transaction');
        await trx.updateTable('counter').set({ value: 99 }).where('name', '=', 'kysely').execute();
        const seen = await trx.selectFrom('item').select('name').where('name', '=', 'kysely-doomed').execute();
        assert.deepEqual(seen, [{ name: 'kysely-doomed' }], 'the transaction reads its own write');
        throw new Error('roll it back');
      }),
      /roll it back/,
    );
    assert.deepEqual(await kysely.selectFrom('item').select('name').where('name', '=', 'kysely-doomed').execute(), []);
    assert.equal(await kyselyValue('kysely'), 0);
  });

  it('Kysely: a transaction whose read changed meanwhile conflicts and applies nothing; retryOnConflict runs it again', async () => {
    const trx = await kysely.startTransaction().execute();
    const before = await trx.selectFrom('counter').select('value').where('name', '=', 'kysely').executeTakeFirstOrThrow();
    await kysely.updateTable('counter').set({ value: 10 }).where('name', '=', 'kysely').execute();
    // The server replays the transaction's earlier reads at each statement: the changed read is found here already.
    await assert.rejects(
      trx
        .updateTable('counter')
        .set({ value: before.value + 1 })
        .where('name', '=', 'kysely')
        .execute(),
      (error: unknown) => error instanceof QuorumliteError && error.code === 'TX_CONFLICT',
    );
    // That aborted the transaction: its commit cannot apply anything either.
    await assert.rejects(trx.commit().execute(), (error: unknown) => isConflict(error));
    await trx.rollback().execute(); // Kysely's way to give a controlled transaction's connection back after a failed commit
    assert.equal(await kyselyValue('kysely'), 10, 'the conflicting transaction applied nothing');

    // Overtaken after its last statement: the commit finds the conflict.
    await assert.rejects(
      kysely.transaction().execute(async (trx) => {
        const { value } = await trx.selectFrom('counter').select('value').where('name', '=', 'kysely').executeTakeFirstOrThrow();
        await trx
          .updateTable('counter')
          .set({ value: value + 1 })
          .where('name', '=', 'kysely')
          .execute();
        await kysely.updateTable('counter').set({ value: 15 }).where('name', '=', 'kysely').execute();
      }),
      (error: unknown) => error instanceof QuorumliteError && error.code === 'TX_CONFLICT',
    );
    assert.equal(await kyselyValue('kysely'), 15, 'the conflicting commit applied nothing');

    let runs = 0;
    await retryOnConflict(
      () =>
        kysely.transaction().execute(async (trx) => {
          runs += 1;
          const { value } = await trx.selectFrom('counter').select('value').where('name', '=', 'kysely').executeTakeFirstOrThrow();
          // The first run is overtaken by a write outside it, so its commit conflicts.
          if (runs === 1) await kysely.updateTable('counter').set({ value: 20 }).where('name', '=', 'kysely').execute();
          await trx
            .updateTable('counter')
            .set({ value: value + 1 })
            .where('name', '=', 'kysely')
            .execute();
        }),
      { attemptsMax },
    );
    assert.equal(runs, 2);
    assert.equal(await kyselyValue('kysely'), 21);
  });

  it(`Kysely: ${concurrentIncrements} concurrent read-modify-write increments through retryOnConflict end at exactly ${concurrentIncrements}`, async () => {
    await Promise.all(
      Array.from({ length: concurrentIncrements }, () =>
        retryOnConflict(
          () =>
            kysely.transaction().execute(async (trx) => {
              const { value } = await trx.selectFrom('counter').select('value').where('name', '=', 'kysely-race').executeTakeFirstOrThrow();
              await trx
                .updateTable('counter')
                .set({ value: value + 1 })
                .where('name', '=', 'kysely-race')
                .execute();
            }),
          { attemptsMax },
        ),
      ),
    );
    assert.equal(await kyselyValue('kysely-race'), concurrentIncrements);
  });

  it('drizzle: a transaction sees its own writes, and tx.rollback() rolls all of them back', async () => {
    await assert.rejects(
      db.transaction(async (tx) => {
        const added = await tx.insert(item).values({ name: 'drizzle-doomed' }).returning();
        assert.deepEqual(added, [{ name: 'drizzle-doomed' }], 'RETURNING inside a transaction');
        await tx.update(counter).set({ value: 99 }).where(eq(counter.name, 'drizzle'));
        const seen = await tx.select().from(item).where(eq(item.name, 'drizzle-doomed'));
        assert.deepEqual(seen, [{ name: 'drizzle-doomed' }], 'the transaction reads its own write');
        tx.rollback();
      }),
      /Rollback/,
    );
    assert.equal(await db.$count(item, eq(item.name, 'drizzle-doomed')), 0);
    assert.equal(await drizzleValue('drizzle'), 0);
  });

  it('drizzle: a transaction whose read changed meanwhile applies nothing; retryOnConflict runs it again', async () => {
    let runs = 0;
    await retryDrizzle(
      () =>
        db.transaction(async (tx) => {
          runs += 1;
          const row = await tx.select().from(counter).where(eq(counter.name, 'drizzle')).get();
          assert.ok(row !== undefined);
          if (runs === 1) await db.update(counter).set({ value: 20 }).where(eq(counter.name, 'drizzle'));
          await tx
            .update(counter)
            .set({ value: row.value + 1 })
            .where(eq(counter.name, 'drizzle'));
        }),
      { attemptsMax },
    );
    assert.equal(runs, 2);
    assert.equal(await drizzleValue('drizzle'), 21);
  });

  it(`drizzle: ${concurrentIncrements} concurrent increments through retryOnConflict end at exactly ${concurrentIncrements}`, async () => {
    await Promise.all(
      Array.from({ length: concurrentIncrements }, () =>
        retryDrizzle(
          () =>
            db.transaction(async (tx) => {
              const row = await tx.select().from(counter).where(eq(counter.name, 'drizzle-race')).get();
              assert.ok(row !== undefined);
              await tx
                .update(counter)
                .set({ value: row.value + 1 })
                .where(eq(counter.name, 'drizzle-race'));
            }),
          { attemptsMax },
        ),
      ),
    );
    assert.equal(await drizzleValue('drizzle-race'), concurrentIncrements);
  });
});
