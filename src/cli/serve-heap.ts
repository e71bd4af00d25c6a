/**
 * The V8 heap setting a serving node runs with. Under sustained writes V8 lets the old
 * generation grow up to about four times what a full collection leaves live before it
 * collects again: most of that is garbage that outlived the young generation, and it was
 * the leader's largest variable share of memory (bench/README.md, "Memory").
 * `--heap-growing-percent=50` sets the next limit at 1.5 times the live size instead.
 * Measured on a 3-node cluster, 12,000 single-row writes from 64 clients, 6 interleaved
 * rounds: the leader's peak RSS 138-160 MiB (median 148) against 120-130 (median 129),
 * writes per second per round 0.91x-1.17x (median 1.04x: no cost visible).
 *
 * The flag is read each time V8 computes the next limit, so setting it at start-up
 * (`v8.setFlagsFromString`, before the node allocates its state) acts as the command-line
 * flag would. An operator who gives the flag (`node --heap-growing-percent=…` or
 * NODE_OPTIONS) keeps their own value.
 */
import { setFlagsFromString } from 'node:v8';

const heapGrowingPercent = 50;
const flagName = '--heap-growing-percent';

/** The flags to set for a serving node, none when the operator chose the heap growth themselves. */
export function serveHeapFlags(execArguments: readonly string[], nodeOptions: string | undefined): string[] {
  const given = [...execArguments, ...(nodeOptions ?? '').split(/\s+/)];
  if (given.some((argument) => argument.replaceAll('_', '-').startsWith(flagName))) return [];
  return [`${flagName}=${heapGrowingPercent}`];
}

export function tuneHeapForServe(): void {
  for (const flag of serveHeapFlags(process.execArgv, process.env.NODE_OPTIONS)) setFlagsFromString(flag);
}
