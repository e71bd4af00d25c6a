/**
 * Apply throughput: the state machine applying encoded entries, next to raw
 * better-sqlite3 doing the same inserts with the same pragmas, in the same process. Each
 * round runs every side once for roundDurationMs, in a rotating order (so no side always
 * follows the same neighbour); a side's ratio to raw is taken within each round (the
 * machine is shared, so load drifts between rounds) and the table shows medians.
 * Sides: raw (one transaction per entry), raw + the applied-index row (the floor of any
 * exactly-once state machine that commits per entry: one more table row, so one more
 * WAL page per commit), apply(), and applyBatch() (applyBatchEntryCount entries per
 * transaction). Then the snapshot methods: how long each blocks the event loop.
 * Bounded: roundCount × sides × workloads × roundDurationMs, plus the snapshot section.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { encodeCommand } from '../src/state-machine/command-codec.js';
import { SqliteStateMachine } from '../src/state-machine/state-machine.js';
import type { Statement } from '../src/state-machine/types.js';
import { median } from './lib/measure.js';

process.env['TZ'] = 'UTC';
const roundCount = Number(process.env['BENCH_APPLY_ROUNDS'] ?? 15);
const roundDurationMs = 200;
const entryCountPerRoundMax = 1_000_000;
const batchRowCount = 100;
/** Committed entries the runtime hands over at once (one Ready); applyBatch commits them together. */
const applyBatchEntryCount = 32;
/** Distinct encoded entries, reused round-robin (the leader encodes at propose; apply includes decoding). */
const encodedEntryCount = 4096;
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

const createSql = 'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)';
const insertSql = 'INSERT INTO t(v, n) VALUES (?, ?)';

function entryStatements(entryIndex: number, rowsPerEntry: number): Statement[] {
  return Array.from({ length: rowsPerEntry }, (_, row) => ({ sql: insertSql, positional: [`value-${entryIndex}-${row}`, entryIndex], named: {} }));
}

/** One side of the comparison: applies `count` entries from `firstEntry` on each call. */
interface Side {
  readonly name: string;
  /** Entries one step applies (applyBatch applies many per call). */
  readonly entriesPerStep: number;
  step(firstEntry: number): void;
  close(): void;
}

/** Runs `side` for roundDurationMs; returns entries per wall-clock second, process CPU µs per entry, and the next entry number. */
function measure(side: Side, firstEntry: number): { entriesPerSecond: number; cpuMicrosecondsPerEntry: number; nextEntry: number } {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  let entry = firstEntry;
  while (performance.now() - start < roundDurationMs && entry - firstEntry < entryCountPerRoundMax) {
    side.step(entry);
    entry += side.entriesPerStep;
  }
  const elapsedMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const entryCount = entry - firstEntry;
  return { entriesPerSecond: (entryCount * 1000) / elapsedMs, cpuMicrosecondsPerEntry: (cpu.user + cpu.system) / entryCount, nextEntry: entry };
}

function openRaw(path: string): Database.Database {
  const database = new Database(path);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('foreign_keys = ON');
  database.exec(createSql);
  return database;
}

function rawSide(path: string, workload: Workload, withIndexRow: boolean): Side {
  const raw = openRaw(path);
  const insert = raw.prepare(insertSql);
  raw.exec('CREATE TABLE applied(id INTEGER PRIMARY KEY, applied_index INTEGER NOT NULL)');
  const writeIndex = raw.prepare('INSERT OR REPLACE INTO applied(id, applied_index) VALUES (1, ?)');
  const entry = raw.transaction((entryIndex: number) => {
    if (withIndexRow) writeIndex.run(entryIndex);
    for (let row = 0; row < workload.rowsPerEntry; row++) insert.run(`value-${entryIndex}-${row}`, entryIndex);
  });
  return { name: withIndexRow ? 'raw + index row' : 'raw', entriesPerStep: 1, step: (entryIndex) => entry(entryIndex), close: () => raw.close() };
}

function machineFor(path: string): SqliteStateMachine {
  const machine = new SqliteStateMachine({ path });
  machine.apply(1, encodeCommand({ statements: [{ sql: createSql, positional: [], named: {} }], transaction: false, timestampMs: 0, seed: 0n }));
  return machine;
}

function applySide(path: string, encoded: readonly Uint8Array[]): Side {
  const machine = machineFor(path);
  // Entry 1 created the table: the side's entry n is the machine's entry n + 1.
  return {
    name: 'apply()',
    entriesPerStep: 1,
    step: (entry) => machine.apply(entry + 1, encoded[entry % encodedEntryCount] as Uint8Array),
    close: () => machine.close(),
  };
}

function applyBatchSide(path: string, encoded: readonly Uint8Array[]): Side {
  const machine = machineFor(path);
  return {
    name: 'applyBatch()',
    entriesPerStep: applyBatchEntryCount,
    step: (first) => {
      machine.applyBatch(
        Array.from({ length: applyBatchEntryCount }, (_, position) => ({
          index: first + position + 1,
          data: encoded[(first + position) % encodedEntryCount] as Uint8Array,
        })),
      );
    },
    close: () => machine.close(),
  };
}

interface WorkloadResult {
  /** Median entries per wall-clock second, by side name. */
  readonly rates: ReadonlyMap<string, number>;
  /** Median over rounds of (raw entries/s ÷ side entries/s − 1), wall clock, by side name. */
  readonly wallOverhead: ReadonlyMap<string, number>;
  /** Median over rounds of (side CPU per entry ÷ raw CPU per entry − 1), by side name. */
  readonly cpuOverhead: ReadonlyMap<string, number>;
}

function benchWorkload(directory: string, workload: Workload): WorkloadResult {
  const encoded = Array.from({ length: encodedEntryCount }, (_, position) =>
    encodeCommand({
      statements: entryStatements(position, workload.rowsPerEntry),
      transaction: true,
      timestampMs: 1_700_000_000_000 + position,
      seed: BigInt(position),
    }),
  );
  const file = (name: string): string => join(directory, `${name}-${workload.rowsPerEntry}.sqlite`);
  const sides = [
    rawSide(file('raw'), workload, false),
    rawSide(file('raw-index'), workload, true),
    applySide(file('apply'), encoded),
    applyBatchSide(file('batch'), encoded),
  ];
  const nextEntry = sides.map(() => 1);
  const rates = sides.map((): number[] => []);
  const wallOverheads = sides.map((): number[] => []);
  const cpuOverheads = sides.map((): number[] => []);
  try {
    for (let round = 0; round < roundCount; round++) {
      const roundResults = sides.map(() => ({ entriesPerSecond: 0, cpuMicrosecondsPerEntry: 0 }));
      for (let turn = 0; turn < sides.length; turn++) {
        const position = (round + turn) % sides.length;
        const result = measure(sides[position] as Side, nextEntry[position] as number);
        nextEntry[position] = result.nextEntry;
        roundResults[position] = result;
      }
      const raw = roundResults[0] as { entriesPerSecond: number; cpuMicrosecondsPerEntry: number };
      roundResults.forEach((result, position) => {
        rates[position]?.push(result.entriesPerSecond);
        wallOverheads[position]?.push(raw.entriesPerSecond / result.entriesPerSecond - 1);
        cpuOverheads[position]?.push(result.cpuMicrosecondsPerEntry / raw.cpuMicrosecondsPerEntry - 1);
      });
    }
  } finally {
    for (const side of sides) side.close();
  }
  const bySide = (values: number[][]): Map<string, number> => new Map(sides.map((side, position) => [side.name, median(values[position] as number[])]));
  return { rates: bySide(rates), wallOverhead: bySide(wallOverheads), cpuOverhead: bySide(cpuOverheads) };
}

function percent(fraction: number | undefined): string {
  return `${((fraction ?? Number.NaN) * 100).toFixed(1)}%`;
}

function printThroughput(directory: string): void {
  console.log(
    `apply throughput: ${roundCount} rounds, each side ${roundDurationMs} ms per round in rotating order; medians; WAL, synchronous=NORMAL, foreign_keys=ON`,
  );
  const rawSides = 'raw: one transaction per entry; raw + index row: also writes an applied-index row (the floor for exactly-once per-entry commits)';
  console.log(`${rawSides}; apply(): one per entry; applyBatch(): ${applyBatchEntryCount} entries per transaction`);
  console.log(
    'overhead vs raw, per round then median: CPU = side CPU µs per entry ÷ raw − 1 (robust on a shared machine); ' +
      'wall = raw entries/s ÷ side entries/s − 1',
  );
  const sides = ['raw + index row', 'apply()', 'applyBatch()'];
  const header = ['workload', 'raw entries/s', ...sides.map((side) => `${side} entries/s`), ...sides.map((side) => `${side} overhead CPU / wall`)];
  console.log(markdownRow(header));
  console.log(markdownRow(['---', ...header.slice(1).map(() => '---:')]));
  for (const workload of workloads) {
    const { rates, wallOverhead, cpuOverhead } = benchWorkload(directory, workload);
    const rate = (name: string): string => (rates.get(name) ?? 0).toFixed(0);
    const overhead = (name: string): string => `${percent(cpuOverhead.get(name))} / ${percent(wallOverhead.get(name))}`;
    console.log(markdownRow([workload.name, rate('raw'), ...sides.map(rate), ...sides.map(overhead)]));
  }
}

function markdownRow(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
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

/**
 * The snapshot method before the worker thread, for comparison: online backup() on the
 * main thread, then the copy sealed as a rollback-journal database (as snapshot() leaves it).
 */
async function snapshotWithBackupApi(source: Database.Database, toPath: string): Promise<void> {
  await source.backup(toPath);
  const copy = new Database(toPath, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

async function benchSnapshots(directory: string): Promise<void> {
  const machine = new SqliteStateMachine({ path: join(directory, 'snapshot-source.sqlite') });
  const statements: Statement[] = [
    { sql: 'CREATE TABLE s(id INTEGER PRIMARY KEY, v TEXT)', positional: [], named: {} },
    {
      sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${snapshotRowCount}) INSERT INTO s(v) SELECT printf('%.200c', 'x') FROM n`,
      positional: [],
      named: {},
    },
  ];
  machine.apply(1, encodeCommand({ statements, transaction: true, timestampMs: 0, seed: 0n }));
  const workerRuns: Measured[] = [];
  const backupRuns: Measured[] = [];
  const vacuumRuns: Measured[] = [];
  // The two main-thread methods read through a connection of the benchmark's own, as a node's read connection would.
  const reader = new Database(machine.path, { readonly: true });
  for (let run = 0; run < snapshotRunCount; run++) {
    workerRuns.push(await longestLoopBlockMs(() => machine.snapshot(join(directory, `snapshot-worker-${run}.db`))));
    backupRuns.push(await longestLoopBlockMs(() => snapshotWithBackupApi(reader, join(directory, `snapshot-backup-${run}.db`))));
    vacuumRuns.push(await longestLoopBlockMs(async () => reader.exec(`VACUUM INTO '${join(directory, `snapshot-vacuum-${run}.db`)}'`)));
  }
  reader.close();
  machine.close();
  const worker = medianMeasured(workerRuns);
  const backup = medianMeasured(backupRuns);
  const vacuum = medianMeasured(vacuumRuns);
  const snapshotMegabytes = Math.round((snapshotRowCount * 210) / 1e6);
  const runs = `median of ${snapshotRunCount} alternating runs (~${snapshotMegabytes} MB)`;
  console.log(`\nsnapshot of ${snapshotRowCount} rows, ${runs}: longest event-loop block (reads wait this long)`);
  console.log('| method | total ms | longest block ms |');
  console.log('| --- | ---: | ---: |');
  console.log(`| VACUUM INTO on a worker thread (snapshot(), used) | ${worker.totalMs.toFixed(0)} | ${worker.blockMs.toFixed(1)} |`);
  console.log(`| online backup() on the main thread | ${backup.totalMs.toFixed(0)} | ${backup.blockMs.toFixed(1)} |`);
  console.log(`| VACUUM INTO on the main thread | ${vacuum.totalMs.toFixed(0)} | ${vacuum.blockMs.toFixed(1)} |`);
  const relative = (measured: Measured): string => `${(measured.blockMs / worker.blockMs).toFixed(1)}×`;
  console.log(`longest block relative to the worker: backup() ${relative(backup)}, main-thread VACUUM INTO ${relative(vacuum)}`);
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-bench-apply-'));
  try {
    printThroughput(directory);
    if (process.env['BENCH_APPLY_SKIP_SNAPSHOT'] !== '1') await benchSnapshots(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

await main();
