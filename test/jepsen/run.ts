/**
 * One fault-suite run: form a cluster, run the workload's clients while the nemesis
 * schedule injects faults, heal, reconcile the membership, wait until every node holds
 * the same data, read everything back, check the history, write the report.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { Prng } from '../sim/prng.js';
import { iptablesUnavailableReason, PacketFilter } from '../cluster/packet-filter.js';
import { fakeTimeLibraryPath, JepsenCluster } from './cluster.js';
import { runClients, runFinalReads, runSetup } from './clients.js';
import { failoverTimesMs, fatalErrorCheck, finalClusterChecks, reconcileMembers } from './final-checks.js';
import type { NemesisKind, OperationRecord } from './history.js';
import { clockNemesis } from './nemesis/clock.js';
import { diskNemesis } from './nemesis/disk.js';
import { membershipNemesis } from './nemesis/membership.js';
import type { Nemesis } from './nemesis/nemesis.js';
import { partitionNemesis } from './nemesis/partition.js';
import { killNemesis, pauseNemesis } from './nemesis/process-faults.js';
import { etcdNemesis } from './nemesis/etcd-faults.js';
import { etcdMemberBit, etcdPartitionNemesis, nodeBit, nodeIndexBit } from './nemesis/etcd-partition.js';
import type { TestNode } from '../cluster/harness.js';
import { EtcdPacketFilter, groupIdForBit } from './etcd-packet-filter.js';
import { EtcdCluster } from '../etcd/etcd-cluster.js';
import { NemesisSchedule, type ScheduleOptions, scheduleDefaults } from './nemesis/schedule.js';
import { overallVerdict } from './report-model.js';
import { type RunSummary, summaryText, writeReport } from './report.js';
import type { FinalCheck, Workload } from './workload.js';
import { BankWorkload } from './workloads/bank.js';
import { ListAppendWorkload } from './workloads/list-append.js';
import { RegisterWorkload } from './workloads/register.js';

export const workloadNames = ['register', 'list-append', 'bank'] as const;
export type WorkloadName = (typeof workloadNames)[number];
export const nemesisKinds: readonly NemesisKind[] = ['kill', 'pause', 'partition', 'clock', 'disk', 'membership'];
/**
 * With `--consensus etcd`: the faults that apply (membership is etcd's registrations).
 * Partitions are etcd-partition's: between etcd's members and between nodes and etcd.
 */
export const etcdNemesisKinds: readonly NemesisKind[] = ['kill', 'pause', 'etcd', 'etcd-partition'];
const etcdMemberCount = 3;

export interface RunOptions {
  readonly workload: WorkloadName;
  readonly nodeCount: number;
  readonly timeLimitMs: number;
  readonly nemeses: readonly NemesisKind[];
  readonly concurrency: number;
  readonly seed: number;
  readonly outDirectory: string;
  readonly readLevels: readonly string[];
  readonly operationTimeoutMs: number;
  /** Bound on the history: clients stop after this many operations. */
  readonly operationCountMax: number;
  /** Extra `quorumlite serve` flags for every node. */
  readonly nodeFlags: readonly string[];
  readonly schedule?: ScheduleOptions;
  /** Bound on healing: every node back, converged and answering. */
  readonly healTimeoutMs?: number;
  /** 'etcd': the nodes keep their log in a 3-member etcd cluster the run starts (test/etcd/etcd-cluster.ts). */
  readonly consensus?: 'raft' | 'etcd';
}

export interface RunResult {
  readonly valid: true | false | 'unknown';
  readonly summary: RunSummary;
  readonly paths: { readonly htmlPath: string; readonly historyPath: string; readonly summaryPath: string };
  readonly text: string;
}

/** Small snapshot thresholds, so that restarts and new members go through snapshots. */
export const defaultNodeFlags = ['--log-level', 'info', '--raft-snap', '200', '--raft-trailing-logs', '50', '--raft-snap-int', '1s'];

export function makeWorkload(name: WorkloadName, readLevels: readonly string[]): Workload {
  if (name === 'register') return new RegisterWorkload({ readLevels });
  if (name === 'list-append') return new ListAppendWorkload({ readLevels });
  return new BankWorkload({ readLevels });
}

/** Why a nemesis cannot run on this machine, or undefined when it can. */
export function nemesisUnavailableReason(kind: NemesisKind): string | undefined {
  if (kind === 'partition') return iptablesUnavailableReason();
  if (kind === 'etcd-partition')
    return process.getuid?.() !== 0 ? 'etcd partitions run each process under its own group id: run as root' : iptablesUnavailableReason();
  if (kind === 'disk' && process.getuid?.() !== 0) return 'disk faults mount a tmpfs per node: run as root';
  if (kind === 'clock' && !existsSync(fakeTimeLibraryPath)) return `clock faults need libfaketime (${fakeTimeLibraryPath}): apt-get install faketime`;
  return undefined;
}

interface Filters {
  readonly nodes: PacketFilter | undefined;
  readonly etcd: EtcdPacketFilter | undefined;
}

function makeNemeses(options: RunOptions, filters: Filters, etcd: EtcdCluster | undefined): Nemesis[] {
  return options.nemeses.map((kind) => {
    if (kind === 'etcd-partition') {
      if (etcd === undefined || filters.etcd === undefined) throw new Error('the etcd-partition nemesis needs --consensus etcd');
      return etcdPartitionNemesis(etcd, filters.etcd);
    }
    if (kind === 'etcd') {
      if (etcd === undefined) throw new Error('the etcd nemesis needs --consensus etcd');
      return etcdNemesis(etcd);
    }
    if (kind === 'kill') return killNemesis;
    if (kind === 'pause') return pauseNemesis;
    if (kind === 'clock') return clockNemesis;
    if (kind === 'disk') return diskNemesis;
    if (kind === 'membership') return membershipNemesis(options.nodeCount);
    if (filters.nodes === undefined) throw new Error('partition nemesis without a packet filter');
    return partitionNemesis(filters.nodes);
  });
}

export async function runJepsen(options: RunOptions, log: (line: string) => void = (line) => console.log(line)): Promise<RunResult> {
  for (const kind of options.nemeses) {
    const reason = nemesisUnavailableReason(kind);
    if (reason !== undefined) throw new Error(`nemesis ${kind} cannot run here: ${reason}`);
  }
  mkdirSync(options.outDirectory, { recursive: true });
  const etcdPartitions = options.nemeses.includes('etcd-partition');
  const memberGroupIds = etcdPartitions ? Array.from({ length: etcdMemberCount }, (_, index) => groupIdForBit(etcdMemberBit(index))) : undefined;
  const etcd =
    options.consensus === 'etcd' ? await EtcdCluster.start({ size: etcdMemberCount, ...(memberGroupIds === undefined ? {} : { memberGroupIds }) }) : undefined;
  try {
    return await runOnCluster(options, etcd, log);
  } finally {
    await etcd?.close();
  }
}

async function runOnCluster(options: RunOptions, etcd: EtcdCluster | undefined, log: (line: string) => void): Promise<RunResult> {
  const random = new Prng(options.seed);
  const workload = makeWorkload(options.workload, options.readLevels);
  const startedAt = new Date().toISOString();
  const etcdPartitions = etcd !== undefined && options.nemeses.includes('etcd-partition');
  const cluster = await JepsenCluster.create({
    nodeCount: options.nodeCount,
    clock: options.nemeses.includes('clock'),
    disk: options.nemeses.includes('disk'),
    flags: options.nodeFlags,
    ...(etcd === undefined ? {} : { etcd: { endpoints: etcd.endpoints, prefix: `/jepsen-${options.seed}` } }),
    ...(etcdPartitions ? { groupIdOf: (node: TestNode) => groupIdForBit(nodeBit(node)) } : {}),
  });
  let filter: PacketFilter | undefined;
  let etcdFilter: EtcdPacketFilter | undefined;
  let keep = true;
  try {
    if (options.nemeses.includes('partition')) filter = PacketFilter.open(cluster.hosts());
    if (etcdPartitions) etcdFilter = openEtcdFilter(etcd, cluster);
    log(`forming ${options.nodeCount} nodes in ${cluster.cluster.rootDirectory}`);
    await cluster.start();
    await runSetup(cluster, workload, options.operationTimeoutMs);
    const originMs = performance.now();
    const now = () => performance.now() - originMs;
    const schedule = new NemesisSchedule(
      cluster,
      makeNemeses(options, { nodes: filter, etcd: etcdFilter }, etcd),
      random.fork(),
      now,
      log,
      options.schedule ?? scheduleDefaults,
    );
    const operations: OperationRecord[] = [];
    log(`running ${workload.name} for ${options.timeLimitMs / 1000} s with ${options.concurrency} clients; nemesis ${options.nemeses.join(',') || 'none'}`);
    await Promise.all([
      schedule.run(options.timeLimitMs),
      runClients(cluster, workload, operations, { ...options, random: random.fork(), now, deadlineMs: options.timeLimitMs }),
    ]);
    await schedule.healAll();
    log(`healed at ${(now() / 1000).toFixed(1)} s; ${operations.length} operations; reconciling and waiting for every node to converge`);
    const { membershipNotes, clusterChecks } = await endRun(cluster, workload, operations, options, now);
    clusterChecks.push(fatalErrorCheck(cluster));
    const durationMs = now();
    const { required, reported } = workload.check(operations);
    const finalChecks = [...clusterChecks, ...workload.finalChecks(operations)];
    const summary: RunSummary = {
      title: `${workload.name}, ${options.nodeCount} nodes, ${options.nemeses.join('+') || 'no faults'}, ${Math.round(options.timeLimitMs / 1000)} s`,
      startedAt,
      workload: workload.name,
      nemeses: options.nemeses,
      nodeNames: cluster.cluster.nodes.map((node) => cluster.name(node)),
      durationMs,
      operations,
      nemesisEvents: schedule.events,
      verdicts: [...required, ...reported.map((verdict) => ({ ...verdict, informational: true }))],
      failoverMs: failoverTimesMs(schedule.events, operations),
      finalChecks,
      notes: [
        `seed ${options.seed}; replay the same schedule of choices with --seed ${options.seed} (timing differs run to run)`,
        `read levels by client: ${options.readLevels.join(', ')}`,
        `node flags: ${options.nodeFlags.join(' ')}`,
        `consensus: ${options.consensus ?? 'raft'}${etcd === undefined ? '' : ` (a 3-member etcd cluster on ${etcd.endpoints.join(', ')})`}`,
        ...membershipNotes,
      ],
    };
    const valid = summaryValidity(summary);
    const paths = writeReport(options.outDirectory, summary);
    keep = valid !== true;
    if (keep) log(`the run is not valid: node data directories kept in ${cluster.cluster.rootDirectory}`);
    return { valid, summary, paths, text: summaryText(summary) };
  } finally {
    filter?.close();
    etcdFilter?.close();
    cluster.copyLogs(options.outDirectory);
    await cluster.close(keep);
  }
}

/** Marks every etcd member and every node the run may start (added ones too), by group id. */
function openEtcdFilter(etcd: EtcdCluster, cluster: JepsenCluster): EtcdPacketFilter {
  const members = etcd.members.map((_, index) => etcdMemberBit(index));
  const nodes = cluster.hosts().map((_, offset) => nodeIndexBit(offset + 1));
  const bits = [...members, ...nodes];
  return EtcdPacketFilter.open(
    etcd.members.map((member) => member.host),
    bits.map((bit) => ({ bit, groupId: groupIdForBit(bit) })),
  );
}

/**
 * After healing: reconcile the membership, check convergence, read everything back. A
 * cluster that does not recover is a failed check in the report (liveness), not a crash
 * of the run: the history is still judged and written.
 */
async function endRun(
  cluster: JepsenCluster,
  workload: Workload,
  operations: OperationRecord[],
  options: RunOptions,
  now: () => number,
): Promise<{ membershipNotes: string[]; clusterChecks: FinalCheck[] }> {
  const healTimeoutMs = options.healTimeoutMs ?? 120_000;
  let membershipNotes: string[];
  try {
    membershipNotes = await reconcileMembers(cluster, healTimeoutMs);
  } catch (error) {
    const views = await Promise.all(cluster.members.map(async (node) => `${cluster.name(node)}: ${JSON.stringify(await cluster.view(node)) ?? 'no answer'}`));
    const detail = `${String(error)}; ${views.join('; ')}`;
    return { membershipNotes: [], clusterChecks: [{ name: 'a leader came back after healing', passed: false, detail }] };
  }
  const clusterChecks = await finalClusterChecks(cluster, healTimeoutMs);
  try {
    await runFinalReads(cluster, workload, operations, { timeoutMs: options.operationTimeoutMs, now });
  } catch (error) {
    clusterChecks.push({ name: 'final reads answered after healing', passed: false, detail: String(error) });
  }
  return { membershipNotes, clusterChecks };
}

/** The run's verdict, decided once (report-model's overallVerdict, which the page and the text show too). */
export function summaryValidity(summary: RunSummary): true | false | 'unknown' {
  const verdict = overallVerdict(summary);
  return verdict === 'VALID' ? true : verdict === 'INVALID' ? false : 'unknown';
}
