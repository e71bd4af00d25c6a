/**
 * The six workloads, run the same way against every replicated system: sequential and
 * 64-client single-row writes, 100-row batches, point reads per level, failover trials
 * (kill -9 the leader under load → first acknowledged write through a survivor), and the
 * peak memory of each node during the 64-client writes.
 */
import type { ReplicatedSystem } from '../peers/system.js';
import { benchKey, benchValue, percentile, runLoad, type LoadBounds, type LoadResult } from './measure.js';
import { readMemory, sleep } from './processes.js';

export interface WorkloadSettings {
  readonly sequentialWrites: LoadBounds;
  readonly concurrentWrites: LoadBounds;
  readonly concurrentClientCount: number;
  readonly batches: LoadBounds;
  readonly rowsPerBatch: number;
  readonly reads: LoadBounds;
  readonly failoverTrialCount: number;
  /** Bound on one trial's wait for the first acknowledged write after the kill. */
  readonly failoverTimeoutMs: number;
  /** Per-try timeout of a write while the cluster elects (PEERS.md: 300 ms). */
  readonly failoverTryTimeoutMs: number;
  /** How long the steady write load runs before the kill. */
  readonly failoverSteadyLoadMs: number;
  readonly memorySampleIntervalMs: number;
}

export interface BatchResult extends LoadResult {
  readonly rowsPerBatch: number;
  readonly rowsPerSecond: number;
}

export interface ReadResult extends LoadResult {
  readonly label: string;
}

export interface FailoverResult {
  /** Kill → first acknowledged write, per trial that saw one. */
  readonly trialsMs: number[];
  /** Trials with no acknowledged write within failoverTimeoutMs. */
  readonly timedOutTrialCount: number;
  readonly p50Ms: number;
  readonly maxMs: number;
}

export interface MemoryResult {
  /** Largest VmRSS sampled during the 64-client writes, per node. */
  readonly peakResidentBytesPerNode: number[];
  /** VmHWM at the end of the 64-client writes, per node. */
  readonly highWaterBytesPerNode: number[];
}

export interface ConcurrentResult extends LoadResult {
  readonly clientCount: number;
}

export interface ReplicatedResults {
  readonly sequentialWrites: LoadResult;
  readonly concurrentWrites: ConcurrentResult;
  readonly memory: MemoryResult;
  readonly batchedWrites: BatchResult | null;
  readonly fastReads: ReadResult | null;
  readonly linearizableReads: ReadResult | null;
  readonly failover: FailoverResult;
}

/** Prints progress to stderr so the table on stdout stays clean. */
export function progress(message: string): void {
  process.stderr.write(`[compare] ${message}\n`);
}

async function measureConcurrentWithMemory(system: ReplicatedSystem, settings: WorkloadSettings, keyOffset: number): Promise<{ load: LoadResult; memory: MemoryResult }> {
  const peakResident = system.pids().map(() => 0);
  const highWater = system.pids().map(() => 0);
  const sample = (): void => {
    system.pids().forEach((pid, index) => {
      const memory = pid === undefined ? undefined : readMemory(pid);
      if (memory === undefined) return;
      peakResident[index] = Math.max(peakResident[index] ?? 0, memory.residentBytes);
      highWater[index] = Math.max(highWater[index] ?? 0, memory.highWaterBytes);
    });
  };
  const timer = setInterval(sample, settings.memorySampleIntervalMs);
  try {
    const load = await runLoad((sequenceNumber) => system.write(benchKey(keyOffset + sequenceNumber), benchValue(sequenceNumber)),
      settings.concurrentClientCount, settings.concurrentWrites);
    sample();
    return { load, memory: { peakResidentBytesPerNode: peakResident, highWaterBytesPerNode: highWater } };
  } finally {
    clearInterval(timer);
  }
}

async function measureBatches(system: ReplicatedSystem, settings: WorkloadSettings, keyOffset: number): Promise<BatchResult | null> {
  const writeBatch = system.writeBatch;
  if (writeBatch === undefined) return null;
  const load = await runLoad((sequenceNumber) => {
    const first = keyOffset + sequenceNumber * settings.rowsPerBatch;
    const rows = Array.from({ length: settings.rowsPerBatch }, (_, offset) => [benchKey(first + offset), benchValue(first + offset)] as const);
    return writeBatch(rows);
  }, 1, settings.batches);
  return { ...load, rowsPerBatch: settings.rowsPerBatch, rowsPerSecond: load.operationsPerSecond * settings.rowsPerBatch };
}

async function measureReads(system: ReplicatedSystem, kind: 'fast' | 'linearizable', settings: WorkloadSettings, writtenCount: number): Promise<ReadResult | null> {
  const mode = system.readModes.find((candidate) => candidate.kind === kind);
  if (mode === undefined) return null;
  const load = await runLoad((sequenceNumber) => mode.read(benchKey(1 + (sequenceNumber % writtenCount))), 1, settings.reads);
  return { ...load, label: mode.label };
}

export async function runReplicatedWorkloads(system: ReplicatedSystem, settings: WorkloadSettings): Promise<ReplicatedResults> {
  await system.prepare();
  progress(`${system.name}: sequential writes`);
  const sequentialWrites = await runLoad((sequenceNumber) => system.write(benchKey(sequenceNumber), benchValue(sequenceNumber)), 1, settings.sequentialWrites);
  if (sequentialWrites.acknowledgedCount === 0) throw new Error(`${system.name}: no sequential write was acknowledged`);
  progress(`${system.name}: ${settings.concurrentClientCount} concurrent clients`);
  const concurrent = await measureConcurrentWithMemory(system, settings, 10_000_000);
  progress(`${system.name}: batched writes`);
  const batchedWrites = await measureBatches(system, settings, 20_000_000);
  progress(`${system.name}: point reads`);
  const fastReads = await measureReads(system, 'fast', settings, sequentialWrites.acknowledgedCount);
  const linearizableReads = await measureReads(system, 'linearizable', settings, sequentialWrites.acknowledgedCount);
  const failover = await measureFailover(system, settings);
  return {
    sequentialWrites,
    concurrentWrites: { ...concurrent.load, clientCount: settings.concurrentClientCount },
    memory: concurrent.memory,
    batchedWrites,
    fastReads,
    linearizableReads,
    failover,
  };
}

/** Writes to the current leader one at a time until told to stop (bounded by count). */
function startSteadyLoad(system: ReplicatedSystem, keyOffset: number): { halt: () => void; done: Promise<void> } {
  const steadyWriteCountMax = 100_000;
  let stopped = false;
  const done = (async () => {
    for (let count = 0; !stopped && count < steadyWriteCountMax; count += 1) {
      await system.write(benchKey(keyOffset + count), benchValue(count)).catch(() => false);
    }
  })();
  return { halt: () => { stopped = true; }, done };
}

/** Kill → first acknowledged write, alternating over the survivors; undefined on timeout. */
async function firstAcknowledgedWrite(system: ReplicatedSystem, survivors: readonly number[], killedAtMs: number, settings: WorkloadSettings, keyOffset: number): Promise<number | undefined> {
  const failedTryPauseMs = 20;
  const tryCountMax = Math.ceil(settings.failoverTimeoutMs / failedTryPauseMs);
  for (let attempt = 0; attempt < tryCountMax && performance.now() - killedAtMs < settings.failoverTimeoutMs; attempt += 1) {
    const target = survivors[attempt % survivors.length] ?? 0;
    const triedAtMs = performance.now();
    const acknowledged = await system.writeThrough(target, benchKey(keyOffset + attempt), benchValue(attempt), settings.failoverTryTimeoutMs).catch(() => false);
    if (acknowledged) return performance.now() - killedAtMs;
    // a refused connection fails at once: pause so the loop does not spin
    if (performance.now() - triedAtMs < failedTryPauseMs) await sleep(failedTryPauseMs);
  }
  return undefined;
}

export async function measureFailover(system: ReplicatedSystem, settings: WorkloadSettings): Promise<FailoverResult> {
  const trialsMs: number[] = [];
  let timedOutTrialCount = 0;
  for (let trial = 0; trial < settings.failoverTrialCount; trial += 1) {
    progress(`${system.name}: failover trial ${trial + 1}/${settings.failoverTrialCount}`);
    await system.refreshLeader();
    const leader = await system.leaderIndex();
    const keyOffset = 30_000_000 + trial * 1_000_000;
    const load = startSteadyLoad(system, keyOffset);
    await sleep(settings.failoverSteadyLoadMs);
    // halted at the kill: its write in flight fails with the leader, and it issues no more
    load.halt();
    const killedAtMs = performance.now();
    await system.killNode(leader);
    const survivors = Array.from({ length: system.nodeCount }, (_, index) => index).filter((index) => index !== leader);
    const elapsedMs = await firstAcknowledgedWrite(system, survivors, killedAtMs, settings, keyOffset + 500_000);
    await load.done;
    if (elapsedMs === undefined) timedOutTrialCount += 1;
    else trialsMs.push(elapsedMs);
    await system.restartNode(leader);
  }
  await system.refreshLeader();
  const sorted = [...trialsMs].sort((left, right) => left - right);
  return {
    trialsMs,
    timedOutTrialCount,
    p50Ms: percentile(sorted, 0.5),
    maxMs: percentile(sorted, 1),
  };
}
