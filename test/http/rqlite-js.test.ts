/**
 * rqlite's own JavaScript client (the npm package rqlite-js) against our server:
 * proof that an existing rqlite client works unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
// rqlite-js's built `lib/` needs @babel/runtime, which it does not declare and which is
// not installed; its ES source (`es6/`, the same code) loads through tsx.
// @ts-expect-error rqlite-js ships no type declarations.
import { DataApiClient, StatusApiClient } from 'rqlite-js/es6/index.js';
import { startHarness, type Harness } from './harness.js';

interface DataResult {
  get(property: string): unknown;
  getLastInsertId(): number;
  getRowsAffected(): number;
  toObject(): Record<string, unknown>;
}
interface DataResults {
  hasError(): boolean;
  getFirstError(): unknown;
  get(index: number): DataResult | undefined;
  toArray(): Record<string, unknown>[];
}
interface Client {
  execute(sql: unknown, options?: Record<string, unknown>): Promise<DataResults>;
  query(sql: unknown, options?: Record<string, unknown>): Promise<DataResults>;
}

let harness: Harness;
let client: Client;

before(async () => {
  harness = await startHarness();
  client = new DataApiClient(harness.base) as Client;
});

after(async () => {
  await harness.close();
});

describe('rqlite-js DataApiClient', () => {
  it('creates a table and inserts with positional and named parameters', async () => {
    const created = await client.execute('CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT, age INTEGER)');
    assert.equal(created.hasError(), false, String(created.getFirstError()));
    const inserted = await client.execute([
      ['INSERT INTO foo(name, age) VALUES(?, ?)', 'fiona', 20],
      ['INSERT INTO foo(name, age) VALUES(:name, :age)', { name: 'declan', age: 25 }],
    ]);
    assert.equal(inserted.hasError(), false, String(inserted.getFirstError()));
    assert.equal(inserted.get(0)?.getLastInsertId(), 1);
    assert.equal(inserted.get(1)?.getLastInsertId(), 2);
    assert.equal(inserted.get(1)?.getRowsAffected(), 1);
  });

  it('queries with GET (one statement) and reads rows as objects', async () => {
    const results = await client.query('SELECT id, name, age FROM foo ORDER BY id', { level: 'none' });
    assert.equal(results.hasError(), false);
    assert.deepEqual(results.toArray(), [
      { id: 1, name: 'fiona', age: 20 },
      { id: 2, name: 'declan', age: 25 },
    ]);
  });

  it('queries several statements with parameters over POST at level strong', async () => {
    const results = await client.query(
      [
        ['SELECT name FROM foo WHERE age > ?', 21],
        ['SELECT age FROM foo WHERE name = :name', { name: 'fiona' }],
      ],
      { level: 'strong' },
    );
    assert.equal(results.hasError(), false);
    assert.equal(results.get(0)?.get('name'), 'declan');
    assert.equal(results.get(1)?.get('age'), 20);
    const request = harness.service.requests.at(-1) as { level: string };
    assert.equal(request.level, 'strong');
  });

  it('runs a transaction that stops at the first error, and reports the SQL error', async () => {
    const results = await client.execute(["INSERT INTO foo(name, age) VALUES('eve', 30)", 'INSERT INTO missing VALUES(1)'], { transaction: true });
    assert.equal(results.hasError(), true);
    const count = await client.query('SELECT COUNT(*) AS n FROM foo');
    assert.equal(count.get(0)?.get('n'), 2);
  });

  it('follows our 301 from a follower to the leader and re-sends the write there', async () => {
    const follower = await startHarness();
    try {
      follower.service.knobs.isLeader = false;
      follower.service.knobs.refuseToForward = true;
      follower.service.knobs.leaderApiAddress = harness.base;
      const viaFollower = new DataApiClient(follower.base) as Client;
      const results = await viaFollower.execute([['INSERT INTO foo(name, age) VALUES(?, ?)', 'redirected', 40]]);
      assert.equal(results.hasError(), false, String(results.getFirstError()));
      const check = await client.query("SELECT age FROM foo WHERE name = 'redirected'");
      assert.equal(check.get(0)?.get('age'), 40);
      assert.equal(follower.service.requests.length, 1, 'the follower saw the write once and redirected it');
    } finally {
      await follower.close();
    }
  });

  it('reads the status endpoint', async () => {
    const statusClient = new StatusApiClient(harness.base) as { status(): Promise<{ body: { store: { raft: { state: string } } } }> };
    const response = await statusClient.status();
    assert.equal(response.body.store.raft.state, 'Leader');
  });
});
