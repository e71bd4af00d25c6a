/**
 * The read-scaling run as a markdown table (one line per node count and level) and as
 * JSON (non-finite numbers written as null).
 */
import { idleSampleMs, type ReadScalingReport, type ReadScalingRow } from './read-scaling.js';

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function whole(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

function line(row: ReadScalingRow): string {
  const cells = [
    String(row.nodeCount),
    row.level,
    whole(row.readsPerSecond),
    `${fixed(row.ratioToFirst, 2)}x`,
    fixed(row.p50Ms, 1),
    fixed(row.p99Ms, 1),
    fixed(row.nodeCpuSeconds, 2),
    row.nodeCpuSecondsPerNode
      .map((seconds, index) => `${fixed(seconds, 2)}${index + 1 === row.leaderNodeNumber && row.nodeCount > 1 ? ' (leader)' : ''}`)
      .join(' / '),
    whole(row.readsPerNodeCpuSecond),
    whole(row.readsPerBusiestNodeCpuSecond),
    fixed(row.nodeCoresBusy, 2),
    fixed(row.idleNodeCoresBusy, 2),
    fixed(row.loadGeneratorCpuSeconds, 2),
    `${fixed(row.servedWhereSentFraction * 100, 1)}%`,
    row.servedPerNode.map((count) => whole(count)).join(' / '),
    String(row.failedCount),
  ];
  return `| ${cells.join(' | ')} |`;
}

export function renderReadScaling(report: ReadScalingReport): string {
  const { settings, machine } = report;
  const firstNodeCount = settings.nodeCounts[0] ?? 1;
  const seconds = settings.row.durationMsMax / 1000;
  const header = [
    'nodes',
    'level',
    'reads/s',
    `÷ ${firstNodeCount} node${firstNodeCount === 1 ? '' : 's'}`,
    'p50 ms',
    'p99 ms',
    'node CPU s',
    'CPU s per node',
    'reads per node CPU-second',
    'reads per busiest node CPU-second',
    'node cores busy',
    'same, idle',
    'load generator CPU s',
    'served where sent',
    'served per node (X-RQLITE-SERVED-BY)',
    'failed',
  ];
  const tableRows = settings.tableRowCount.toLocaleString('en-US');
  const readsMax = settings.row.operationCountMax.toLocaleString('en-US');
  const load = fixed(machine.loadAverageAtStart, 1);
  return [
    `# quorumlite read scaling (${report.startedAt})`,
    '',
    `${settings.clientCount} clients, client i reading through node i mod N; point reads by key from a ${tableRows}-row table;`,
    `${seconds} s per row in ${settings.roundCount} interleaved rounds (at most ${readsMax} reads per row).`,
    `Machine: ${machine.cpuCount} CPUs shared by every node process and the load generator; load average ${load} at start;`,
    `Node ${machine.nodeVersion}, ${machine.platform}.`,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...report.rows.map(line),
    '',
    'Node CPU: user + system time of the node processes (/proc/PID/stat, every thread) during the row. Reads per busiest node',
    'CPU-second: reads ÷ the CPU time of the node that used most, about what the cluster would serve with a core per node',
    "(an estimate from the measured cost, not a measurement). Node cores busy: node CPU ÷ the row's time; idle: the same over",
    `${idleSampleMs / 1000} s with no reads (heartbeats and timers). Served where sent: reads run by the node the client sent them to.`,
    '',
  ].join('\n');
}

export function readScalingJson(report: ReadScalingReport): string {
  return `${JSON.stringify(report, (_, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2)}\n`;
}
