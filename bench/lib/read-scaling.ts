/**
 * Read scaling (issue 18): point reads from many concurrent clients spread over every node
 * of a 1-, 3- and 5-node quorumlite cluster, at level linearizable (a follower asks the
 * leader only for a read index, then reads itself) and at level none (local reads).
 *
 * Every cluster is started first, each loaded with the same small table; then the rows run
 * in rounds that visit every cluster and level in turn (as bench:compare interleaves its
 * systems), so load from elsewhere on a shared machine falls on all of them alike. Client
 * i is pinned to node i mod nodeCount. Besides reads/s, each row records what the node
 * processes spent (user + system CPU from /proc, every thread) and which node ran each
 * read (X-RQLITE-SERVED-BY), so a machine with too few cores to show the curve still shows
 * the per-read cost and that every node served its own clients.
 */
import { cpus, loadavg, platform, release } from 'node:os';
import { QuorumliteSystem } from '../peers/quorumlite.js';
import { benchKey, benchValue, boundsPerRound, collectLoad, summarise, type LoadBounds, type LoadSamples } from './measure.js';
import { readCpuSeconds } from './processes.js';
import { sleep, waitFor } from './waiting.js';

export const readLevels = ['linearizable', 'none'] as const;
export type ReadLevel = (typeof readLevels)[number];

export interface ReadScalingSettings {
  /** Cluster sizes, measured in this order; ratios are to the first. */
  readonly nodeCounts: readonly number[];
  readonly clientCount: number;
  /** Each (node count, level) row: its reads issued and its time, over all rounds. */
  readonly row: LoadBounds;
  readonly roundCount: number;
  /** Rows in the table the reads pick from (point reads by primary key). */
  readonly tableRowCount: number;
}

export const tableRowsPerBatch = 100;
/** Bound on waiting for a node to hold the whole table (a follower catching up). */
export const tableWaitMs = 60_000;
/** Reads per client before the rounds, not measured: the JIT and the connections warm up. */
export const warmUpReadsPerClient = 4;
/** How long each cluster's CPU is sampled with no reads: what its nodes spend on heartbeats and timers alone. */
export const idleSampleMs = 1_000;

export interface ReadScalingRow {
  readonly nodeCount: number;
  readonly level: ReadLevel;
  /** 1-based number of the node that led when the rounds ended (node n listens on 127.0.0.n). */
  readonly leaderNodeNumber: number;
  readonly acknowledgedCount: number;
  readonly failedCount: number;
  readonly elapsedMs: number;
  readonly readsPerSecond: number;
  readonly roundReadsPerSecond: number[];
  /** readsPerSecond ÷ the same level's on the first node count (1 for the first itself). */
  readonly ratioToFirst: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time all node processes of the cluster used during the row's rounds. */
  readonly nodeCpuSeconds: number;
  /** The same by node index (node 1 bootstrapped the cluster; the leader is wherever the election put it). */
  readonly nodeCpuSecondsPerNode: number[];
  readonly readsPerNodeCpuSecond: number;
  /**
   * Reads ÷ the CPU time of the busiest node: about the reads/s this cluster would reach
   * if every node had one core of its own, the busiest saturated (an estimate from the
   * measured cost, not a measurement; it leaves out the network and the clients).
   */
  readonly readsPerBusiestNodeCpuSecond: number;
  /** nodeCpuSeconds ÷ elapsed seconds: the cores the nodes kept busy on average. */
  readonly nodeCoresBusy: number;
  /** The same with no reads running (sampled for idleSampleMs before the rounds): heartbeats and timers. */
  readonly idleNodeCoresBusy: number;
  /** CPU time this process (the load generator) used during the row's rounds. */
  readonly loadGeneratorCpuSeconds: number;
  /** Acknowledged reads sent to node i (its clients). */
  readonly sentPerNode: number[];
  /** Acknowledged reads that node i ran, by X-RQLITE-SERVED-BY. */
  readonly servedPerNode: number[];
  /** Acknowledged reads run by the node they were sent to (not forwarded). */
  readonly servedWhereSentFraction: number;
}

export interface ReadScalingReport {
  readonly startedAt: string;
  readonly machine: { readonly cpuCount: number; readonly nodeVersion: string; readonly platform: string; readonly loadAverageAtStart: number };
  readonly settings: ReadScalingSettings;
  readonly rows: ReadScalingRow[];
}

/** What one (node count, level) row gathered over its rounds. */
interface Gathered {
  readonly rounds: LoadSamples[];
  readonly nodeCpuSecondsPerNode: number[];
  loadGeneratorCpuSeconds: number;
  readonly sentPerNode: number[];
  readonly servedPerNode: number[];
  servedWhereSentCount: number;
}

export function checkSettings(settings: ReadScalingSettings): void {
  if (settings.nodeCounts.length === 0) throw new RangeError('at least one node count');
  if (new Set(settings.nodeCounts).size !== settings.nodeCounts.length) throw new RangeError(`node counts repeat: ${settings.nodeCounts.join(',')}`);
  if (!(Number.isInteger(settings.clientCount) && settings.clientCount >= 1)) throw new RangeError(`clientCount ${settings.clientCount}`);
  if (!(Number.isInteger(settings.roundCount) && settings.roundCount >= 1)) throw new RangeError(`roundCount ${settings.roundCount}`);
  if (!(Number.isInteger(settings.tableRowCount) && settings.tableRowCount >= 1)) throw new RangeError(`tableRowCount ${settings.tableRowCount}`);
}

/** Creates the table and writes its rows through the leader, then waits until every node can read the last one. */
async function loadTable(system: QuorumliteSystem, rowCount: number): Promise<void> {
  await system.prepare();
  for (let first = 1; first <= rowCount; first += tableRowsPerBatch) {
    const keys = Array.from({ length: Math.min(tableRowsPerBatch, rowCount - first + 1) }, (_, offset) => first + offset);
    const written = await system.writeBatch(keys.map((key) => [benchKey(key), benchValue(key)] as const));
    if (!written) throw new Error(`quorumlite ${system.nodeCount} nodes: writing rows ${first}.. failed`);
  }
  await Promise.all(
    Array.from({ length: system.nodeCount }, (_, index) =>
      waitFor(
        `node ${index + 1} of ${system.nodeCount} holding the table`,
        async () => ((await system.readServedBy(index, benchKey(rowCount), 'none')) === undefined ? undefined : true),
        tableWaitMs,
      ),
    ),
  );
}

/** Each node process's CPU time so far, by node index. */
function nodeCpuSeconds(system: QuorumliteSystem): number[] {
  return system.pids().map((pid, index) => {
    const seconds = pid === undefined ? undefined : readCpuSeconds(pid);
    if (seconds === undefined) throw new Error(`quorumlite ${system.nodeCount} nodes: node ${index + 1} is not running`);
    return seconds;
  });
}

function loadGeneratorCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1_000_000;
}

/** One round of one row: clientCount clients, client i reading through node i mod nodeCount. */
async function measureRound(system: QuorumliteSystem, level: ReadLevel, settings: ReadScalingSettings, bounds: LoadBounds, gathered: Gathered): Promise<void> {
  const addressIndex = new Map(system.raftAddresses().map((address, index) => [address, index] as const));
  const cpuBefore = nodeCpuSeconds(system);
  const loadCpuBefore = loadGeneratorCpuSeconds();
  const samples = await collectLoad(
    async (sequenceNumber, clientIndex) => {
      const nodeIndex = clientIndex % system.nodeCount;
      const servedBy = await system.readServedBy(nodeIndex, benchKey(1 + (sequenceNumber % settings.tableRowCount)), level);
      if (servedBy === undefined) return false;
      gathered.sentPerNode[nodeIndex] = (gathered.sentPerNode[nodeIndex] ?? 0) + 1;
      const servingIndex = addressIndex.get(servedBy);
      if (servingIndex !== undefined) gathered.servedPerNode[servingIndex] = (gathered.servedPerNode[servingIndex] ?? 0) + 1;
      if (servingIndex === nodeIndex) gathered.servedWhereSentCount += 1;
      return true;
    },
    settings.clientCount,
    bounds,
  );
  gathered.loadGeneratorCpuSeconds += loadGeneratorCpuSeconds() - loadCpuBefore;
  const cpuAfter = nodeCpuSeconds(system);
  cpuAfter.forEach((seconds, index) => {
    gathered.nodeCpuSecondsPerNode[index] = (gathered.nodeCpuSecondsPerNode[index] ?? 0) + seconds - (cpuBefore[index] ?? seconds);
  });
  gathered.rounds.push(samples);
}

function emptyGathered(nodeCount: number): Gathered {
  const zeros = (): number[] => Array.from({ length: nodeCount }, () => 0);
  return { rounds: [], nodeCpuSecondsPerNode: zeros(), loadGeneratorCpuSeconds: 0, sentPerNode: zeros(), servedPerNode: zeros(), servedWhereSentCount: 0 };
}

/** The cores a cluster's nodes keep busy with no reads, over idleSampleMs. */
async function idleCoresBusy(system: QuorumliteSystem): Promise<number> {
  const total = (): number => nodeCpuSeconds(system).reduce((sum, seconds) => sum + seconds, 0);
  const before = total();
  const startedMs = performance.now();
  await sleep(idleSampleMs);
  return (total() - before) / ((performance.now() - startedMs) / 1000);
}

/** What a row is computed from besides its own samples. */
interface RowContext {
  readonly nodeCount: number;
  readonly leaderNodeNumber: number;
  readonly idleNodeCoresBusy: number;
}

function toRow(context: RowContext, level: ReadLevel, gathered: Gathered, firstReadsPerSecond: number | undefined): ReadScalingRow {
  const load = summarise(gathered.rounds);
  const elapsedSeconds = load.elapsedMs / 1000;
  const cpuSeconds = gathered.nodeCpuSecondsPerNode.reduce((total, seconds) => total + seconds, 0);
  const busiestCpuSeconds = Math.max(...gathered.nodeCpuSecondsPerNode);
  return {
    nodeCount: context.nodeCount,
    level,
    leaderNodeNumber: context.leaderNodeNumber,
    acknowledgedCount: load.acknowledgedCount,
    failedCount: load.failedCount,
    elapsedMs: load.elapsedMs,
    readsPerSecond: load.operationsPerSecond,
    roundReadsPerSecond: load.roundOperationsPerSecond,
    ratioToFirst: firstReadsPerSecond === undefined ? 1 : load.operationsPerSecond / firstReadsPerSecond,
    p50Ms: load.p50Ms,
    p99Ms: load.p99Ms,
    nodeCpuSeconds: cpuSeconds,
    nodeCpuSecondsPerNode: gathered.nodeCpuSecondsPerNode,
    readsPerNodeCpuSecond: cpuSeconds > 0 ? load.acknowledgedCount / cpuSeconds : Number.NaN,
    readsPerBusiestNodeCpuSecond: busiestCpuSeconds > 0 ? load.acknowledgedCount / busiestCpuSeconds : Number.NaN,
    nodeCoresBusy: elapsedSeconds > 0 ? cpuSeconds / elapsedSeconds : Number.NaN,
    idleNodeCoresBusy: context.idleNodeCoresBusy,
    loadGeneratorCpuSeconds: gathered.loadGeneratorCpuSeconds,
    sentPerNode: gathered.sentPerNode,
    servedPerNode: gathered.servedPerNode,
    servedWhereSentFraction: load.acknowledgedCount > 0 ? gathered.servedWhereSentCount / load.acknowledgedCount : Number.NaN,
  };
}

/**
 * Starts one cluster per node count into `systems` (and `running`, before it starts, so a
 * caller can stop it on a signal), each loaded and warmed up.
 */
async function startClusters(
  settings: ReadScalingSettings,
  systems: QuorumliteSystem[],
  running: Set<QuorumliteSystem>,
  progress: (message: string) => void,
): Promise<void> {
  const warmUp: LoadBounds = { operationCountMax: settings.clientCount * warmUpReadsPerClient, durationMsMax: settings.row.durationMsMax };
  for (const nodeCount of settings.nodeCounts) {
    const system = new QuorumliteSystem({ nodeCount });
    running.add(system);
    systems.push(system);
    progress(`starting a ${nodeCount}-node cluster`);
    try {
      await system.start();
      await loadTable(system, settings.tableRowCount);
      for (const level of readLevels) await measureRound(system, level, settings, warmUp, emptyGathered(nodeCount));
    } catch (error) {
      throw new Error(`${nodeCount}-node cluster: ${error instanceof Error ? error.message : String(error)}\n${system.logs()}`, { cause: error });
    }
  }
}

/**
 * Measures every (node count, level) row and stops every cluster it started, whatever
 * happens. `running` holds the clusters while they run (for a caller's signal handler).
 */
export async function measureReadScaling(
  settings: ReadScalingSettings,
  running: Set<QuorumliteSystem>,
  progress: (message: string) => void,
): Promise<ReadScalingReport> {
  checkSettings(settings);
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = loadavg()[0] ?? Number.NaN;
  const systems: QuorumliteSystem[] = [];
  try {
    await startClusters(settings, systems, running, progress);
    const idle: number[] = [];
    for (const system of systems) idle.push(await idleCoresBusy(system));
    const gathered = systems.map((system) => readLevels.map(() => emptyGathered(system.nodeCount)));
    const rowBounds = boundsPerRound(settings.row, settings.roundCount);
    for (let round = 0; round < settings.roundCount; round += 1) {
      for (const [position, system] of systems.entries()) {
        for (const [levelPosition, level] of readLevels.entries()) {
          progress(`round ${round + 1}/${settings.roundCount}: ${system.nodeCount} node(s), level ${level}`);
          await measureRound(system, level, settings, rowBounds, gathered[position]![levelPosition]!);
        }
      }
    }
    const contexts: RowContext[] = [];
    for (const [position, system] of systems.entries()) {
      contexts.push({ nodeCount: system.nodeCount, leaderNodeNumber: (await system.leaderIndex()) + 1, idleNodeCoresBusy: idle[position]! });
    }
    const rows = readLevels.flatMap((level, levelPosition) => {
      const first = toRow(contexts[0]!, level, gathered[0]![levelPosition]!, undefined);
      return contexts.map((context, position) => (position === 0 ? first : toRow(context, level, gathered[position]![levelPosition]!, first.readsPerSecond)));
    });
    return {
      startedAt,
      machine: { cpuCount: cpus().length, nodeVersion: process.version, platform: `${platform()} ${release()}`, loadAverageAtStart },
      settings,
      rows,
    };
  } finally {
    for (const system of systems) {
      await system.stop().catch((error: unknown) => progress(`stopping the ${system.nodeCount}-node cluster: ${String(error)}`));
      running.delete(system);
    }
  }
}
