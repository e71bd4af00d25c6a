/**
 * The interactive-transaction scenarios of interactive-transactions.test.ts, shared with
 * the etcd log's run (test/etcd/etcd-cluster-scenarios.test.ts): the same assertions on
 * a running 3-node cluster and a client on every node.
 */
import assert from 'node:assert/strict';
import type { Client } from '../../src/client/index.js';
import type { TestCluster, TestNode } from './harness.js';

async function strongRows(node: TestNode, sql: string): Promise<unknown[]> {
  const answer = await node.query(sql, '?level=strong');
  assert.equal(answer.status, 200, answer.text);
  return (answer.body as { results: { values?: unknown[] }[] }).results[0]?.values ?? [];
}

/** 20 concurrent read-modify-write increments through db.interactive() end at exactly 20. */
export async function concurrentIncrements(cluster: TestCluster, db: Client): Promise<void> {
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
}

/** concurrent bank transfers keep the total constant in every read, inside transactions and out. */
export async function bankTransfers(cluster: TestCluster, db: Client): Promise<void> {
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
}

/** a follower forwards every transaction call to the leader. */
export async function followerForwardsTransactions(cluster: TestCluster, db: Client): Promise<void> {
  const leader = await cluster.waitForLeader();
  const follower = cluster.running().find((node) => node.id !== leader.id) as TestNode;
  await db.execute(['CREATE TABLE forwarded (id INTEGER PRIMARY KEY, name TEXT)']);
  const begun = await follower.request('/db/begin', { method: 'POST' });
  assert.equal(begun.status, 200, begun.text);
  const id = (begun.body as { tx_id: string }).tx_id;
  const inserted = await follower.request(`/db/execute?tx=${id}`, { method: 'POST', json: [["INSERT INTO forwarded (name) VALUES ('via follower')"]] });
  assert.deepEqual((inserted.body as { results: unknown[] }).results, [{ last_insert_id: 1, rows_affected: 1 }]);
  const read = await follower.request(`/db/query?tx=${id}`, { method: 'POST', json: ['SELECT name FROM forwarded'] });
  assert.deepEqual((read.body as { results: { values: unknown[] }[] }).results[0]?.values, [['via follower']]);
  const redirected = await follower.request(`/db/query?tx=${id}&redirect`, { method: 'POST', json: ['SELECT 1'], redirect: 'manual' });
  assert.equal(redirected.status, 301);
  const committed = await follower.request(`/db/commit?tx=${id}`, { method: 'POST' });
  assert.equal(committed.status, 200, committed.text);
  assert.deepEqual(await strongRows(follower, 'SELECT name FROM forwarded'), [['via follower']]);
}

/** a leader killed with transactions open: they abort cleanly, nothing committed is lost, a retried commit applies once. */
export async function leaderKilledWithOpenTransactions(cluster: TestCluster, db: Client): Promise<void> {
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
}
