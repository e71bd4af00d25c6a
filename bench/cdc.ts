/**
 * The cost of change data capture on apply: the state machine applying the same entries
 * without capture, with capture into a sink that keeps nothing (the TEMP triggers and the
 * read after each entry), and with capture into the node's disk queue (cdc-queue.ts,
 * synchronous=FULL: one more fsync per batch). As the node applies: applyBatch() of
 * applyBatchEntryCount entries. Each round runs every side for roundDurationMs in a
 * rotating order; a side's ratio to "off" is taken within its round (load drifts between
 * rounds) and the table shows medians. Bounded: roundCount × sides × workloads × roundDurationMs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CdcQueue } from '../src/node/cdc-queue.js';
import { ChangeCapture } from '../src/state-machine/change-capture.js';
import { encodeCommand } from '../src/state-machine/command-codec.js';
import { SqliteStateMachine } from '../src/state-machine/state-machine.js';
import type { Statement } from '../src/state-machine/types.js';
import { median } from './lib/measure.js';

process.env['TZ'] = 'UTC';
const roundCount = Number(process.env['BENCH_CDC_ROUNDS'] ?? 9);
const roundDurationMs = 200;
const applyBatchEntryCount = 32;
const encodedEntryCount = 1024;
const sideNames = ['off', 'capture', 'capture + disk queue'] as const;
type SideName = (typeof sideNames)[number];

const workloads = [
  { name: 'single-row INSERT entries', rowsPerEntry: 1 },
  { name: '20-row INSERT entries', rowsPerEntry: 20 },
] as const;

function encodedEntries(rowsPerEntry: number): Uint8Array[] {
  return Array.from({ length: encodedEntryCount }, (_, entry) => {
    const statements: Statement[] = Array.from({ length: rowsPerEntry }, (_, row) => ({
      sql: 'INSERT INTO t(v, n) VALUES (?, ?)',
      positional: [`value-${entry}-${row}`, entry],
      named: {},
    }));
    return encodeCommand({ statements, transaction: false, timestampMs: 1_700_000_000_000 + entry, seed: BigInt(entry) });
  });
}

interface Side {
  readonly machine: SqliteStateMachine;
  nextIndex: number;
  readonly close: () => void;
}

function openSide(name: SideName, directory: string): Side {
  const queue = name === 'capture + disk queue' ? new CdcQueue({ path: join(directory, 'queue.sqlite'), entryCountMax: 10_000_000 }) : undefined;
  const sink = queue ?? { record: () => undefined };
  const capture = name === 'off' ? undefined : new ChangeCapture({ tableFilter: undefined, rowIdsOnly: false, entryChangeCountMax: 100_000 }, sink);
  const machine = new SqliteStateMachine({ path: join(directory, 'db.sqlite'), ...(capture === undefined ? {} : { changeCapture: capture }) });
  machine.apply(
    1,
    encodeCommand({
      statements: [{ sql: 'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, n INTEGER)', positional: [], named: {} }],
      transaction: false,
      timestampMs: 1,
      seed: 1n,
    }),
  );
  return {
    machine,
    nextIndex: 2,
    close: () => {
      machine.close();
      queue?.close();
    },
  };
}

/** Entries applied per second by `side` for one round. */
function runRound(side: Side, entries: readonly Uint8Array[]): number {
  const startMs = performance.now();
  let applied = 0;
  while (performance.now() - startMs < roundDurationMs) {
    const batch = Array.from({ length: applyBatchEntryCount }, (_, offset) => ({
      index: side.nextIndex + offset,
      data: entries[(side.nextIndex + offset) % entries.length] as Uint8Array,
    }));
    side.machine.applyBatch(batch);
    side.nextIndex += applyBatchEntryCount;
    applied += applyBatchEntryCount;
  }
  return applied / ((performance.now() - startMs) / 1000);
}

function main(): void {
  console.log(`# CDC cost on apply: applyBatch of ${applyBatchEntryCount} entries; ${roundCount} rounds of ${roundDurationMs} ms per side, rotating order`);
  for (const workload of workloads) {
    const entries = encodedEntries(workload.rowsPerEntry);
    const root = mkdtempSync(join(tmpdir(), 'quorumlite-bench-cdc-'));
    const sides = new Map(sideNames.map((name, position) => [name, openSide(name, mkdtempSync(join(root, `side-${position}-`)))]));
    const rates = new Map<SideName, number[]>(sideNames.map((name) => [name, []]));
    const ratios = new Map<SideName, number[]>(sideNames.map((name) => [name, []]));
    try {
      for (let round = 0; round < roundCount; round++) {
        const order = sideNames.map((_, position) => sideNames[(position + round) % sideNames.length] as SideName);
        const roundRates = new Map(order.map((name) => [name, runRound(sides.get(name) as Side, entries)]));
        for (const name of sideNames) {
          rates.get(name)?.push(roundRates.get(name) as number);
          ratios.get(name)?.push((roundRates.get(name) as number) / (roundRates.get('off') as number));
        }
      }
    } finally {
      for (const side of sides.values()) side.close();
      rmSync(root, { recursive: true, force: true });
    }
    console.log(`\n## ${workload.name}\n\n| side | entries/s (median) | ratio to off (median of rounds) |\n| --- | --- | --- |`);
    for (const name of sideNames) {
      console.log(`| ${name} | ${Math.round(median(rates.get(name) ?? []))} | ${median(ratios.get(name) ?? []).toFixed(2)} |`);
    }
  }
}

main();
