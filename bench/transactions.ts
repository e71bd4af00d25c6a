/**
 * Interactive transactions on a real 3-node cluster on loopback (built CLI, one process
 * per node), through the client. Prints one table, every phase bounded by a time budget:
 * - a read-then-write transaction (read one row of 1000, write it back +1) at 1 and 16
 *   clients, each on its own row: transactions/s, p50, p99;
 * - the same at 16 clients all on one row: transactions/s and the conflict rate
 *   (commits and statements answered TX_CONFLICT per transaction attempted);
 * - a one-statement interactive transaction (begin, execute, commit) against the same
 *   write as one plain /db/execute, sequential, one client: ops/s and the ratio.
 * Build first (`npm run build`); `node --import tsx bench/transactions.ts`
 * (BENCH_SECONDS_PER_ROW=3).
 */
import { createClient, QuorumliteError, type Client } from '../src/client/index.js';
import { TestCluster } from '../test/cluster/harness.js';
import { percentile } from './lib/measure.js';

const secondsPerRow = Number(process.env.BENCH_SECONDS_PER_ROW ?? 3);
const transactionsPerRowMax = 20_000;

interface Row {
  readonly name: string;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly note: string;
}

async function runFor(clientCount: number, body: (clientIndex: number) => Promise<void>): Promise<{ perSecond: number; latenciesMs: number[] }> {
  const latenciesMs: number[] = [];
  const deadline = performance.now() + secondsPerRow * 1000;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: clientCount }, async (_, clientIndex) => {
      while (performance.now() < deadline && latenciesMs.length < transactionsPerRowMax) {
        const before = performance.now();
        await body(clientIndex);
        latenciesMs.push(performance.now() - before);
      }
    }),
  );
  return { perSecond: latenciesMs.length / ((performance.now() - startedAt) / 1000), latenciesMs };
}

function row(name: string, run: { perSecond: number; latenciesMs: number[] }, note = ''): Row {
  const sorted = [...run.latenciesMs].sort((left, right) => left - right);
  return { name, perSecond: run.perSecond, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), note };
}

async function readThenWrite(db: Client, id: number, counters: { conflicts: number; attempts: number }): Promise<void> {
  await db.interactive(
    async (tx) => {
      counters.attempts += 1;
      const read = await tx.query<{ n: number }>({ sql: 'SELECT n FROM counters WHERE id = ?', args: [id] });
      await tx.execute({ sql: 'UPDATE counters SET n = ? WHERE id = ?', args: [(read.results[0]?.rows[0]?.n ?? 0) + 1, id] });
    },
    { attemptsMax: 1000, initialDelayMs: 1, delayMsMax: 20 },
  );
}

async function main(): Promise<void> {
  const cluster = await TestCluster.create({ size: 3, formation: 'join' });
  const rows: Row[] = [];
  try {
    await cluster.start();
    await cluster.waitForMembers(3);
    const db = createClient({ nodes: cluster.nodes.map((node) => node.url), connectionsPerNodeMax: 64 });
    await db.execute(['CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)', 'CREATE TABLE plain (id INTEGER PRIMARY KEY, n INTEGER)']);
    await db.execute(Array.from({ length: 1000 }, (_, id) => ({ sql: 'INSERT INTO counters VALUES (?, 0)', args: [id] })));
    for (const clientCount of [1, 16]) {
      const counters = { conflicts: 0, attempts: 0 };
      const run = await runFor(clientCount, (clientIndex) => readThenWrite(db, clientIndex, counters));
      rows.push(row(`read-then-write, ${clientCount} client(s), own rows`, run, `${counters.attempts - run.latenciesMs.length} reruns`));
    }
    const contended = { conflicts: 0, attempts: 0 };
    const hot = await runFor(16, () => readThenWrite(db, 999, contended));
    const conflictRate = (contended.attempts - hot.latenciesMs.length) / contended.attempts;
    rows.push(row('read-then-write, 16 clients, one row', hot, `conflict rate ${(conflictRate * 100).toFixed(1)}% of ${contended.attempts} attempts`));
    let plainId = 0;
    const plain = await runFor(1, async () => {
      await db.execute({ sql: 'INSERT INTO plain VALUES (?, 1)', args: [++plainId] });
    });
    rows.push(row('plain write (/db/execute), 1 client', plain));
    const single = await runFor(1, async () => {
      const tx = await db.begin();
      await tx.execute({ sql: 'INSERT INTO plain VALUES (?, 1)', args: [++plainId] });
      await tx.commit();
    });
    rows.push(row('one-statement interactive transaction, 1 client', single, `${(plain.perSecond / single.perSecond).toFixed(2)}x the plain write's cost`));
    await db.close();
  } catch (error) {
    if (error instanceof QuorumliteError) console.error(error.code, error.message);
    console.error(cluster.logs());
    throw error;
  } finally {
    await cluster.close();
  }
  console.log('| what | tx/s | p50 ms | p99 ms | note |\n| --- | --- | --- | --- | --- |');
  for (const item of rows) console.log(`| ${item.name} | ${item.perSecond.toFixed(0)} | ${item.p50Ms.toFixed(1)} | ${item.p99Ms.toFixed(1)} | ${item.note} |`);
}

await main();
