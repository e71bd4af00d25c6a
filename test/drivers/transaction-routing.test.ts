/**
 * How the drivers use an interactive transaction, against a recording client (no server):
 * every statement of an ORM transaction goes to that transaction, none to the client;
 * returning commits, throwing rolls back; statements outside it never join it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eq } from 'drizzle-orm';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { type Generated, Kysely, sql } from 'kysely';
import { type InStatement, QuorumliteError, type Reply, type ResultSet } from '../../src/client/index.js';
import { drizzle } from '../../src/drivers/drizzle/index.js';
import { type ClientPort, type InteractiveTransactionPort, QuorumliteDialect, retryOnConflict, type StatementOptions } from '../../src/drivers/kysely/index.js';

type Call = string;

function reply(sql: string, options: StatementOptions | undefined): Reply<unknown> {
  const reads = /^select/i.test(sql) || /returning/i.test(sql);
  const row = options?.rowMode === 'array' ? [1, 'fiona'] : { id: 1, name: 'fiona' };
  const result: ResultSet<unknown> = {
    columns: reads ? ['id', 'name'] : [],
    types: reads ? ['integer', 'text'] : [],
    rows: reads ? [row] : [],
    rowsAffected: reads ? 0 : 1,
    lastInsertId: reads ? undefined : 1,
    error: undefined,
    timeSeconds: undefined,
  };
  return { results: [result], raftIndex: 1 };
}

function sqlOf(statements: InStatement | readonly InStatement[]): string {
  const statement = Array.isArray(statements) ? statements[0] : statements;
  return typeof statement === 'string' ? statement : (statement as { sql: string }).sql;
}

/** A client and its transactions that log each call as `who.method sql`; commits fail with `commitErrors`, in order, while any are left. */
function recordingClient(calls: Call[], commitErrors: Error[] = []): ClientPort {
  const port = (who: string) => ({
    query: async (statements: InStatement | readonly InStatement[], options?: StatementOptions) => {
      calls.push(`${who}.query ${sqlOf(statements)}`);
      return reply(sqlOf(statements), options);
    },
    execute: async (statements: InStatement | readonly InStatement[], options?: StatementOptions) => {
      calls.push(`${who}.execute ${sqlOf(statements)}`);
      return reply(sqlOf(statements), options);
    },
    request: async (statements: InStatement | readonly InStatement[], options?: StatementOptions) => {
      calls.push(`${who}.request ${sqlOf(statements)}`);
      return reply(sqlOf(statements), options);
    },
  });
  let transactionCount = 0;
  return {
    ...port('client'),
    transaction: async (statements, options) => {
      calls.push(`client.transaction ${statements.length}`);
      return reply(sqlOf(statements), options);
    },
    begin: async (): Promise<InteractiveTransactionPort> => {
      transactionCount += 1;
      const who = `tx${transactionCount}`;
      calls.push(`client.begin ${who}`);
      return {
        ...port(who),
        commit: async () => {
          calls.push(`${who}.commit`);
          const error = commitErrors.shift();
          if (error !== undefined) throw error;
        },
        rollback: async () => calls.push(`${who}.rollback`),
      };
    },
  };
}

interface Database {
  person: { id: Generated<number>; name: string };
}
const person = sqliteTable('person', { id: integer('id').primaryKey(), name: text('name').notNull() });

test('Kysely: a transaction’s statements go to its interactive transaction; return commits, throw rolls back; raw SQL is routed by its text', async () => {
  const calls: Call[] = [];
  const db = new Kysely<Database>({ dialect: new QuorumliteDialect({ client: recordingClient(calls) }) });
  const name = await db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('person').select(['id', 'name']).where('id', '=', 1).executeTakeFirstOrThrow();
    await trx.updateTable('person').set({ name: 'sinead' }).where('id', '=', row.id).execute();
    return row.name;
  });
  assert.equal(name, 'fiona');
  await assert.rejects(
    db.transaction().execute(async (trx) => {
      await trx.insertInto('person').values({ name: 'never' }).execute();
      throw new Error('changed my mind');
    }),
    /changed my mind/,
  );
  await db.selectFrom('person').selectAll().execute();
  await sql`SELECT count(*) FROM person`.execute(db);
  await sql`DELETE FROM person`.execute(db);
  assert.deepEqual(calls, [
    'client.begin tx1',
    'tx1.query select "id", "name" from "person" where "id" = ?',
    'tx1.execute update "person" set "name" = ? where "id" = ?',
    'tx1.commit',
    'client.begin tx2',
    'tx2.execute insert into "person" ("name") values (?)',
    'tx2.rollback',
    'client.query select * from "person"',
    'client.query SELECT count(*) FROM person',
    'client.request DELETE FROM person',
  ]);
});

test('drizzle: a transaction’s statements go to its interactive transaction; return commits, throw and tx.rollback() roll back', async () => {
  const calls: Call[] = [];
  const db = drizzle(recordingClient(calls));
  const found = await db.transaction(async (tx) => {
    const row = await tx.select().from(person).where(eq(person.id, 1)).get();
    await tx.update(person).set({ name: 'sinead' }).where(eq(person.id, 1));
    return row;
  });
  assert.deepEqual(found, { id: 1, name: 'fiona' });
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.insert(person).values({ name: 'never' }).returning();
      tx.rollback();
    }),
    /Rollback/,
  );
  await assert.rejects(
    db.transaction(async () => undefined, { behavior: 'immediate' }),
    /optimistic/,
  );
  await assert.rejects(
    db.transaction(async (tx) => tx.transaction(async (nested) => nested.select().from(person))),
    /nested transactions need savepoints/,
  );
  await db.select().from(person);
  assert.deepEqual(calls, [
    'client.begin tx1',
    'tx1.query select "id", "name" from "person" where "person"."id" = ?',
    'tx1.execute update "person" set "name" = ? where "person"."id" = ?',
    'tx1.commit',
    'client.begin tx2',
    'tx2.request insert into "person" ("id", "name") values (null, ?) returning "id", "name"',
    'tx2.rollback',
    'client.begin tx3',
    'tx3.rollback',
    'client.query select "id", "name" from "person"',
  ]);
});

test('a failing commit: a conflict surfaces as itself, ends the transaction, and retryOnConflict reruns; another failure also rolls back', async () => {
  const calls: Call[] = [];
  const commitErrors = [new QuorumliteError('TX_CONFLICT', 'changed meanwhile')];
  const client = recordingClient(calls, commitErrors);
  const kysely = new Kysely<Database>({ dialect: new QuorumliteDialect({ client }) });
  let runs = 0;
  const increment = () =>
    kysely.transaction().execute(async (trx) => {
      runs += 1;
      await trx.updateTable('person').set({ name: 'sinead' }).execute();
    });
  await retryOnConflict(increment, { initialDelayMs: 1 });
  assert.equal(runs, 2);
  commitErrors.push(new QuorumliteError('TIMEOUT', 'no answer'));
  await assert.rejects(retryOnConflict(increment, { initialDelayMs: 1 }), { code: 'TIMEOUT' });
  assert.equal(runs, 3, 'a timeout is not a conflict: not run again');
  const update = 'execute update "person" set "name" = ?';
  assert.deepEqual(calls, [
    'client.begin tx1',
    `tx1.${update}`,
    'tx1.commit',
    'client.begin tx2',
    `tx2.${update}`,
    'tx2.commit',
    'client.begin tx3',
    `tx3.${update}`,
    'tx3.commit',
    'tx3.rollback',
  ]);

  calls.length = 0;
  commitErrors.push(new QuorumliteError('TX_CONFLICT', 'changed meanwhile'));
  const db = drizzle(client);
  runs = 0;
  await retryOnConflict(
    () =>
      db.transaction(async (tx) => {
        runs += 1;
        await tx.update(person).set({ name: 'sinead' });
      }),
    { initialDelayMs: 1 },
  );
  assert.equal(runs, 2);
  assert.deepEqual(calls, [
    'client.begin tx4',
    'tx4.execute update "person" set "name" = ?',
    'tx4.commit',
    'client.begin tx5',
    'tx5.execute update "person" set "name" = ?',
    'tx5.commit',
  ]);
});
