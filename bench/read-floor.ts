/**
 * How far quorumlite's point reads are from what Node can do on this machine (issue 16):
 * the http floor (peers/http-floor.ts: bare `node:http` answering a point read's JSON, and
 * for a linearizable read the one TCP round trip to a quorum it needs), quorumlite and
 * etcd side by side, one client, in interleaved rounds (the order rotates every round).
 * Prints reads/s, p50 and the CPU per read of the system's processes, with the median of
 * the per-round ratios to the floor at the same level and to etcd. Build first.
 *
 *   npm run bench:read-floor -- [--rounds N] [--seconds S] [--warm-up S]
 *
 * Bounded: each round by time and read count; every process is stopped by PID and its
 * directory removed on the way out, on failure too.
 */
import { findOnPath, readCpuSeconds } from './lib/processes.js';
import { benchKey, benchValue, collectLoad, median, summarise, type LoadSamples } from './lib/measure.js';
import { EtcdSystem } from './peers/etcd.js';
import { HttpFloor } from './peers/http-floor.js';
import { QuorumliteSystem } from './peers/quorumlite.js';
import type { ReadKind } from './peers/system.js';

interface Reader {
  readonly system: string;
  readonly kind: ReadKind;
  readonly label: string;
  read(key: string): Promise<boolean>;
  pids(): ReadonlyArray<number | undefined>;
}

interface Round {
  readonly samples: LoadSamples;
  readonly cpuSeconds: number;
}

const readsPerRoundMax = 200_000;
const roundCountMax = 50;
const secondsMax = 60;
const keyCount = 500;

function argument(name: string, fallback: number, max: number): number {
  const position = process.argv.indexOf(name);
  if (position < 0) return fallback;
  const value = Number(process.argv[position + 1]);
  if (!(Number.isInteger(value) && value >= 1 && value <= max)) throw new Error(`${name}: a whole number from 1 to ${max}`);
  return value;
}

function cpuSeconds(reader: Reader): number {
  return reader.pids().reduce<number>((total, pid) => total + (pid === undefined ? 0 : (readCpuSeconds(pid) ?? 0)), 0);
}

async function measure(reader: Reader, durationMs: number): Promise<Round> {
  const cpuBefore = cpuSeconds(reader);
  const samples = await collectLoad((sequence) => reader.read(benchKey(1 + (sequence % keyCount))), 1, {
    operationCountMax: readsPerRoundMax,
    durationMsMax: durationMs,
  });
  return { samples, cpuSeconds: cpuSeconds(reader) - cpuBefore };
}

function rate(round: Round): number {
  return round.samples.elapsedMs > 0 ? (round.samples.latenciesMs.length * 1000) / round.samples.elapsedMs : 0;
}

function cpuPerReadMs(rounds: readonly Round[]): number {
  const reads = rounds.reduce((total, round) => total + round.samples.latenciesMs.length, 0);
  return reads > 0 ? (rounds.reduce((total, round) => total + round.cpuSeconds, 0) * 1000) / reads : Number.NaN;
}

async function main(): Promise<void> {
  const roundCount = argument('--rounds', 6, roundCountMax);
  const seconds = argument('--seconds', 2, secondsMax);
  const warmUpSeconds = argument('--warm-up', 5, secondsMax);
  const etcdPath = findOnPath('etcd');
  const floor = new HttpFloor();
  const quorumlite = new QuorumliteSystem();
  const etcd = etcdPath === undefined ? undefined : new EtcdSystem(etcdPath);
  const started: { stop(): Promise<void> }[] = [];
  const readers: Reader[] = [];
  const results = new Map<string, Round[]>();
  const kinds: readonly ReadKind[] = ['fast', 'linearizable'];
  try {
    await floor.start();
    started.push(floor);
    for (const kind of kinds) {
      const level = kind === 'fast' ? 'none' : 'linearizable';
      readers.push({ system: 'http-floor', kind, label: level, read: (key) => floor.readAt(0, key, level), pids: () => floor.pids() });
    }
    for (const system of etcd === undefined ? [quorumlite] : [quorumlite, etcd]) {
      await system.start();
      started.push(system);
      await system.prepare();
      for (let key = 1; key <= keyCount; key += 1) {
        if (!(await system.write(benchKey(key), benchValue(key)))) throw new Error(`${system.name}: writing key ${key} failed`);
      }
      for (const mode of system.readModes) {
        if (kinds.includes(mode.kind))
          readers.push({ system: system.name, kind: mode.kind, label: mode.label, read: (key) => mode.read(key), pids: () => system.pids() });
      }
    }
    // Not measured: every reader reads for a while first (a JIT compiles its hot paths; connections open).
    for (const reader of readers) await measure(reader, warmUpSeconds * 1000);
    for (let round = 0; round < roundCount; round += 1) {
      for (const kind of kinds) {
        const turns = readers.filter((reader) => reader.kind === kind);
        for (let turn = 0; turn < turns.length; turn += 1) {
          const reader = turns[(round + turn) % turns.length] as Reader;
          const key = `${kind}|${reader.system}`;
          results.set(key, [...(results.get(key) ?? []), await measure(reader, seconds * 1000)]);
        }
      }
      process.stderr.write(`round ${round + 1} of ${roundCount} done\n`);
    }
  } finally {
    for (const system of started.reverse()) await system.stop().catch(() => undefined);
  }
  const lines = [
    '| Read | System (level) | reads/s | p50 ms | CPU ms per read (its processes) | ÷ floor, same level (median of rounds) | ÷ etcd, same level |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const kind of kinds) {
    const reference = (system: string): Round[] => results.get(`${kind}|${system}`) ?? [];
    for (const reader of readers.filter((candidate) => candidate.kind === kind)) {
      const rounds = reference(reader.system);
      const summary = summarise(rounds.map((round) => round.samples));
      const ratio = (others: readonly Round[]) =>
        others.length === rounds.length && rounds.length > 0
          ? `${median(rounds.map((round, index) => rate(round) / rate(others[index] as Round))).toFixed(2)}x`
          : '';
      const cells = [
        kind,
        `${reader.system} (${reader.label})`,
        summary.operationsPerSecond.toFixed(0),
        summary.p50Ms.toFixed(2),
        cpuPerReadMs(rounds).toFixed(3),
      ];
      lines.push(`| ${[...cells, ratio(reference('http-floor')), ratio(reference('etcd'))].join(' | ')} |`);
    }
  }
  console.log(lines.join('\n'));
}

await main();
