/**
 * Apply throughput: the state machine applying encoded entries, next to raw
 * better-sqlite3 doing the same inserts with the same pragmas, in the same run, in
 * alternating rounds. Prints entries/s and rows/s and the overhead ratio. Then the
 * snapshot methods: how long each blocks the event loop (what reads wait for).
 * Bounded: roundCount × workloads × roundDurationMs, plus the snapshot section.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeCommand } from '../src/state-machine/command-codec.js';
import { SqliteStateMachine } from '../src/state-machine/state-machine.js';
import type { Statement } from '../src/state-machine/types.js';

process.env['TZ'] = 'UTC';
const roundCount = 9;
const roundDurationMs = 400;
const entryCountPerRoundMax = 1_000_000;
const batchRowCount = 100;
/** Committed entries the runtime hands over at once (one Ready); applyBatch commits them together. */
const applyBatchEntryCount = 32;
const snapshotRowCount = 200_000;
const snapshotRunCount = 3;

interface Workload {
  readonly name: string;
  readonly rowsPerEntry: number;
}

const workloads: readonly Workload[] = [
  { name: 'single-row INSERT entries', rowsPerEntry: 1 },
  { name: `${batchRowCount}-row batch entries`, rowsPerEntry: batchRowCount },
];

const insertSql = 'INSERT INTO t(v, n) VALUES (?, ?)';

function entryStatements(entryIndex: number, rowsPerEntry: number): Statement[] {
  return Array.from({ length: rowsPerEntry }, (_, row) => ({ sql: insertSql, positional: [`value-${entryIndex}-${row}`, entryIndex], named: {} }));
}

/** Runs `applyOne` for roundDurationMs; returns entries per second. */
function measure(applyOne: (entryIndex: number) => void, firstIndex: number): { entriesPerSecond: number; lastIndex: number } {
  const start = performance.now();
  let entryIndex = firstIndex;
  while (performance.now() - start < roundDurationMs && entryIndex - firstIndex < entryCountPerRoundMax) {
    applyOne(entryIndex);
    entryIndex++;
  }
  const elapsedMs = performance.now() - start;
  return { entriesPerSecond: ((entryIndex - firstIndex) * 1000) / elapsedMs, lastIndex: entryIndex - 1 };
}

function openRaw(path: string): Database.Database {
  const database = new Database(path);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)');
  return database;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function benchWorkload(directory: string, workload: Workload): { raw: number; machine: number; batched: number } {
  const raw = openRaw(join(directory, `raw-${workload.rowsPerEntry}.sqlite`));
  const rawInsert = raw.prepare(insertSql);
  const rawEntry = raw.transaction((entryIndex: number) => {
    for (let row = 0; row < workload.rowsPerEntry; row++) rawInsert.run(`value-${entryIndex}-${row}`, entryIndex);
  });
  const machine = new SqliteStateMachine({ path: join(directory, `machine-${workload.rowsPerEntry}.sqlite`) });
  machine.apply(1, encodeCommand({ statements: [{ sql: 'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)', positional: [], named: {} }], transaction: false, timestampMs: 0, seed: 0n }));
  // Entries are encoded ahead (the leader encodes at propose); apply includes decoding.
  const encodedCount = 4096;
  const encoded = Array.from({ length: encodedCount }, (_, position) =>
    encodeCommand({ statements: entryStatements(position, workload.rowsPerEntry), transaction: true, timestampMs: 1_700_000_000_000 + position, seed: BigInt(position) }));
  const batchedMachine = new SqliteStateMachine({ path: join(directory, `batched-${workload.rowsPerEntry}.sqlite`) });
  batchedMachine.apply(1, encodeCommand({ statements: [{ sql: 'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)', positional: [], named: {} }], transaction: false, timestampMs: 0, seed: 0n }));
  const rawRates: number[] = [];
  const machineRates: number[] = [];
  const batchedRates: number[] = [];
  let rawIndex = 1;
  let machineIndex = 2;
  let batchedIndex = 2;
  for (let round = 0; round < roundCount; round++) {
    const rawRound = measure((entryIndex) => rawEntry(entryIndex), rawIndex);
    rawIndex = rawRound.lastIndex + 1;
    rawRates.push(rawRound.entriesPerSecond);
    const machineRound = measure((entryIndex) => machine.apply(entryIndex, encoded[entryIndex % encodedCount] as Uint8Array), machineIndex);
    machineIndex = machineRound.lastIndex + 1;
    machineRates.push(machineRound.entriesPerSecond);
    const batchedRound = measure((batchIndex) => {
      const first = batchedIndex + (batchIndex - 1) * applyBatchEntryCount;
      batchedMachine.applyBatch(Array.from({ length: applyBatchEntryCount }, (_, position) => ({
        index: first + position, data: encoded[(first + position) % encodedCount] as Uint8Array,
      })));
    }, 1);
    batchedIndex += batchedRound.lastIndex * applyBatchEntryCount;
    batchedRates.push(batchedRound.entriesPerSecond * applyBatchEntryCount);
  }
  raw.close();
  machine.close();
  batchedMachine.close();
  return { raw: median(rawRates), machine: median(machineRates), batched: median(batchedRates) };
}

interface Measured {
  readonly blockMs: number;
  readonly totalMs: number;
}

function medianMeasured(runs: readonly Measured[]): Measured {
  return { blockMs: median(runs.map((run) => run.blockMs)), totalMs: median(runs.map((run) => run.totalMs)) };
}

/** Longest gap between event-loop turns while `work` runs: what a waiting read would see. */
async function longestLoopBlockMs(work: () => Promise<unknown>): Promise<{ blockMs: number; totalMs: number }> {
  let longest = 0;
  let last = performance.now();
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const start = performance.now();
  await work();
  const totalMs = performance.now() - start;
  running = false;
  longest = Math.max(longest, performance.now() - last);
  return { blockMs: longest, totalMs };
}

async function benchSnapshots(directory: string): Promise<void> {
  const machine = new SqliteStateMachine({ path: join(directory, 'snapshot-source.sqlite') });
  const statements: Statement[] = [
    { sql: 'CREATE TABLE s(id INTEGER PRIMARY KEY, v TEXT)', positional: [], named: {} },
    { sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${snapshotRowCount}) INSERT INTO s(v) SELECT printf('%.200c', 'x') FROM n`, positional: [], named: {} },
  ];
  machine.apply(1, encodeCommand({ statements, transaction: true, timestampMs: 0, seed: 0n }));
  const workerRuns: Measured[] = [];
  const backupRuns: Measured[] = [];
  const vacuumRuns: Measured[] = [];
  for (let run = 0; run < snapshotRunCount; run++) {
    workerRuns.push(await longestLoopBlockMs(() => machine.snapshot(join(directory, `snapshot-worker-${run}.db`))));
    backupRuns.push(await longestLoopBlockMs(() => machine.snapshotWithBackupApi(join(directory, `snapshot-backup-${run}.db`))));
    vacuumRuns.push(await longestLoopBlockMs(async () => machine.readDatabase.exec(`VACUUM INTO '${join(directory, `snapshot-vacuum-${run}.db`)}'`)));
  }
  machine.close();
  const worker = medianMeasured(workerRuns);
  const backup = medianMeasured(backupRuns);
  const vacuum = medianMeasured(vacuumRuns);
  console.log(`\nsnapshot of ${snapshotRowCount} rows, median of ${snapshotRunCount} alternating runs (~${Math.round((snapshotRowCount * 210) / 1e6)} MB): longest event-loop block (reads wait this long)`);
  console.log('| method | total ms | longest block ms |');
  console.log('| --- | ---: | ---: |');
  console.log(`| VACUUM INTO on a worker thread (snapshot(), used) | ${worker.totalMs.toFixed(0)} | ${worker.blockMs.toFixed(1)} |`);
  console.log(`| online backup() from the apply connection | ${backup.totalMs.toFixed(0)} | ${backup.blockMs.toFixed(1)} |`);
  console.log(`| VACUUM INTO on the main thread | ${vacuum.totalMs.toFixed(0)} | ${vacuum.blockMs.toFixed(1)} |`);
  console.log(`longest block relative to the worker: backup() ${(backup.blockMs / worker.blockMs).toFixed(1)}×, main-thread VACUUM INTO ${(vacuum.blockMs / worker.blockMs).toFixed(1)}×`);
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-bench-apply-'));
  try {
    console.log(`apply throughput: ${roundCount} alternating rounds of ${roundDurationMs} ms each, median; WAL, synchronous=NORMAL, foreign_keys=ON`);
    console.log(`raw: one transaction per entry; apply(): one per entry; applyBatch(): ${applyBatchEntryCount} entries per transaction`);
    console.log('| workload | raw entries/s | apply() entries/s | apply() overhead (raw/apply − 1) | applyBatch() entries/s | applyBatch() / raw |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const workload of workloads) {
      const rates = benchWorkload(directory, workload);
      const overhead = rates.raw / rates.machine - 1;
      console.log(`| ${workload.name} | ${rates.raw.toFixed(0)} | ${rates.machine.toFixed(0)} | ${(overhead * 100).toFixed(1)}% | ${rates.batched.toFixed(0)} | ${(rates.batched / rates.raw).toFixed(2)}× |`);
    }
    await benchSnapshots(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

await main();
