/**
 * The workloads, run the same way against every system and interleaved: each
 * workload runs in rounds, and every round visits every system in turn (quorumlite,
 * etcd, dqlite, sqlite), so load from elsewhere on a shared machine falls on all of
 * them alike. Failover trials alternate between systems the same way.
 *  1. sequential single-row writes; 2. 64-client single-row writes (with each node's
 *  peak memory); 3. 100-row batches; 4. point reads per level; 5. kill -9 the leader
 *  under load → first acknowledged write through a survivor; 6. memory (during 2);
 *  7. point reads from 64 clients spread over every node, per level; 8. 64 clients,
 *  90% reads (fastest level, every node) / 10% writes; 9. SIGSTOP the leader → first
 *  acknowledged write through the system's own client (hung-leader.ts); 10. sequential
 *  single-row writes in the first seconds after every system sat idle.
 *  The http floor (bench/peers/http-floor.ts) takes part in the reads (4 and 7).
 *  Each measured round of workloads 1-4, 7 and 8 follows an unmeasured lead-in of the same
 *  load on the same system (see `leadIn`); workload 10 measures what the lead-in leaves out.
 */
import type { ReplicatedSystem } from '../peers/system.js';
import type { FailoverSettings } from './failover-trials.js';
import type { HttpFloor } from '../peers/http-floor.js';
import type { SqliteBench, SqliteResults } from '../peers/sqlite.js';
import type { SystemName } from './report.js';
import {
  benchKey,
  benchValue,
  boundsPerRound,
  collectLoad,
  keyBase,
  keysPerRound,
  percentile,
  summarise,
  type LoadBounds,
  type LoadResult,
  type LoadSamples,
} from './measure.js';
import { failoverTrial, hungLeaderTrial } from './failover-trials.js';
import { readMemory } from './processes.js';
import { sleep } from './waiting.js';

export interface WorkloadSettings extends FailoverSettings {
  /** Each workload is split into this many rounds, each visiting every system. */
  readonly roundCount: number;
  /** Unmeasured, before the first workload, per system and per kind of load (writes from 1 and from 64 clients, reads). */
  readonly warmUp: LoadBounds;
  /**
   * Unmeasured, right before each measured round of workloads 1-4, 7 and 8, on the system
   * about to be measured: the same load, on keys of its own. Between its own rounds a system
   * sits idle while every other system runs, and a Node.js process needs a few seconds after
   * an idle spell to run at its warm speed again (bench/README.md, "On-CPU attribution, and
   * what an idle pause costs a Node process"); without a lead-in each round would measure
   * part of that recovery for some systems and not for others. Workload 10 measures it.
   */
  readonly leadIn: LoadBounds;
  /** Workload 10: every system idle for idleMs, then one client's sequential writes within bounds, per round. */
  readonly afterIdle: { readonly idleMs: number; readonly bounds: LoadBounds };
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
  /** 64-client reads spread over every node (workload 7), per level. */
  readonly spreadReads: LoadBounds;
  /** 64 clients, 90% reads / 10% writes (workload 8). */
  readonly mixed: LoadBounds;
  /** Every this many operations of workload 8, one is a write. */
  readonly mixedWriteEvery: number;
  readonly failoverTrialCount: number;
  readonly hungFailoverTrialCount: number;
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
  readonly spreadFastReads: ReadResult | null;
  readonly spreadLinearizableReads: ReadResult | null;
  readonly mixed: ConcurrentResult | null;
  /** SIGSTOP of the leader → first acknowledged write; `via` says through what. */
  readonly hungFailover: FailoverResult & { readonly via: string };
  /** Replies to writes that were not acknowledgements, over the whole run (warm-up and failovers too), by text; empty when the system keeps no tally. */
  readonly failedReplies: readonly { readonly reply: string; readonly count: number }[];
  /** Workload 10: sequential writes in the first seconds after every system sat idle (absent in result files before it). */
  readonly sequentialWritesAfterIdle?: LoadResult;
}

/** The http floor's numbers: the same point reads as workloads 4 and 7. */
export interface FloorResults {
  readonly reads: LoadResult;
  readonly spreadReads: LoadResult;
}

/** Prints progress to stderr so the table on stdout stays clean. */
export function progress(message: string): void {
  process.stderr.write(`[compare] ${message}\n`);
}

/** A system taking part: a running 3-node cluster, or SQLite in this process. */
export type Contender =
  | { readonly kind: 'replicated'; readonly name: SystemName; readonly system: ReplicatedSystem }
  | { readonly kind: 'sqlite'; readonly name: 'sqlite'; readonly bench: SqliteBench }
  | { readonly kind: 'floor'; readonly name: 'http-floor'; readonly floor: HttpFloor };

/** What one contender gathered over all rounds. */
interface Gathered {
  readonly sequential: LoadSamples[];
  readonly concurrent: LoadSamples[];
  readonly batches: LoadSamples[];
  readonly fastReads: LoadSamples[];
  readonly linearizableReads: LoadSamples[];
  readonly fsyncs: LoadSamples[];
  readonly spreadFastReads: LoadSamples[];
  readonly spreadLinearizableReads: LoadSamples[];
  readonly mixed: LoadSamples[];
  readonly afterIdle: LoadSamples[];
  readonly failoverMs: number[];
  failoverTimedOutCount: number;
  readonly hungFailoverMs: number[];
  hungFailoverTimedOutCount: number;
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
  readonly floor: FloorResults | null;
}

function emptyGathered(): Gathered {
  return {
    sequential: [],
    concurrent: [],
    batches: [],
    fastReads: [],
    linearizableReads: [],
    fsyncs: [],
    spreadFastReads: [],
    spreadLinearizableReads: [],
    mixed: [],
    afterIdle: [],
    failoverMs: [],
    failoverTimedOutCount: 0,
    hungFailoverMs: [],
    hungFailoverTimedOutCount: 0,
    peakResident: [],
    highWater: [],
    readableKeyCount: 0,
    failure: undefined,
  };
}

/**
 * Before anything is measured, each system over the network runs each kind of load for a
 * while, unmeasured: writes from 1 client and from 64, and reads at every level. A node
 * written in a JIT-compiled language runs its request path interpreted until it has run a
 * while (a cold quorumlite cluster wrote at about half its warm rate here), and the first
 * workload would measure that instead of the system. Keys of their own; errors ignored.
 */
async function warmUp(contender: Contender, settings: WorkloadSettings): Promise<void> {
  const bounds = settings.warmUp;
  const clients = settings.concurrentClientCount;
  if (contender.kind === 'floor') {
    const floor = contender.floor;
    await collectLoad((sequenceNumber) => floor.readAt(sequenceNumber % floor.nodeCount, benchKey(1)), clients, bounds);
    return;
  }
  if (contender.kind !== 'replicated') return; // SQLite runs in this process, from C
  const system = contender.system;
  const write = writeFrom(system, keyBase.warmUp);
  await collectLoad(write, 1, bounds);
  await collectLoad(write, clients, bounds);
  for (const mode of system.readModes)
    await collectLoad((sequenceNumber) => mode.readAt(sequenceNumber % system.nodeCount, benchKey(keyBase.warmUp + 1)), clients, bounds);
}

/** The operation every single-row write load runs: row `offset + n` gets value n. */
function writeFrom(system: ReplicatedSystem, offset: number): (sequenceNumber: number) => Promise<boolean> {
  return (sequenceNumber) => system.write(benchKey(offset + sequenceNumber), benchValue(sequenceNumber));
}

/**
 * One run of a workload's load on one system: a measured round, or the unmeasured lead-in
 * before it. A lead-in writes keys of its own and gathers into a copy that is thrown away.
 */
interface Slot {
  readonly round: number;
  readonly measured: boolean;
  /** The round's bounds, from the workload's bounds over all rounds. */
  bounds(workload: LoadBounds): LoadBounds;
  /** The first key the round writes, from the workload's key range. */
  keyOffset(base: number): number;
}

function measuredSlot(round: number, roundCount: number): Slot {
  return { round, measured: true, bounds: (workload) => boundsPerRound(workload, roundCount), keyOffset: (base) => base + round * keysPerRound };
}

/** Lead-in number `index` of the run (counted over every workload and round, so no two write the same keys). */
function leadInSlot(round: number, index: number, bounds: LoadBounds): Slot {
  return { round, measured: false, bounds: () => bounds, keyOffset: () => keyBase.leadIn + index * keysPerRound };
}

async function sequentialRound(contender: Contender, gathered: Gathered, settings: WorkloadSettings, slot: Slot): Promise<void> {
  const bounds = slot.bounds(settings.sequentialWrites);
  if (contender.kind === 'floor') {
    gathered.readableKeyCount = Math.max(1, bounds.operationCountMax);
    return; // it answers every key: nothing to write
  }
  const offset = slot.keyOffset(keyBase.sequential);
  const samples =
    contender.kind === 'sqlite' ? contender.bench.sequentialWrites(bounds, offset) : await collectLoad(writeFrom(contender.system, offset), 1, bounds);
  if (slot.measured && slot.round === 0) {
    if (samples.failedCount > 0 || samples.latenciesMs.length === 0)
      throw new Error(`${contender.name}: ${samples.failedCount} of the first round's sequential writes failed`);
    gathered.readableKeyCount = samples.latenciesMs.length;
  }
  gathered.sequential.push(samples);
}

async function concurrentRound(contender: Contender, gathered: Gathered, settings: WorkloadSettings, slot: Slot): Promise<void> {
  if (contender.kind !== 'replicated') return; // sqlite: one synchronous process; the floor: reads only
  const system = contender.system;
  const sample = (): void => {
    system.pids().forEach((pid, index) => {
      const memory = pid === undefined ? undefined : readMemory(pid);
      if (memory === undefined) return;
      gathered.peakResident[index] = Math.max(gathered.peakResident[index] ?? 0, memory.residentBytes);
      gathered.highWater[index] = Math.max(gathered.highWater[index] ?? 0, memory.highWaterBytes);
    });
  };
  const offset = slot.keyOffset(keyBase.concurrent);
  const timer = setInterval(sample, settings.memorySampleIntervalMs);
  try {
    gathered.concurrent.push(await collectLoad(writeFrom(system, offset), settings.concurrentClientCount, slot.bounds(settings.concurrentWrites)));
    sample();
  } finally {
    clearInterval(timer);
  }
}

async function batchRound(contender: Contender, gathered: Gathered, settings: WorkloadSettings, slot: Slot): Promise<void> {
  const offset = slot.keyOffset(keyBase.batches);
  if (contender.kind === 'sqlite') {
    gathered.batches.push(contender.bench.batchedWrites(slot.bounds(settings.sqliteBatches), settings.rowsPerBatch, offset));
    return;
  }
  if (contender.kind === 'floor') return;
  const writeBatch = contender.system.writeBatch;
  if (writeBatch === undefined) return;
  gathered.batches.push(
    await collectLoad(
      (sequenceNumber) => {
        const first = offset + sequenceNumber * settings.rowsPerBatch;
        return writeBatch(Array.from({ length: settings.rowsPerBatch }, (_, index) => [benchKey(first + index), benchValue(first + index)] as const));
      },
      1,
      slot.bounds(settings.batches),
    ),
  );
}

async function readRound(contender: Contender, gathered: Gathered, settings: WorkloadSettings, slot: Slot): Promise<void> {
  const keyCount = Math.max(1, gathered.readableKeyCount);
  if (contender.kind === 'sqlite') {
    // in one process every read is both the fastest and linearizable
    const samples = contender.bench.reads(slot.bounds(settings.sqliteReads), keyCount);
    gathered.fastReads.push(samples);
    gathered.fsyncs.push(contender.bench.fsync(slot.bounds(settings.fsyncs)));
    return;
  }
  if (contender.kind === 'floor') {
    const floor = contender.floor;
    gathered.fastReads.push(await collectLoad((sequenceNumber) => floor.readAt(0, benchKey(1 + (sequenceNumber % keyCount))), 1, slot.bounds(settings.reads)));
    return;
  }
  for (const mode of contender.system.readModes) {
    const samples = await collectLoad((sequenceNumber) => mode.read(benchKey(1 + (sequenceNumber % keyCount))), 1, slot.bounds(settings.reads));
    (mode.kind === 'fast' ? gathered.fastReads : gathered.linearizableReads).push(samples);
  }
}

/** Workload 7: 64 clients, operation n on node n mod nodeCount, each level that any node serves. */
async function spreadReadRound(contender: Contender, gathered: Gathered, settings: WorkloadSettings, slot: Slot): Promise<void> {
  const keyCount = Math.max(1, gathered.readableKeyCount);
  const bounds = slot.bounds(settings.spreadReads);
  const clientCount = settings.concurrentClientCount;
  if (contender.kind === 'floor') {
    const floor = contender.floor;
    gathered.spreadFastReads.push(
      await collectLoad((sequenceNumber) => floor.readAt(sequenceNumber % floor.nodeCount, benchKey(1 + (sequenceNumber % keyCount))), clientCount, bounds),
    );
    return;
  }
  if (contender.kind !== 'replicated') return; // one process: workload 4 is its spread
  const system = contender.system;
  for (const mode of system.readModes) {
    const samples = await collectLoad(
      (sequenceNumber) => mode.readAt(sequenceNumber % system.nodeCount, benchKey(1 + (sequenceNumber % keyCount))),
      clientCount,
      bounds,
    );
    (mode.kind === 'fast' ? gathered.spreadFastReads : gathered.spreadLinearizableReads).push(samples);
  }
}

/** Workload 8: 64 clients; every mixedWriteEvery-th operation writes (leader), the rest read at the fastest level on any node. */
async function mixedRound(contender: Contender, gathered: Gathered, settings: WorkloadSettings, slot: Slot): Promise<void> {
  if (contender.kind !== 'replicated') return;
  const system = contender.system;
  const fast = system.readModes.find((mode) => mode.kind === 'fast');
  if (fast === undefined) return;
  const keyCount = Math.max(1, gathered.readableKeyCount);
  const offset = slot.keyOffset(keyBase.mixed);
  const write = writeFrom(system, offset);
  gathered.mixed.push(
    await collectLoad(
      (sequenceNumber) =>
        sequenceNumber % settings.mixedWriteEvery === 0
          ? write(sequenceNumber)
          : fast.readAt(sequenceNumber % system.nodeCount, benchKey(1 + (sequenceNumber % keyCount))),
      settings.concurrentClientCount,
      slot.bounds(settings.mixed),
    ),
  );
}

type Phase = (contender: Contender, gathered: Gathered, slot: Slot) => Promise<void>;

/** Counts the run's lead-ins, so that each writes keys of its own. */
interface LeadIns {
  readonly bounds: LoadBounds;
  count: number;
}

/**
 * Runs `phase` for `roundCount` rounds, each over every contender still healthy. With
 * `leadIns`, each measured round of a system over the network (not SQLite in this process)
 * follows an unmeasured run of the same phase on it, gathered into a copy that is dropped.
 */
async function interleave(
  name: string,
  contenders: readonly Contender[],
  gathered: Map<SystemName, Gathered>,
  roundCount: number,
  phase: Phase,
  leadIns?: LeadIns,
): Promise<void> {
  for (let round = 0; round < roundCount; round += 1) {
    for (const contender of contenders) {
      const own = gathered.get(contender.name);
      if (own === undefined || own.failure !== undefined) continue;
      try {
        if (leadIns !== undefined && contender.kind !== 'sqlite') {
          progress(`${name}, round ${round + 1}/${roundCount}: ${contender.name} (lead-in, not measured)`);
          const dropped = { ...emptyGathered(), readableKeyCount: own.readableKeyCount };
          await phase(contender, dropped, leadInSlot(round, leadIns.count, leadIns.bounds));
          leadIns.count += 1;
        }
        progress(`${name}, round ${round + 1}/${roundCount}: ${contender.name}`);
        await phase(contender, own, measuredSlot(round, roundCount));
      } catch (error) {
        own.failure = error instanceof Error ? error : new Error(String(error));
        progress(`${contender.name} failed: ${own.failure.message}`);
      }
    }
  }
}

/**
 * Workload 10: each round, every system sits idle for idleMs, then each in turn runs one
 * client's sequential writes (the order turns each round, so no system always waits longest).
 */
async function afterIdleRounds(contenders: readonly Contender[], gathered: Map<SystemName, Gathered>, settings: WorkloadSettings): Promise<void> {
  const { idleMs, bounds } = settings.afterIdle;
  for (let round = 0; round < settings.roundCount; round += 1) {
    progress(`sequential writes after idle, round ${round + 1}/${settings.roundCount}: every system idle ${(idleMs / 1000).toFixed(0)} s`);
    await sleep(idleMs);
    const turned = contenders.map((_, index) => contenders[(index + round) % contenders.length] as Contender);
    for (const contender of turned) {
      const own = gathered.get(contender.name);
      if (contender.kind !== 'replicated' || own === undefined || own.failure !== undefined) continue;
      progress(`sequential writes after idle, round ${round + 1}/${settings.roundCount}: ${contender.name}`);
      own.afterIdle.push(await collectLoad(writeFrom(contender.system, keyBase.afterIdle + round * keysPerRound), 1, bounds));
    }
  }
}

export async function runInterleaved(contenders: readonly Contender[], settings: WorkloadSettings): Promise<InterleavedOutcome[]> {
  const gathered = new Map(contenders.map((contender) => [contender.name, emptyGathered()] as const));
  const rounds = settings.roundCount;
  const leadIns: LeadIns = { bounds: settings.leadIn, count: 0 };
  await interleave('warm-up (not measured)', contenders, gathered, 1, (contender) => warmUp(contender, settings));
  await interleave('sequential writes', contenders, gathered, rounds, (contender, own, slot) => sequentialRound(contender, own, settings, slot), leadIns);
  await interleave(
    `${settings.concurrentClientCount} concurrent clients`,
    contenders,
    gathered,
    rounds,
    (contender, own, slot) => concurrentRound(contender, own, settings, slot),
    leadIns,
  );
  await interleave('batched writes', contenders, gathered, rounds, (contender, own, slot) => batchRound(contender, own, settings, slot), leadIns);
  await interleave('point reads', contenders, gathered, rounds, (contender, own, slot) => readRound(contender, own, settings, slot), leadIns);
  const clients = settings.concurrentClientCount;
  await interleave(
    `point reads, ${clients} clients over every node`,
    contenders,
    gathered,
    rounds,
    (contender, own, slot) => spreadReadRound(contender, own, settings, slot),
    leadIns,
  );
  const replicatedOnly = contenders.filter((contender) => contender.kind === 'replicated');
  await interleave(
    `mixed reads and writes, ${clients} clients`,
    replicatedOnly,
    gathered,
    rounds,
    (contender, own, slot) => mixedRound(contender, own, settings, slot),
    leadIns,
  );
  // before the failovers, which start nodes afresh
  await afterIdleRounds(replicatedOnly, gathered, settings);
  await interleave('failover trial', replicatedOnly, gathered, settings.failoverTrialCount, async (contender, own) => {
    if (contender.kind !== 'replicated') return;
    const elapsedMs = await failoverTrial(contender.system, settings, own.failoverMs.length + own.failoverTimedOutCount);
    if (elapsedMs === undefined) own.failoverTimedOutCount += 1;
    else own.failoverMs.push(elapsedMs);
  });
  await interleave('hung-leader trial', replicatedOnly, gathered, settings.hungFailoverTrialCount, async (contender, own) => {
    if (contender.kind !== 'replicated') return;
    const elapsedMs = await hungLeaderTrial(contender.system, settings, own.hungFailoverMs.length + own.hungFailoverTimedOutCount);
    if (elapsedMs === undefined) own.hungFailoverTimedOutCount += 1;
    else own.hungFailoverMs.push(elapsedMs);
  });
  return contenders.map((contender) => outcome(contender, gathered.get(contender.name) ?? emptyGathered(), settings));
}

function orNull(rounds: readonly LoadSamples[]): LoadResult | null {
  return rounds.length === 0 ? null : summarise(rounds);
}

function outcome(contender: Contender, gathered: Gathered, settings: WorkloadSettings): InterleavedOutcome {
  if (gathered.failure !== undefined) return { name: contender.name, failure: gathered.failure, replicated: null, sqlite: null, floor: null };
  if (contender.kind === 'floor') {
    const floor = { reads: summarise(gathered.fastReads), spreadReads: summarise(gathered.spreadFastReads) };
    return { name: contender.name, failure: undefined, replicated: null, sqlite: null, floor };
  }
  if (contender.kind === 'sqlite') {
    return {
      name: contender.name,
      failure: undefined,
      replicated: null,
      floor: null,
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
  const spreadFast = orNull(gathered.spreadFastReads);
  const spreadLinearizable = orNull(gathered.spreadLinearizableReads);
  const mixed = orNull(gathered.mixed);
  return {
    name: contender.name,
    failure: undefined,
    sqlite: null,
    floor: null,
    replicated: {
      sequentialWrites: summarise(gathered.sequential),
      concurrentWrites: { ...summarise(gathered.concurrent), clientCount: settings.concurrentClientCount },
      memory: { peakResidentBytesPerNode: gathered.peakResident, highWaterBytesPerNode: gathered.highWater },
      batchedWrites:
        batches === null ? null : { ...batches, rowsPerBatch: settings.rowsPerBatch, rowsPerSecond: batches.operationsPerSecond * settings.rowsPerBatch },
      fastReads: fast === null ? null : { ...fast, label: labelOf('fast') },
      linearizableReads: linearizable === null ? null : { ...linearizable, label: labelOf('linearizable') },
      failover: failoverResult(gathered.failoverMs, gathered.failoverTimedOutCount),
      spreadFastReads: spreadFast === null ? null : { ...spreadFast, label: labelOf('fast') },
      spreadLinearizableReads: spreadLinearizable === null ? null : { ...spreadLinearizable, label: labelOf('linearizable') },
      mixed: mixed === null ? null : { ...mixed, clientCount: settings.concurrentClientCount },
      hungFailover: {
        ...failoverResult(gathered.hungFailoverMs, gathered.hungFailoverTimedOutCount),
        via: contender.system.openClient === undefined ? 'writes through the survivors, 300 ms per try' : `${contender.name}'s own client`,
      },
      failedReplies: contender.system.failedReplies?.() ?? [],
      ...(gathered.afterIdle.length === 0 ? {} : { sequentialWritesAfterIdle: summarise(gathered.afterIdle) }),
    },
  };
}

function failoverResult(trialsMs: number[], timedOutTrialCount: number): FailoverResult {
  const sorted = [...trialsMs].sort((left, right) => left - right);
  return { trialsMs, timedOutTrialCount, p50Ms: percentile(sorted, 0.5), maxMs: percentile(sorted, 1) };
}
