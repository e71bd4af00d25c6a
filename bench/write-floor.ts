/**
 * How far quorumlite's writes are from what Node can do on this machine (issue 16): the
 * write floor (peers/write-floor.ts: three bare Node processes doing only a quorum's
 * fdatasynced append), quorumlite and etcd side by side, in interleaved rounds (the order
 * rotates every round), each system writing single rows from 1 client in sequence and
 * from 64 concurrent clients. Prints ops/s, p50 and CPU per write (all three processes,
 * /proc) per system, with the median of the per-round ratios. Build first.
 *
 *   node --import tsx bench/write-floor.ts [--rounds N] [--seconds S] [--warm-up S]
 *
 * Before the rounds every system writes, unmeasured, for --warm-up seconds per workload
 * (default 5): Node compiles its hot paths only after they have run a while.
 *
 * Bounded: each round by time and operation count; every process is stopped by PID and
 * its directory removed on the way out, on failure too.
 */
import { findOnPath, readCpuSeconds } from './lib/processes.js';
import { benchKey, benchValue, collectLoad, keyBase, keysPerRound, median, summarise, type LoadSamples } from './lib/measure.js';
import { EtcdSystem } from './peers/etcd.js';
import { QuorumliteSystem } from './peers/quorumlite.js';
import { WriteFloor } from './peers/write-floor.js';

interface Contender {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  write(key: string, value: string): Promise<boolean>;
  pids(): ReadonlyArray<number | undefined>;
}

interface Round {
  readonly samples: LoadSamples;
  readonly cpuSeconds: number;
}

const operationsPerRoundMax = 200_000;
const roundCountMax = 50;
const secondsMax = 60;

function argument(name: string, fallback: number, max: number): number {
  const position = process.argv.indexOf(name);
  if (position < 0) return fallback;
  const value = Number(process.argv[position + 1]);
  if (!(Number.isInteger(value) && value >= 1 && value <= max)) throw new Error(`${name}: a whole number from 1 to ${max}`);
  return value;
}

function cpuSeconds(contender: Contender): number {
  return contender.pids().reduce<number>((total, pid) => total + (pid === undefined ? 0 : (readCpuSeconds(pid) ?? 0)), 0);
}

async function measure(contender: Contender, clientCount: number, firstKey: number, durationMs: number): Promise<Round> {
  const cpuBefore = cpuSeconds(contender);
  const samples = await collectLoad((sequence) => contender.write(benchKey(firstKey + sequence), benchValue(sequence)), clientCount, {
    operationCountMax: operationsPerRoundMax,
    durationMsMax: durationMs,
  });
  return { samples, cpuSeconds: cpuSeconds(contender) - cpuBefore };
}

function rate(round: Round): number {
  return round.samples.elapsedMs > 0 ? (round.samples.latenciesMs.length * 1000) / round.samples.elapsedMs : 0;
}

function cpuPerWriteMs(rounds: readonly Round[]): number {
  const writes = rounds.reduce((total, round) => total + round.samples.latenciesMs.length, 0);
  return writes > 0 ? (rounds.reduce((total, round) => total + round.cpuSeconds, 0) * 1000) / writes : Number.NaN;
}

async function main(): Promise<void> {
  const roundCount = argument('--rounds', 6, roundCountMax);
  const seconds = argument('--seconds', 2, secondsMax);
  const warmUpSeconds = argument('--warm-up', 5, secondsMax);
  const etcdPath = findOnPath('etcd');
  const contenders: Contender[] = [new WriteFloor(), new QuorumliteSystem()];
  if (etcdPath !== undefined) contenders.push(new EtcdSystem(etcdPath));
  const started: Contender[] = [];
  const workloads = [
    { label: '1 client, sequential', clients: 1, keys: keyBase.sequential },
    { label: '64 clients', clients: 64, keys: keyBase.concurrent },
  ];
  const results = new Map<string, Round[]>();
  try {
    for (const contender of contenders) {
      await contender.start();
      started.push(contender);
      if ('prepare' in contender && typeof contender.prepare === 'function') await (contender.prepare as () => Promise<void>)();
    }
    // Not measured: every system writes for a while first (a JIT compiles its hot paths; connections open).
    for (const contender of contenders) {
      for (const workload of workloads) await measure(contender, workload.clients, keyBase.warmUp + workload.clients * keysPerRound, warmUpSeconds * 1000);
    }
    for (let round = 0; round < roundCount; round += 1) {
      for (const workload of workloads) {
        for (let turn = 0; turn < contenders.length; turn += 1) {
          const contender = contenders[(round + turn) % contenders.length] as Contender;
          const measured = await measure(contender, workload.clients, workload.keys + round * keysPerRound, seconds * 1000);
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
    '| Workload | System | ops/s | p50 ms | CPU ms per write (3 processes) | ops/s ÷ floor (median of rounds) | ops/s ÷ etcd |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const workload of workloads) {
    const floor = results.get(`${workload.label}|write-floor`) ?? [];
    const etcd = results.get(`${workload.label}|etcd`) ?? [];
    for (const contender of contenders) {
      const rounds = results.get(`${workload.label}|${contender.name}`) ?? [];
      const summary = summarise(rounds.map((round) => round.samples));
      const ratio = (others: readonly Round[]) =>
        others.length === rounds.length ? `${median(rounds.map((round, index) => rate(round) / rate(others[index] as Round))).toFixed(2)}x` : '';
      const cells = [workload.label, contender.name, summary.operationsPerSecond.toFixed(0), summary.p50Ms.toFixed(2), cpuPerWriteMs(rounds).toFixed(3)];
      lines.push(`| ${[...cells, ratio(floor), ratio(etcd)].join(' | ')} |`);
    }
  }
  console.log(lines.join('\n'));
}

await main();
