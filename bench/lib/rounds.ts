/**
 * Interleaved rounds for the floor benchmarks (bench/write-floor.ts, bench/read-floor.ts):
 * their command-line bounds, one round measured with the CPU its processes spent, and the
 * figures a report takes from the rounds.
 */
import { collectLoad, median, type LoadSamples } from './measure.js';
import { readCpuSeconds } from './processes.js';

/** Rounds, seconds per round and warm-up seconds: each a whole number from 1 to its bound. */
export const roundBounds = { roundCountMax: 50, secondsMax: 60 } as const;

export interface MeasuredRound {
  readonly samples: LoadSamples;
  /** CPU the system's processes spent during the round (/proc), summed. */
  readonly cpuSeconds: number;
}

/** `--name N` from the command line, `fallback` when absent; anything but a whole number from `min` (1 unless given) to `max` is refused. */
export function roundArgument(argv: readonly string[], name: string, fallback: number, max: number, min = 1): number {
  const position = argv.indexOf(name);
  if (position < 0) return fallback;
  const value = Number(argv[position + 1]);
  if (!(Number.isInteger(value) && value >= min && value <= max)) throw new Error(`${name}: a whole number from ${min} to ${max}`);
  return value;
}

function cpuSecondsOf(pids: ReadonlyArray<number | undefined>): number {
  return pids.reduce<number>((total, pid) => total + (pid === undefined ? 0 : (readCpuSeconds(pid) ?? 0)), 0);
}

/** One round of `operation` from `clientCount` clients, bounded in count and time, with the CPU of `pids` over it. */
export async function measureRound(
  pids: () => ReadonlyArray<number | undefined>,
  operation: (sequence: number) => Promise<boolean>,
  clientCount: number,
  bounds: { readonly operationCountMax: number; readonly durationMsMax: number },
): Promise<MeasuredRound> {
  const cpuBefore = cpuSecondsOf(pids());
  const samples = await collectLoad(operation, clientCount, bounds);
  return { samples, cpuSeconds: cpuSecondsOf(pids()) - cpuBefore };
}

function rate(round: MeasuredRound): number {
  return round.samples.elapsedMs > 0 ? (round.samples.latenciesMs.length * 1000) / round.samples.elapsedMs : 0;
}

/** CPU milliseconds per acknowledged operation over `rounds`. */
export function cpuPerOperationMs(rounds: readonly MeasuredRound[]): number {
  const operations = rounds.reduce((total, round) => total + round.samples.latenciesMs.length, 0);
  return operations > 0 ? (rounds.reduce((total, round) => total + round.cpuSeconds, 0) * 1000) / operations : Number.NaN;
}

/** The median of the per-round rate ratios (`1.23x`), '' unless both ran the same rounds. */
export function medianRatio(rounds: readonly MeasuredRound[], others: readonly MeasuredRound[]): string {
  if (others.length !== rounds.length || rounds.length === 0) return '';
  return `${median(rounds.map((round, index) => rate(round) / rate(others[index] as MeasuredRound))).toFixed(2)}x`;
}
