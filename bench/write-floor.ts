/**
 * How far quorumlite's writes are from what Node can do on this machine (issue 16): the
 * write floor (peers/write-floor.ts: three bare Node processes doing only a quorum's
 * fdatasynced append), quorumlite and etcd side by side, in interleaved rounds (the order
 * rotates every round), each system writing single rows from 1 client in sequence and
 * from 64 concurrent clients. Prints ops/s, p50 and CPU per write (all three processes,
 * /proc) per system, with the median of the per-round ratios. Build first.
 *
 * Two floors run: the bare one (no SQLite) and one whose three processes also apply each
 * write to SQLite (write-floor-node.ts, `--sqlite`). A third workload sends 100-row
 * batches from 1 client, with raw SQLite in this process (WAL, synchronous=FULL, 100 rows
 * per transaction, as bench:compare runs it) as its reference.
 *
 *   npm run bench:write-floor -- [--rounds N] [--seconds S] [--warm-up S]
 *
 * Before the rounds every system writes, unmeasured, for --warm-up seconds per workload
 * (default 5): Node compiles its hot paths only after they have run a while.
 *
 * Bounded: each round by time and operation count; every process is stopped by PID and
 * its directory removed on the way out, on failure too.
 */
import { findOnPath } from './lib/processes.js';
import { cpuPerOperationMs, measureRound, medianRatio, roundArgument, roundBounds, type MeasuredRound } from './lib/rounds.js';
import { benchKey, benchValue, keyBase, keysPerRound, summarise } from './lib/measure.js';
import { EtcdSystem } from './peers/etcd.js';
import { QuorumliteSystem } from './peers/quorumlite.js';
import { SqliteBench } from './peers/sqlite.js';
import { WriteFloor } from './peers/write-floor.js';

interface Contender {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  write(key: string, value: string): Promise<boolean>;
  readonly writeBatch?: ((rows: ReadonlyArray<readonly [string, string]>) => Promise<boolean>) | undefined;
  pids(): ReadonlyArray<number | undefined>;
  /** Only in the batch workload: the reference, not a replicated system. */
  readonly batchesOnly?: boolean;
}

interface Workload {
  readonly label: string;
  readonly clients: number;
  readonly keys: number;
  /** Rows per request: 1, or a batch. */
  readonly rows: number;
}

const batchRows = 100;

/** Raw SQLite in this process, as bench:compare measures it (peers/sqlite.ts): WAL, synchronous=FULL (an fsync per commit), one transaction per batch. */
class RawSqlite implements Contender {
  readonly name = 'sqlite';
  readonly batchesOnly = true;
  #bench: SqliteBench | undefined;

  start(): Promise<void> {
    this.#bench = new SqliteBench();
    return Promise.resolve();
  }

  write(key: string, value: string): Promise<boolean> {
    return this.writeBatch([[key, value]]);
  }

  readonly writeBatch = (rows: ReadonlyArray<readonly [string, string]>): Promise<boolean> => {
    if (this.#bench === undefined) throw new Error('raw SQLite is not started');
    this.#bench.insertBatch(rows);
    return Promise.resolve(true);
  };

  pids(): ReadonlyArray<number | undefined> {
    return [process.pid];
  }

  stop(): Promise<void> {
    this.#bench?.close();
    return Promise.resolve();
  }
}

const operationsPerRoundMax = 200_000;

function measure(contender: Contender, workload: Workload, firstKey: number, durationMs: number): Promise<MeasuredRound> {
  const writeBatch = contender.writeBatch;
  const operation =
    workload.rows === 1 || writeBatch === undefined
      ? (sequence: number) => contender.write(benchKey(firstKey + sequence), benchValue(sequence))
      : (sequence: number) => {
          const first = firstKey + sequence * workload.rows;
          return writeBatch(Array.from({ length: workload.rows }, (_, offset) => [benchKey(first + offset), benchValue(first + offset)] as const));
        };
  return measureRound(() => contender.pids(), operation, workload.clients, { operationCountMax: operationsPerRoundMax, durationMsMax: durationMs });
}

/** Who runs a workload: the batch workload needs writeBatch; the reference runs only there. */
function runs(contender: Contender, workload: Workload): boolean {
  return workload.rows === 1 ? contender.batchesOnly !== true : contender.writeBatch !== undefined;
}

async function main(): Promise<void> {
  const roundCount = roundArgument(process.argv, '--rounds', 6, roundBounds.roundCountMax);
  const seconds = roundArgument(process.argv, '--seconds', 2, roundBounds.secondsMax);
  const warmUpSeconds = roundArgument(process.argv, '--warm-up', 5, roundBounds.secondsMax);
  const etcdPath = findOnPath('etcd');
  const contenders: Contender[] = [new WriteFloor(), new WriteFloor({ sqlite: true }), new QuorumliteSystem()];
  if (etcdPath !== undefined) contenders.push(new EtcdSystem(etcdPath));
  contenders.push(new RawSqlite());
  const started: Contender[] = [];
  const workloads: Workload[] = [
    { label: '1 client, sequential', clients: 1, keys: keyBase.sequential, rows: 1 },
    { label: '64 clients', clients: 64, keys: keyBase.concurrent, rows: 1 },
    { label: `1 client, ${batchRows}-row batches`, clients: 1, keys: keyBase.batches, rows: batchRows },
  ];
  const results = new Map<string, MeasuredRound[]>();
  try {
    for (const contender of contenders) {
      await contender.start();
      started.push(contender);
      if ('prepare' in contender && typeof contender.prepare === 'function') await (contender.prepare as () => Promise<void>)();
    }
    // Not measured: every system writes for a while first (a JIT compiles its hot paths; connections open).
    for (const contender of contenders) {
      for (const workload of workloads) {
        if (runs(contender, workload))
          await measure(contender, workload, keyBase.warmUp + workload.clients * workload.rows * keysPerRound, warmUpSeconds * 1000);
      }
    }
    for (let round = 0; round < roundCount; round += 1) {
      for (const workload of workloads) {
        for (let turn = 0; turn < contenders.length; turn += 1) {
          const contender = contenders[(round + turn) % contenders.length] as Contender;
          if (!runs(contender, workload)) continue;
          const measured = await measure(contender, workload, workload.keys + round * workload.rows * keysPerRound, seconds * 1000);
          const key = `${workload.label}|${contender.name}`;
          results.set(key, [...(results.get(key) ?? []), measured]);
        }
      }
      process.stderr.write(`round ${round + 1} of ${roundCount} done\n`);
    }
  } finally {
    for (const contender of started) await contender.stop().catch(() => undefined);
  }
  const lines = [
    '| Workload | System | requests/s | rows/s | p50 ms | CPU ms per request (its processes) | ÷ floor | ÷ floor+sqlite | ÷ etcd | ÷ raw SQLite |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const workload of workloads) {
    const reference = (name: string): MeasuredRound[] => results.get(`${workload.label}|${name}`) ?? [];
    for (const contender of contenders) {
      if (!runs(contender, workload)) continue;
      const rounds = reference(contender.name);
      const summary = summarise(rounds.map((round) => round.samples));
      const cells = [
        workload.label,
        contender.name,
        summary.operationsPerSecond.toFixed(0),
        (summary.operationsPerSecond * workload.rows).toFixed(0),
        summary.p50Ms.toFixed(2),
        cpuPerOperationMs(rounds).toFixed(3),
      ];
      const ratios = ['write-floor', 'write-floor+sqlite', 'etcd', 'sqlite'].map((name) => medianRatio(rounds, reference(name)));
      lines.push(`| ${[...cells, ...ratios].join(' | ')} |`);
    }
  }
  console.log(lines.join('\n'));
}

await main();
