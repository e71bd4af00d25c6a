/**
 * What `db_timeout` costs a read that ends in time: query() in the node's process next to
 * queryWithDeadline() (the same statements in a child process that would be killed at the
 * deadline), for a point read and a 1000-row read, sequentially (latency, not
 * throughput). Each round runs both sides; the table shows per-round medians and the
 * ratio. Then the interruption itself: how long after a 10 ms deadline a read that would
 * run for minutes is answered, and how long the next timed read takes (on the idle
 * process kept ready beside the busy one). Run: `node --import tsx bench/timed-reads.ts` (BENCH_TIMED_ROUNDS, default 5).
 * Bounded: rounds × (pointReadCount + manyRowReadCount) reads, plus two interruptions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeCommand } from '../src/state-machine/command-codec.js';
import { SqliteStateMachine } from '../src/state-machine/state-machine.js';
import type { Statement } from '../src/state-machine/types.js';
import { median, microsecondsPerCall } from './lib/measure.js';

process.env['TZ'] = 'UTC';
const roundCount = Number(process.env['BENCH_TIMED_ROUNDS'] ?? 5);
const pointReadCount = 2_000;
const manyRowReadCount = 200;
const tableRowCount = 10_000;
const signal = new AbortController().signal;

function statement(sql: string, ...positional: number[]): Statement {
  return { sql, positional, named: {} };
}

const rowSource = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${tableRowCount}) SELECT x, printf('name%d', x) FROM c`;
const slowCount = statement('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) SELECT count(*) FROM c');

const directory = mkdtempSync(join(tmpdir(), 'quorumlite-bench-timed-'));
const machine = new SqliteStateMachine({ path: join(directory, 'db.sqlite') });
try {
  const create = [statement('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)'), statement(`INSERT INTO t ${rowSource}`)];
  machine.apply(1, encodeCommand({ statements: create, transaction: false, timestampMs: 0, seed: 0n }));
  const point = (position: number): Statement[] => [statement('SELECT * FROM t WHERE id = ?', 1 + (position % tableRowCount))];
  const manyRows = [statement('SELECT * FROM t LIMIT 1000')];
  const timed = (statements: Statement[]) => machine.queryWithDeadline(statements, { timeoutMs: 60_000, signal });
  await microsecondsPerCall(200, (position) => timed(point(position))); // the child starts and warms up
  const samples = { pointInProcess: [] as number[], pointTimed: [] as number[], manyInProcess: [] as number[], manyTimed: [] as number[] };
  for (let round = 0; round < roundCount; round++) {
    samples.pointInProcess.push(await microsecondsPerCall(pointReadCount, (position) => machine.query(point(position))));
    samples.pointTimed.push(await microsecondsPerCall(pointReadCount, (position) => timed(point(position))));
    samples.manyInProcess.push(await microsecondsPerCall(manyRowReadCount, () => machine.query(manyRows)));
    samples.manyTimed.push(await microsecondsPerCall(manyRowReadCount, () => timed(manyRows)));
  }
  const row = (name: string, inProcess: number[], timedSamples: number[]) => ({
    read: name,
    'query() µs': median(inProcess).toFixed(1),
    'db_timeout µs': median(timedSamples).toFixed(1),
    ratio: (median(timedSamples) / median(inProcess)).toFixed(1),
  });
  console.table([row('point read', samples.pointInProcess, samples.pointTimed), row('1000 rows', samples.manyInProcess, samples.manyTimed)]);

  let startedMs = performance.now();
  const [interrupted] = await machine.queryWithDeadline([slowCount], { timeoutMs: 10, signal });
  const answeredMs = performance.now() - startedMs;
  startedMs = performance.now();
  await timed([statement('SELECT 1')]);
  const nextMs = performance.now() - startedMs;
  console.table([
    { what: 'a read that would run for minutes, db_timeout 10 ms: answered after (ms)', value: answeredMs.toFixed(1), answer: JSON.stringify(interrupted) },
    { what: 'the next timed read, on the process kept ready (ms)', value: nextMs.toFixed(1), answer: '' },
  ]);
} finally {
  machine.close();
  rmSync(directory, { recursive: true, force: true });
}
