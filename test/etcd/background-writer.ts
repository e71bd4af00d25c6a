/**
 * A writer in the background for the etcd-log tests: rows `label n` into fruit(name), one
 * at a time through the running nodes in turn, until stopped (or attemptCountMax attempts).
 * Each acknowledged write is recorded with the time its answer came, so a test can check
 * that none was lost (etcd-failover.test.ts) or measure the longest stretch without one
 * while a fault lasts (writeThroughFault: etcd-member-pause.test.ts and
 * test/jepsen/etcd-partition-scenarios.test.ts).
 */
import { type HttpAnswer, sleep, type TestCluster, type TestNode } from '../cluster/harness.js';
import type { EtcdCluster } from './etcd-cluster.js';

/** Bound on the writer's loop, in attempts: far more than a test's few seconds of writing take. */
const attemptCountMax = 2000;
/** The default server-side bound on each write (`?timeout=`): a write through a node cut off from etcd fails instead of waiting. */
const writeTimeoutMsDefault = 2_000;
/** The pause after a write: after every one at a steady pace, after a failed one otherwise. */
const pauseMs = 100;

export interface AcknowledgedWrite {
  /** The row written, `label n`. */
  readonly row: string;
  /** When its answer came (performance.now()). */
  readonly atMs: number;
}

export interface BackgroundWriterOptions {
  /**
   * 'steady' (the default): a pause after every write, a rate to measure gaps against;
   * 'flat-out': the next write as soon as one is answered, a pause only after a failure.
   */
  readonly pace?: 'steady' | 'flat-out';
  /** The server-side bound on each write (`?timeout=`); 'none': only the harness's HTTP bound. Default writeTimeoutMsDefault. */
  readonly writeTimeoutMs?: number | 'none';
}

/** Answered 200 with no error: the write is acknowledged. */
function acknowledged(answer: HttpAnswer): boolean {
  const body = answer.body as { error?: unknown; results?: { error?: unknown }[] } | undefined;
  return answer.status === 200 && body?.error === undefined && body?.results?.[0]?.error === undefined;
}

/** Starts the writer; `stop()` ends it after the write in flight and returns the acknowledged writes, in order. */
export function writeInBackground(cluster: TestCluster, label: string, options: BackgroundWriterOptions = {}): { stop: () => Promise<AcknowledgedWrite[]> } {
  const steady = (options.pace ?? 'steady') === 'steady';
  const writeTimeoutMs = options.writeTimeoutMs ?? writeTimeoutMsDefault;
  const query = writeTimeoutMs === 'none' ? '' : `?timeout=${writeTimeoutMs}ms`;
  const writes: AcknowledgedWrite[] = [];
  let stopped = false;
  const done = (async () => {
    for (let value = 0; !stopped && value < attemptCountMax; value += 1) {
      const nodes = cluster.running();
      const node = nodes[value % nodes.length] as TestNode | undefined;
      const row = `${label} ${value}`;
      let answered = false;
      try {
        const answer = await node?.execute([['INSERT INTO fruit(name) VALUES (?)', row]], query);
        answered = answer !== undefined && acknowledged(answer);
        if (answered) writes.push({ row, atMs: performance.now() });
      } catch {
        // A timeout or a node gone mid-request: unknown outcome, not acknowledged.
      }
      if (steady || !answered) await sleep(pauseMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return writes;
    },
  };
}

/** The longest stretch, in ms, within [fromMs, toMs] with no acknowledged write. */
function longestGapMs(writes: readonly AcknowledgedWrite[], fromMs: number, toMs: number): number {
  const times = [fromMs, ...writes.map((write) => write.atMs).filter((time) => time > fromMs && time < toMs), toMs];
  let longest = 0;
  for (let index = 1; index < times.length; index += 1) longest = Math.max(longest, (times[index] as number) - (times[index - 1] as number));
  return longest;
}

export interface Fault {
  readonly start: () => void;
  readonly end: () => void;
}

/**
 * Writes (steady pace) through a fault: 1 s of writes first, then `fault.start()`, `faultMs`,
 * `fault.end()` (also when the wait throws), then `settleMs` more of writes. Returns how many
 * writes were acknowledged and the longest stretch without one while the fault lasted.
 */
export async function writeThroughFault(
  cluster: TestCluster,
  label: string,
  fault: Fault,
  timing: { readonly faultMs: number; readonly settleMs: number },
): Promise<FaultRun> {
  const writer = writeInBackground(cluster, label);
  await sleep(1_000);
  const fromMs = performance.now();
  const startedAtMs = Date.now();
  fault.start();
  try {
    await sleep(timing.faultMs);
  } finally {
    fault.end();
  }
  const toMs = performance.now();
  await sleep(timing.settleMs);
  const acknowledged = await writer.stop();
  return { acknowledgedCount: acknowledged.length, longestGapMs: longestGapMs(acknowledged, fromMs, toMs), startedAtMs, endedAtMs: Date.now() };
}

export interface FaultRun {
  readonly acknowledgedCount: number;
  /** The longest stretch without an acknowledged write while the fault lasted. */
  readonly longestGapMs: number;
  /** Wall-clock ms (as the nodes' log lines' `time`): when the fault started, and when the settling writes ended. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
}

/** A stretch without writes this long, though within a test's bound, has its story printed (J11). */
const longGapMs = 3_000;

/**
 * When `run`'s longest gap passes longGapMs: the nodes' etcd and leadership events logged
 * during it, each with its ms from the fault's start, then each etcd member's last
 * elections (etcd's raft lines), one `diagnostic` line each: what a long gap is made of.
 */
export function diagnoseLongGap(diagnostic: (line: string) => void, cluster: TestCluster, etcd: EtcdCluster, run: FaultRun): void {
  if (run.longestGapMs <= longGapMs) return;
  for (const event of faultEvents(cluster, run)) diagnostic(event);
  for (const index of [0, 1, 2]) for (const line of etcd.raftEvents(index)) diagnostic(`etcd${index + 1}: ${line}`);
}

function faultEvents(cluster: TestCluster, run: FaultRun): string[] {
  const events: { readonly afterMs: number; readonly text: string }[] = [];
  for (const node of cluster.nodes) {
    for (const line of node.log().split('\n')) {
      if (!line.includes('"event":"etcd-')) continue;
      let entry: { time?: unknown; event?: unknown; member?: unknown; reason?: unknown; why?: unknown; term?: unknown; error?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if (typeof entry.time !== 'number' || entry.time < run.startedAtMs || entry.time > run.endedAtMs) continue;
      const afterMs = entry.time - run.startedAtMs;
      const details = [entry.member, entry.reason, entry.why, entry.term === undefined ? undefined : `term ${String(entry.term)}`, entry.error]
        .filter((detail) => detail !== undefined)
        .map((detail) => String(detail).slice(0, 120));
      events.push({ afterMs, text: `+${afterMs} ms node ${node.spec.index} ${String(entry.event)} ${details.join(' ')}`.trimEnd() });
    }
  }
  return events.sort((a, b) => a.afterMs - b.afterMs).map((event) => event.text);
}
