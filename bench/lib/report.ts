/**
 * Turns the run's results into a markdown table (each system's numbers and quorumlite's
 * ratio to each peer), the raw JSON, and a plain SVG bar chart (one panel per metric,
 * one colour per system, labelled axes and values).
 */
import { fullRunIdleMs, type LoadResult } from './measure.js';
import type { FloorResults, ReplicatedResults } from './workloads.js';
import type { SqliteResults } from '../peers/sqlite.js';

export const systemNames = ['quorumlite', 'etcd', 'dqlite', 'sqlite', 'http-floor', 'quorumlite-etcd'] as const;
export type SystemName = (typeof systemNames)[number];

export interface SystemReport {
  readonly name: SystemName;
  readonly status: 'ok' | 'missing' | 'failed';
  /** Why missing (with how to install) or why it failed; '' when ok. */
  readonly detail: string;
  readonly durability: string;
  readonly replicated: ReplicatedResults | null;
  readonly sqlite: (SqliteResults & { readonly rowsPerBatch: number }) | null;
  readonly floor: FloorResults | null;
}

export interface RunReport {
  readonly startedAt: string;
  readonly mode: 'quick' | 'full';
  readonly machine: { readonly cpuCount: number; readonly nodeVersion: string; readonly platform: string };
  readonly systems: readonly SystemReport[];
}

/** A number, or why there is none ('n/a': the system has no such workload). */
type Cell = number | 'n/a';

export interface Metric {
  readonly key: string;
  readonly workload: string;
  readonly label: string;
  readonly unit: 'ops/s' | 'rows/s' | 'ms' | 'MiB';
  readonly higherIsBetter: boolean;
  /** Panel title in the chart, or undefined when the metric is only in the table. */
  readonly chartTitle: string | undefined;
  readonly value: (system: SystemReport) => Cell;
}

const mebibyte = 1024 * 1024;

function fromReplicated(pick: (results: ReplicatedResults) => number | null | undefined): (system: SystemReport) => Cell {
  return (system) => {
    if (system.replicated === null) return 'n/a';
    const value = pick(system.replicated);
    return value === null || value === undefined || Number.isNaN(value) ? 'n/a' : value;
  };
}

function bySource(
  replicated: (results: ReplicatedResults) => number | null | undefined,
  sqlite: ((results: SqliteResults & { rowsPerBatch: number }) => number) | undefined,
  floor?: (results: FloorResults) => number,
): (system: SystemReport) => Cell {
  const fromCluster = fromReplicated(replicated);
  return (system) => {
    if (system.floor !== null) return floor === undefined ? 'n/a' : floor(system.floor);
    if (system.sqlite !== null) return sqlite === undefined ? 'n/a' : sqlite(system.sqlite);
    return fromCluster(system);
  };
}

const loadOps = (load: LoadResult | null | undefined): number | undefined => load?.operationsPerSecond;

const afterIdleWorkload = `10. sequential single-row writes, right after every system sat idle (${fullRunIdleMs / 1000} s in a full run)`;

export const metrics: readonly Metric[] = [
  {
    key: 'sequentialOps',
    workload: '1. sequential single-row writes',
    label: 'throughput',
    unit: 'ops/s',
    higherIsBetter: true,
    chartTitle: 'sequential writes',
    value: bySource(
      (results) => loadOps(results.sequentialWrites),
      (results) => results.sequentialWrites.operationsPerSecond,
    ),
  },
  {
    key: 'sequentialP50',
    workload: '1. sequential single-row writes',
    label: 'p50',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: 'sequential writes: p50',
    value: bySource(
      (results) => results.sequentialWrites.p50Ms,
      (results) => results.sequentialWrites.p50Ms,
    ),
  },
  {
    key: 'sequentialP99',
    workload: '1. sequential single-row writes',
    label: 'p99',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: undefined,
    value: bySource(
      (results) => results.sequentialWrites.p99Ms,
      (results) => results.sequentialWrites.p99Ms,
    ),
  },
  {
    key: 'concurrentOps',
    workload: '2. 64 concurrent clients, single-row writes',
    label: 'throughput',
    unit: 'ops/s',
    higherIsBetter: true,
    chartTitle: '64-client writes',
    value: bySource((results) => loadOps(results.concurrentWrites), undefined),
  },
  {
    key: 'concurrentP50',
    workload: '2. 64 concurrent clients, single-row writes',
    label: 'p50',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: undefined,
    value: bySource((results) => results.concurrentWrites.p50Ms, undefined),
  },
  {
    key: 'concurrentP99',
    workload: '2. 64 concurrent clients, single-row writes',
    label: 'p99',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: '64-client writes: p99',
    value: bySource((results) => results.concurrentWrites.p99Ms, undefined),
  },
  {
    key: 'batchedRows',
    workload: '3. batched writes, 100 rows per request',
    label: 'throughput',
    unit: 'rows/s',
    higherIsBetter: true,
    chartTitle: 'batched writes (100 rows/request)',
    value: bySource(
      (results) => results.batchedWrites?.rowsPerSecond,
      (results) => results.batchedWrites.operationsPerSecond * results.rowsPerBatch,
    ),
  },
  {
    key: 'fastReadOps',
    workload: '4. point reads, fastest level',
    label: 'throughput',
    unit: 'ops/s',
    higherIsBetter: true,
    chartTitle: 'point reads, fastest level',
    value: bySource(
      (results) => loadOps(results.fastReads),
      (results) => results.reads.operationsPerSecond,
      (results) => results.reads.operationsPerSecond,
    ),
  },
  {
    key: 'fastReadP50',
    workload: '4. point reads, fastest level',
    label: 'p50',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: undefined,
    value: bySource(
      (results) => results.fastReads?.p50Ms,
      (results) => results.reads.p50Ms,
      (results) => results.reads.p50Ms,
    ),
  },
  {
    key: 'linearizableReadOps',
    workload: '4. point reads, linearizable',
    label: 'throughput',
    unit: 'ops/s',
    higherIsBetter: true,
    chartTitle: 'point reads, linearizable',
    value: bySource(
      (results) => loadOps(results.linearizableReads),
      (results) => results.reads.operationsPerSecond,
    ),
  },
  {
    key: 'linearizableReadP50',
    workload: '4. point reads, linearizable',
    label: 'p50',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: undefined,
    value: bySource(
      (results) => results.linearizableReads?.p50Ms,
      (results) => results.reads.p50Ms,
    ),
  },
  {
    key: 'failoverP50',
    workload: '5. failover: kill -9 leader → first acknowledged write',
    label: 'p50',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: 'failover (kill -9 → write): p50',
    value: bySource((results) => results.failover.p50Ms, undefined),
  },
  {
    key: 'failoverMax',
    workload: '5. failover: kill -9 leader → first acknowledged write',
    label: 'max',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: 'failover (kill -9 → write): max',
    value: bySource((results) => results.failover.maxMs, undefined),
  },
  {
    key: 'peakRss',
    workload: '6. memory during workload 2',
    label: 'peak RSS, largest node',
    unit: 'MiB',
    higherIsBetter: false,
    chartTitle: 'peak RSS of a node, 64-client writes',
    value: bySource((results) => Math.max(...results.memory.peakResidentBytesPerNode) / mebibyte, undefined),
  },
  {
    key: 'spreadFastReadOps',
    workload: '7. point reads, 64 clients over every node, fastest level',
    label: 'throughput',
    unit: 'ops/s',
    higherIsBetter: true,
    chartTitle: '64-client reads on every node, fastest',
    value: bySource(
      (results) => loadOps(results.spreadFastReads),
      undefined,
      (results) => results.spreadReads.operationsPerSecond,
    ),
  },
  {
    key: 'spreadFastReadP99',
    workload: '7. point reads, 64 clients over every node, fastest level',
    label: 'p99',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: undefined,
    value: bySource(
      (results) => results.spreadFastReads?.p99Ms,
      undefined,
      (results) => results.spreadReads.p99Ms,
    ),
  },
  {
    key: 'spreadLinearizableReadOps',
    workload: '7. point reads, 64 clients over every node, linearizable',
    label: 'throughput',
    unit: 'ops/s',
    higherIsBetter: true,
    chartTitle: '64-client reads on every node, linearizable',
    value: bySource((results) => loadOps(results.spreadLinearizableReads), undefined),
  },
  {
    key: 'mixedOps',
    workload: '8. 64 clients, 90% reads (fastest, every node) / 10% writes',
    label: 'throughput',
    unit: 'ops/s',
    higherIsBetter: true,
    chartTitle: '64 clients, 90% reads / 10% writes',
    value: bySource((results) => loadOps(results.mixed), undefined),
  },
  {
    key: 'mixedP99',
    workload: '8. 64 clients, 90% reads (fastest, every node) / 10% writes',
    label: 'p99',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: undefined,
    value: bySource((results) => results.mixed?.p99Ms, undefined),
  },
  {
    key: 'hungFailoverP50',
    workload: '9. failover: SIGSTOP leader → first acknowledged write',
    label: 'p50',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: 'hung leader (SIGSTOP → write): p50',
    value: bySource((results) => results.hungFailover.p50Ms, undefined),
  },
  {
    key: 'hungFailoverMax',
    workload: '9. failover: SIGSTOP leader → first acknowledged write',
    label: 'max',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: undefined,
    value: bySource((results) => results.hungFailover.maxMs, undefined),
  },
  {
    key: 'afterIdleOps',
    workload: afterIdleWorkload,
    label: 'throughput',
    unit: 'ops/s',
    higherIsBetter: true,
    chartTitle: 'sequential writes after an idle spell',
    value: bySource((results) => loadOps(results.sequentialWritesAfterIdle), undefined),
  },
  {
    key: 'afterIdleP50',
    workload: afterIdleWorkload,
    label: 'p50',
    unit: 'ms',
    higherIsBetter: false,
    chartTitle: undefined,
    value: bySource((results) => results.sequentialWritesAfterIdle?.p50Ms, undefined),
  },
  {
    key: 'fsyncOps',
    workload: 'floor: 4 KiB write + fdatasync',
    label: 'rate',
    unit: 'ops/s',
    higherIsBetter: true,
    chartTitle: undefined,
    value: bySource(
      () => undefined,
      (results) => results.fsync.operationsPerSecond,
    ),
  },
];

export function formatNumber(value: number, unit: Metric['unit']): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'ms') return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value >= 0.1 ? value.toFixed(2) : value.toFixed(4);
  if (unit === 'MiB') return value.toFixed(0);
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
}

function cellText(system: SystemReport, metric: Metric): string {
  if (system.status === 'missing') return 'missing';
  if (system.status === 'failed') return 'failed';
  const value = metric.value(system);
  return value === 'n/a' ? 'n/a' : formatNumber(value, metric.unit);
}

/** quorumlite ÷ peer, or undefined when either side has no number. */
export function ratio(quorumlite: SystemReport, peer: SystemReport, metric: Metric): number | undefined {
  if (quorumlite.status !== 'ok' || peer.status !== 'ok') return undefined;
  const ours = metric.value(quorumlite);
  const theirs = metric.value(peer);
  if (ours === 'n/a' || theirs === 'n/a' || !(theirs > 0) || !Number.isFinite(ours)) return undefined;
  return ours / theirs;
}

function readLabels(system: SystemReport): string {
  if (system.floor !== null) return "reads: bare node:http answering a point read's JSON (3 processes; workload 4 uses one)";
  if (system.replicated === null) return system.sqlite === null ? '' : 'reads: SELECT in-process';
  const labels = [system.replicated.fastReads?.label, system.replicated.linearizableReads?.label].filter((label) => label !== undefined);
  return labels.length === 0 ? '' : `reads: ${labels.join(' / ')}`;
}

export function renderMarkdown(report: RunReport): string {
  const quorumlite = report.systems.find((system) => system.name === 'quorumlite');
  const peers = report.systems.filter((system) => system.name !== 'quorumlite');
  const ratioPeers = quorumlite === undefined ? [] : peers;
  const header = ['workload', 'metric', ...report.systems.map((system) => system.name), ...ratioPeers.map((peer) => `quorumlite ÷ ${peer.name}`)];
  const machine = `Machine: ${report.machine.cpuCount} CPUs, Node ${report.machine.nodeVersion}, ${report.machine.platform}.`;
  const setup = 'Every cluster: 3 nodes on loopback, durable commits (below). Keys 16 B, values 100 B.';
  const method = [
    'Measured side by side in one run, after a warm-up in which every system ran each kind of load unmeasured;',
    'each measured round of workloads 1-4, 7 and 8 follows an unmeasured lead-in of the same load on the same system',
    '(workload 10 measures a system just after it sat idle);',
  ].join(' ');
  const lines = [
    `# quorumlite vs etcd, dqlite and raw SQLite (${report.mode} run, ${report.startedAt})`,
    '',
    `${machine} ${setup} ${method} compare ratios, not absolute numbers.`,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
  ];
  for (const metric of metrics) {
    const cells = report.systems.map((system) => cellText(system, metric));
    // leave out a row that no measured system has a number for (the fsync floor without sqlite)
    const measured = report.systems.filter((system) => system.status === 'ok');
    if (measured.length > 0 && measured.every((system) => metric.value(system) === 'n/a')) continue;
    const ratios = ratioPeers.map((peer) => {
      const value = quorumlite === undefined ? undefined : ratio(quorumlite, peer, metric);
      return value === undefined ? '–' : `${value.toFixed(2)}x`;
    });
    const label = `${metric.label} (${metric.unit}, ${metric.higherIsBetter ? 'higher' : 'lower'} is better)`;
    lines.push(`| ${metric.workload} | ${label} | ${[...cells, ...ratios].join(' | ')} |`);
  }
  lines.push('', 'Ratio = quorumlite ÷ peer: above 1x is better for ops/s and rows/s, below 1x is better for ms and MiB.');
  lines.push(...goalLines(report), '');
  lines.push('| system | status | durability | notes |', '| --- | --- | --- | --- |');
  for (const system of report.systems) {
    const notes = [system.detail, readLabels(system), failureNote(system), failoverNote(system)].filter((note) => note !== '').join('; ');
    lines.push(`| ${system.name} | ${system.status} | ${system.durability} | ${notes.replaceAll('|', '\\|').replaceAll('\n', ' ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** Replies that were not acknowledgements (errors, `database is locked`, timeouts). */
function failureNote(system: SystemReport): string {
  const results = system.replicated;
  if (results === null) return '';
  const loads = [
    ['sequential', results.sequentialWrites],
    ['64-client', results.concurrentWrites],
  ] as const;
  const counted = loads
    .filter(([, load]) => load.failedCount > 0)
    .map(([name, load]) => `${name} writes: ${load.failedCount} of ${load.failedCount + load.acknowledgedCount} not acknowledged`)
    .join(', ');
  // Older result files have no tally.
  const replies = (results.failedReplies ?? []).map(({ reply, count }) => `${JSON.stringify(reply)} ×${count}`).join(', ');
  if (counted === '' || replies === '') return counted;
  return `${counted} (replies to writes that were not acknowledgements, whole run: ${replies})`;
}

function failoverNote(system: SystemReport): string {
  const results = system.replicated;
  if (results === null) return '';
  const trials = (failover: ReplicatedResults['failover']): string =>
    `${failover.trialsMs.map((value) => value.toFixed(0)).join(', ')}${failover.timedOutTrialCount > 0 ? `, ${failover.timedOutTrialCount} timed out` : ''}`;
  const hung = results.hungFailover;
  return `failover trials (ms): ${trials(results.failover)}; hung-leader trials (ms, ${hung.via}): ${trials(hung)}`;
}

/** quorumlite against its floors and goals (issue 16); undefined parts print as –. */
export const goals = [
  { what: 'point reads at level none, 1 client ÷ http floor', metric: 'fastReadOps', floor: 'http-floor', atLeast: 0.7 },
  { what: 'point reads at level none, 64 clients over every node ÷ http floor', metric: 'spreadFastReadOps', floor: 'http-floor', atLeast: 0.7 },
  { what: 'batched writes (100 rows per request) ÷ SQLite, 100 rows per transaction', metric: 'batchedRows', floor: 'sqlite', atLeast: 0.35 },
] as const;

export const hungFailoverGoalMs = 500;

function goalLines(report: RunReport): string[] {
  const quorumlite = report.systems.find((system) => system.name === 'quorumlite');
  if (quorumlite === undefined) return [];
  const lines = ['| goal | measured | target | met |', '| --- | --- | --- | --- |'];
  for (const goal of goals) {
    const metric = metrics.find((candidate) => candidate.key === goal.metric);
    const floor = report.systems.find((system) => system.name === goal.floor);
    const value = metric === undefined || floor === undefined ? undefined : ratio(quorumlite, floor, metric);
    const met = value === undefined ? '–' : value >= goal.atLeast ? 'yes' : 'no';
    lines.push(`| quorumlite ${goal.what} | ${value === undefined ? '–' : `${value.toFixed(2)}x`} | ≥ ${goal.atLeast}x | ${met} |`);
  }
  const hungP50 = quorumlite.replicated?.hungFailover.p50Ms;
  const hungText = hungP50 === undefined || !Number.isFinite(hungP50) ? '–' : `${hungP50.toFixed(0)} ms`;
  const hungMet = hungText === '–' || hungP50 === undefined ? '–' : hungP50 < hungFailoverGoalMs ? 'yes' : 'no';
  lines.push(`| quorumlite hung leader (SIGSTOP) → first acknowledged write through its client, p50 | ${hungText} | < ${hungFailoverGoalMs} ms | ${hungMet} |`);
  return ['', ...lines];
}
