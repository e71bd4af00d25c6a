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
import { benchKey, benchValue, summarise } from './lib/measure.js';
import { findOnPath } from './lib/processes.js';
import { cpuPerOperationMs, measureRound, medianRatio, roundArgument, roundBounds, type MeasuredRound } from './lib/rounds.js';
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

const readsPerRoundMax = 200_000;
const keyCount = 500;

function measure(reader: Reader, durationMs: number): Promise<MeasuredRound> {
  return measureRound(
    () => reader.pids(),
    (sequence) => reader.read(benchKey(1 + (sequence % keyCount))),
    1,
    {
      operationCountMax: readsPerRoundMax,
      durationMsMax: durationMs,
    },
  );
}

async function main(): Promise<void> {
  const roundCount = roundArgument(process.argv, '--rounds', 6, roundBounds.roundCountMax);
  const seconds = roundArgument(process.argv, '--seconds', 2, roundBounds.secondsMax);
  const warmUpSeconds = roundArgument(process.argv, '--warm-up', 5, roundBounds.secondsMax);
  const etcdPath = findOnPath('etcd');
  const floor = new HttpFloor();
  const quorumlite = new QuorumliteSystem();
  const etcd = etcdPath === undefined ? undefined : new EtcdSystem(etcdPath);
  const started: { stop(): Promise<void> }[] = [];
  const readers: Reader[] = [];
  const results = new Map<string, MeasuredRound[]>();
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
    const reference = (system: string): MeasuredRound[] => results.get(`${kind}|${system}`) ?? [];
    for (const reader of readers.filter((candidate) => candidate.kind === kind)) {
      const rounds = reference(reader.system);
      const summary = summarise(rounds.map((round) => round.samples));
      const cells = [
        kind,
        `${reader.system} (${reader.label})`,
        summary.operationsPerSecond.toFixed(0),
        summary.p50Ms.toFixed(2),
        cpuPerOperationMs(rounds).toFixed(3),
      ];
      lines.push(`| ${[...cells, medianRatio(rounds, reference('http-floor')), medianRatio(rounds, reference('etcd'))].join(' | ')} |`);
    }
  }
  console.log(lines.join('\n'));
}

await main();
