/**
 * Interactive transactions on a real 3-node cluster (real processes): 20 concurrent
 * read-modify-write increments through db.interactive() end at exactly 20; concurrent
 * bank transfers keep the total constant in every read (inside transactions too); a
 * leader killed with transactions open aborts them cleanly (TX_NOT_FOUND on the new
 * leader), loses nothing committed, and a commit retried there after the lost reply
 * applies once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient, type Client } from '../../src/client/index.js';
import { TestCluster, type TestNode } from './harness.js';

let cluster: TestCluster;
let db: Client;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join' });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
  await cluster.waitForMembers(3);
  db = createClient({ nodes: cluster.nodes.map((node) => node.url), retry: { initialDelayMs: 5, delayMsMax: 200 } });
});

after(async () => {
  await db?.close();
  await cluster?.close();
});

async function strongRows(node: TestNode, sql: string): Promise<unknown[]> {
  const answer = await node.query(sql, '?level=strong');
  assert.equal(answer.status, 200, answer.text);
  return (answer.body as { results: { values?: unknown[] }[] }).results[0]?.values ?? [];
}

test('20 concurrent read-modify-write increments through db.interactive() end at exactly 20', async () =>
  cluster.withLogs(async () => {
    await db.execute(['CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)', 'INSERT INTO counter VALUES (1, 0)']);
    let attempts = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.interactive(
          async (tx) => {
            attempts += 1;
            const read = await tx.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
            const value = read.results[0]?.rows[0]?.n;
            assert.equal(typeof value, 'number');
            await tx.execute({ sql: 'UPDATE counter SET n = ? WHERE id = 1', args: [(value as number) + 1] });
          },
          { attemptsMax: 200, delayMsMax: 100 },
        ),
      ),
    );
    assert.ok(attempts >= 20);
    await cluster.waitForConvergence();
    for (const node of cluster.running()) assert.deepEqual(await strongRows(node, 'SELECT n FROM counter'), [[20]], node.url);
  }));

test('concurrent bank transfers keep the total constant in every read, inside transactions and out', async () =>
  cluster.withLogs(async () => {
    const accountCount = 5;
    await db.execute([
      'CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)',
      ...Array.from({ length: accountCount }, (_, id) => `INSERT INTO accounts VALUES (${id}, 100)`),
    ]);
    const total = accountCount * 100;
    const sumsSeen: number[] = [];
    let stop = false;
    const transfer = async (worker: number): Promise<void> => {
      for (let round = 0; round < 8; round++) {
        const from = (worker + round) % accountCount;
        const to = (worker * 3 + round + 1) % accountCount;
        if (from === to) continue;
        await db.interactive(
          async (tx) => {
            const balances = await tx.query<{ balance: number }>([
              { sql: 'SELECT balance FROM accounts WHERE id = ?', args: [from] },
              { sql: 'SELECT balance FROM accounts WHERE id = ?', args: [to] },
            ]);
            const fromBalance = balances.results[0]?.rows[0]?.balance ?? 0;
            const toBalance = balances.results[1]?.rows[0]?.balance ?? 0;
            const amount = Math.min(fromBalance, 1 + ((worker + round) % 7));
            await tx.execute({ sql: 'UPDATE accounts SET balance = ? WHERE id = ?', args: [fromBalance - amount, from] });
            await tx.execute({ sql: 'UPDATE accounts SET balance = ? WHERE id = ?', args: [toBalance + amount, to] });
          },
          { attemptsMax: 200, delayMsMax: 100 },
        );
      }
    };
    const reader = async (): Promise<void> => {
      while (!stop) {
        // One account per call: only the transaction's snapshot makes the five add up.
        await db.interactive(
          async (tx) => {
            let sum = 0;
            for (let id = 0; id < accountCount; id++) {
              const read = await tx.query<{ balance: number }>({ sql: 'SELECT balance FROM accounts WHERE id = ?', args: [id] });
              sum += read.results[0]?.rows[0]?.balance ?? Number.NaN;
            }
            sumsSeen.push(sum);
          },
          { attemptsMax: 200, delayMsMax: 100 },
        );
        const plain = await db.query<{ total: number }>('SELECT sum(balance) AS total FROM accounts', { consistency: 'strong' });
        sumsSeen.push(plain.results[0]?.rows[0]?.total ?? Number.NaN);
      }
    };
    const readers = [reader(), reader()];
    await Promise.all(Array.from({ length: 6 }, (_, worker) => transfer(worker)));
    stop = true;
    await Promise.all(readers);
    assert.ok(sumsSeen.length >= 4, `${sumsSeen.length} reads`);
    assert.deepEqual(
      sumsSeen.filter((sum) => sum !== total),
      [],
      'every read sees the same total',
    );
    await cluster.waitForConvergence();
    for (const node of cluster.running()) assert.deepEqual(await strongRows(node, 'SELECT sum(balance) FROM accounts'), [[total]], node.url);
  }));

test('a leader killed with transactions open: they abort cleanly, nothing committed is lost, a retried commit applies once', async () =>
  cluster.withLogs(async () => {
    await db.execute(['CREATE TABLE events (id INTEGER PRIMARY KEY, name TEXT NOT NULL)']);
    const leader = await cluster.waitForLeader();
    const committed = await db.begin();
    await committed.execute("INSERT INTO events (name) VALUES ('committed')");
    await committed.commit();
    const open = await Promise.all(Array.from({ length: 3 }, () => db.begin()));
    for (const [position, tx] of open.entries()) await tx.execute({ sql: 'INSERT INTO events (name) VALUES (?)', args: [`open-${position}`] });
    // A commit whose reply is "lost": sent by hand with a key, then retried with it after the kill.
    const retried = await db.begin();
    await retried.execute("INSERT INTO events (name) VALUES ('retried')");
    const first = await leader.request(`/db/commit?tx=${retried.id}`, { method: 'POST', headers: { 'idempotency-key': 'lost-reply-commit' } });
    assert.equal(first.status, 200, first.text);

    await leader.kill();
    const survivors = cluster.running();
    const newLeader = await cluster.waitForLeader(survivors);
    assert.notEqual(newLeader.id, leader.id);
    for (const tx of open) {
      await assert.rejects(tx.query('SELECT 1'), { code: 'TX_NOT_FOUND' });
      await assert.rejects(tx.commit(), { code: 'TX_NOT_FOUND' });
    }
    const again = await newLeader.request(`/db/commit?tx=${retried.id}`, { method: 'POST', headers: { 'idempotency-key': 'lost-reply-commit' } });
    assert.equal(again.status, 200, again.text);
    const names = await strongRows(newLeader, 'SELECT name FROM events ORDER BY id');
    assert.deepEqual(names, [['committed'], ['retried']]);
    // A new transaction works on the new leader.
    await db.interactive(async (tx) => {
      await tx.execute("INSERT INTO events (name) VALUES ('after')");
    });
    await cluster.waitForConvergence(survivors);
    for (const node of survivors) assert.deepEqual(await strongRows(node, 'SELECT count(*) FROM events'), [[3]], node.url);
  }));
