/**
 * The six workloads, run the same way against every system and interleaved: each
 * workload runs in rounds, and every round visits every system in turn (quorumlite,
 * etcd, dqlite, sqlite), so load from elsewhere on a shared machine falls on all of
 * them alike. Failover trials alternate between systems the same way.
 *  1. sequential single-row writes; 2. 64-client single-row writes (with each node's
 *  peak memory); 3. 100-row batches; 4. point reads per level; 5. kill -9 the leader
 *  under load → first acknowledged write through a survivor; 6. memory (during 2).
 */
import type { ReplicatedSystem } from '../peers/system.js';
import type { SqliteBench, SqliteResults } from '../peers/sqlite.js';
import type { SystemName } from './report.js';
import { benchKey, benchValue, boundsPerRound, collectLoad, percentile, summarise, type LoadBounds, type LoadResult, type LoadSamples } from './measure.js';
import { readMemory, sleep } from './processes.js';

export interface WorkloadSettings {
  /** Each workload is split into this many rounds, each visiting every system. */
  readonly roundCount: number;
  readonly sequentialWrites: LoadBounds;
  readonly concurrentWrites: LoadBounds;
  readonly concurrentClientCount: number;
  readonly batches: LoadBounds;
  readonly rowsPerBatch: number;
  readonly reads: LoadBounds;
  /** In-process SQLite is far faster per operation: its own counts, the same time bounds. */
  readonly sqliteReads: LoadBounds;
  readonly sqliteBatches: LoadBounds;
  readonly fsyncs: LoadBounds;
  readonly failoverTrialCount: number;
  /** Bound on one trial's wait for the first acknowledged write after the kill. */
  readonly failoverTimeoutMs: number;
  /** Per-try timeout of a write while the cluster elects (docs/TESTING.md, "The peers we compare against": 300 ms). */
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

/** A system taking part: a running 3-node cluster, or SQLite in this process. */
export type Contender =
  | { readonly kind: 'replicated'; readonly name: SystemName; readonly system: ReplicatedSystem }
  | { readonly kind: 'sqlite'; readonly name: 'sqlite'; readonly bench: SqliteBench };

/** What one contender gathered over all rounds. */
interface Gathered {
  readonly sequential: LoadSamples[];
  readonly concurrent: LoadSamples[];
  readonly batches: LoadSamples[];
  readonly fastReads: LoadSamples[];
  readonly linearizableReads: LoadSamples[];
  readonly fsyncs: LoadSamples[];
  readonly failoverMs: number[];
  failoverTimedOutCount: number;
  peakResident: number[];
  highWater: number[];
  /** Keys 1..this were written by the first sequential round: the reads' key range. */
  readableKeyCount: number;
  failure: Error | undefined;
}

export interface InterleavedOutcome {
  readonly name: SystemName;
  readonly failure: Error | undefined;
  readonly replicated: ReplicatedResults | null;
  readonly sqlite: (SqliteResults & { readonly rowsPerBatch: number }) | null;
}

const keyBase = { sequential: 0, concurrent: 10_000_000, batches: 20_000_000, failover: 30_000_000 } as const;
const keysPerRound = 1_000_000;

function emptyGathered(): Gathered {
  return {
    sequential: [],
    concurrent: [],
    batches: [],
    fastReads: [],
    linearizableReads: [],
    fsyncs: [],
    failoverMs: [],
    failoverTimedOutCount: 0,
    peakResident: [],
    highWater: [],
    readableKeyCount: 0,
    failure: undefined,
  };
}

async function sequentialRound(contender: Contender, gathered: Gathered, bounds: LoadBounds, round: number): Promise<void> {
  const offset = keyBase.sequential + round * keysPerRound;
  const samples =
    contender.kind === 'sqlite'
      ? contender.bench.sequentialWrites(bounds, offset)
      : await collectLoad((sequenceNumber) => contender.system.write(benchKey(offset + sequenceNumber), benchValue(sequenceNumber)), 1, bounds);
  if (round === 0) {
    if (samples.failedCount > 0 || samples.latenciesMs.length === 0)
      throw new Error(`${contender.name}: ${samples.failedCount} of the first round's sequential writes failed`);
    gathered.readableKeyCount = samples.latenciesMs.length;
  }
  gathered.sequential.push(samples);
}

async function concurrentRound(contender: Contender, gathered: Gathered, settings: WorkloadSettings, round: number): Promise<void> {
  if (contender.kind === 'sqlite') return; // one synchronous process: no concurrent clients
  const system = contender.system;
  const sample = (): void => {
    system.pids().forEach((pid, index) => {
      const memory = pid === undefined ? undefined : readMemory(pid);
      if (memory === undefined) return;
      gathered.peakResident[index] = Math.max(gathered.peakResident[index] ?? 0, memory.residentBytes);
      gathered.highWater[index] = Math.max(gathered.highWater[index] ?? 0, memory.highWaterBytes);
    });
  };
  const offset = keyBase.concurrent + round * keysPerRound;
  const timer = setInterval(sample, settings.memorySampleIntervalMs);
  try {
    gathered.concurrent.push(
      await collectLoad(
        (sequenceNumber) => system.write(benchKey(offset + sequenceNumber), benchValue(sequenceNumber)),
        settings.concurrentClientCount,
        boundsPerRound(settings.concurrentWrites, settings.roundCount),
      ),
    );
    sample();
  } finally {
    clearInterval(timer);
  }
}

async function batchRound(contender: Contender, gathered: Gathered, settings: WorkloadSettings, round: number): Promise<void> {
  const offset = keyBase.batches + round * keysPerRound;
  if (contender.kind === 'sqlite') {
    gathered.batches.push(contender.bench.batchedWrites(boundsPerRound(settings.sqliteBatches, settings.roundCount), settings.rowsPerBatch, offset));
    return;
  }
  const writeBatch = contender.system.writeBatch;
  if (writeBatch === undefined) return;
  gathered.batches.push(
    await collectLoad(
      (sequenceNumber) => {
        const first = offset + sequenceNumber * settings.rowsPerBatch;
        return writeBatch(Array.from({ length: settings.rowsPerBatch }, (_, index) => [benchKey(first + index), benchValue(first + index)] as const));
      },
      1,
      boundsPerRound(settings.batches, settings.roundCount),
    ),
  );
}

async function readRound(contender: Contender, gathered: Gathered, settings: WorkloadSettings): Promise<void> {
  const keyCount = Math.max(1, gathered.readableKeyCount);
  if (contender.kind === 'sqlite') {
    // in one process every read is both the fastest and linearizable
    const samples = contender.bench.reads(boundsPerRound(settings.sqliteReads, settings.roundCount), keyCount);
    gathered.fastReads.push(samples);
    gathered.fsyncs.push(contender.bench.fsync(boundsPerRound(settings.fsyncs, settings.roundCount)));
    return;
  }
  for (const mode of contender.system.readModes) {
    const samples = await collectLoad(
      (sequenceNumber) => mode.read(benchKey(1 + (sequenceNumber % keyCount))),
      1,
      boundsPerRound(settings.reads, settings.roundCount),
    );
    (mode.kind === 'fast' ? gathered.fastReads : gathered.linearizableReads).push(samples);
  }
}

type Phase = (contender: Contender, gathered: Gathered, round: number) => Promise<void>;

/** Runs `phase` for `roundCount` rounds, each over every contender still healthy. */
async function interleave(
  name: string,
  contenders: readonly Contender[],
  gathered: Map<SystemName, Gathered>,
  roundCount: number,
  phase: Phase,
): Promise<void> {
  for (let round = 0; round < roundCount; round += 1) {
    for (const contender of contenders) {
      const own = gathered.get(contender.name);
      if (own === undefined || own.failure !== undefined) continue;
      progress(`${name}, round ${round + 1}/${roundCount}: ${contender.name}`);
      try {
        await phase(contender, own, round);
      } catch (error) {
        own.failure = error instanceof Error ? error : new Error(String(error));
        progress(`${contender.name} failed: ${own.failure.message}`);
      }
    }
  }
}

export async function runInterleaved(contenders: readonly Contender[], settings: WorkloadSettings): Promise<InterleavedOutcome[]> {
  const gathered = new Map(contenders.map((contender) => [contender.name, emptyGathered()] as const));
  const rounds = settings.roundCount;
  await interleave('sequential writes', contenders, gathered, rounds, (contender, own, round) =>
    sequentialRound(contender, own, boundsPerRound(settings.sequentialWrites, rounds), round),
  );
  await interleave(`${settings.concurrentClientCount} concurrent clients`, contenders, gathered, rounds, (contender, own, round) =>
    concurrentRound(contender, own, settings, round),
  );
  await interleave('batched writes', contenders, gathered, rounds, (contender, own, round) => batchRound(contender, own, settings, round));
  await interleave('point reads', contenders, gathered, rounds, (contender, own) => readRound(contender, own, settings));
  const replicatedOnly = contenders.filter((contender) => contender.kind === 'replicated');
  await interleave('failover trial', replicatedOnly, gathered, settings.failoverTrialCount, async (contender, own) => {
    if (contender.kind !== 'replicated') return;
    const elapsedMs = await failoverTrial(contender.system, settings, own.failoverMs.length + own.failoverTimedOutCount);
    if (elapsedMs === undefined) own.failoverTimedOutCount += 1;
    else own.failoverMs.push(elapsedMs);
  });
  return contenders.map((contender) => outcome(contender, gathered.get(contender.name) ?? emptyGathered(), settings));
}

function orNull(rounds: readonly LoadSamples[]): LoadResult | null {
  return rounds.length === 0 ? null : summarise(rounds);
}

function outcome(contender: Contender, gathered: Gathered, settings: WorkloadSettings): InterleavedOutcome {
  if (gathered.failure !== undefined) return { name: contender.name, failure: gathered.failure, replicated: null, sqlite: null };
  if (contender.kind === 'sqlite') {
    return {
      name: contender.name,
      failure: undefined,
      replicated: null,
      sqlite: {
        sequentialWrites: summarise(gathered.sequential),
        batchedWrites: summarise(gathered.batches),
        reads: summarise(gathered.fastReads),
        fsync: summarise(gathered.fsyncs),
        rowsPerBatch: settings.rowsPerBatch,
      },
    };
  }
  const batches = orNull(gathered.batches);
  const fast = orNull(gathered.fastReads);
  const linearizable = orNull(gathered.linearizableReads);
  const labelOf = (kind: 'fast' | 'linearizable'): string => contender.system.readModes.find((mode) => mode.kind === kind)?.label ?? kind;
  const sortedFailover = [...gathered.failoverMs].sort((left, right) => left - right);
  return {
    name: contender.name,
    failure: undefined,
    sqlite: null,
    replicated: {
      sequentialWrites: summarise(gathered.sequential),
      concurrentWrites: { ...summarise(gathered.concurrent), clientCount: settings.concurrentClientCount },
      memory: { peakResidentBytesPerNode: gathered.peakResident, highWaterBytesPerNode: gathered.highWater },
      batchedWrites:
        batches === null ? null : { ...batches, rowsPerBatch: settings.rowsPerBatch, rowsPerSecond: batches.operationsPerSecond * settings.rowsPerBatch },
      fastReads: fast === null ? null : { ...fast, label: labelOf('fast') },
      linearizableReads: linearizable === null ? null : { ...linearizable, label: labelOf('linearizable') },
      failover: {
        trialsMs: gathered.failoverMs,
        timedOutTrialCount: gathered.failoverTimedOutCount,
        p50Ms: percentile(sortedFailover, 0.5),
        maxMs: percentile(sortedFailover, 1),
      },
    },
  };
}

/** Writes to the current leader one at a time until halted (bounded by count). */
function startSteadyLoad(system: ReplicatedSystem, keyOffset: number): { halt: () => void; done: Promise<void> } {
  const steadyWriteCountMax = 100_000;
  let stopped = false;
  const done = (async () => {
    for (let count = 0; !stopped && count < steadyWriteCountMax; count += 1) {
      await system.write(benchKey(keyOffset + count), benchValue(count)).catch(() => false);
    }
  })();
  return {
    halt: () => {
      stopped = true;
    },
    done,
  };
}

/** Kill → first acknowledged write, alternating over the survivors; undefined on timeout. */
async function firstAcknowledgedWrite(
  system: ReplicatedSystem,
  survivors: readonly number[],
  killedAtMs: number,
  settings: WorkloadSettings,
  keyOffset: number,
): Promise<number | undefined> {
  const failedTryPauseMs = 20;
  const tryCountMax = Math.ceil(settings.failoverTimeoutMs / failedTryPauseMs);
  for (let attempt = 0; attempt < tryCountMax && performance.now() - killedAtMs < settings.failoverTimeoutMs; attempt += 1) {
    const target = survivors[attempt % survivors.length] ?? 0;
    const triedAtMs = performance.now();
    const acknowledged = await system
      .writeThrough(target, benchKey(keyOffset + attempt), benchValue(attempt), settings.failoverTryTimeoutMs)
      .catch(() => false);
    if (acknowledged) return performance.now() - killedAtMs;
    // a refused connection fails at once: pause so the loop does not spin
    if (performance.now() - triedAtMs < failedTryPauseMs) await sleep(failedTryPauseMs);
  }
  return undefined;
}

/** One trial: steady writes, kill -9 the leader, time to the first acknowledged write, restart it. */
export async function failoverTrial(system: ReplicatedSystem, settings: WorkloadSettings, trial: number): Promise<number | undefined> {
  await system.refreshLeader();
  const leader = await system.leaderIndex();
  const keyOffset = keyBase.failover + trial * keysPerRound;
  const load = startSteadyLoad(system, keyOffset);
  await sleep(settings.failoverSteadyLoadMs);
  // halted at the kill: its write in flight fails with the leader, and it issues no more
  load.halt();
  const killedAtMs = performance.now();
  await system.killNode(leader);
  const survivors = Array.from({ length: system.nodeCount }, (_, index) => index).filter((index) => index !== leader);
  const elapsedMs = await firstAcknowledgedWrite(system, survivors, killedAtMs, settings, keyOffset + keysPerRound / 2);
  await load.done;
  await system.restartNode(leader);
  await system.refreshLeader();
  return elapsedMs;
}
