/**
 * The end of a run, after every fault is healed: make the member list match the
 * configuration the cluster agreed on (a membership change may have been accepted after
 * the nemesis gave up on it), then check that every member is back, none is halted, and
 * all hold the same data at the same applied index. And from the history: how long each
 * fault that took out the leader kept writes from being acknowledged.
 */
import { type TestNode, waitFor } from '../cluster/harness.js';
import type { JepsenCluster, NodeView } from './cluster.js';
import type { NemesisEvent, OperationRecord } from './history.js';
import type { FinalCheck } from './workload.js';

/** Brings the processes in line with the cluster's configuration; returns what it changed. */
export async function reconcileMembers(cluster: JepsenCluster, timeoutMs: number): Promise<string[]> {
  const notes: string[] = [];
  // First what an operator does: restart every process that is down and was not removed
  // (one that exited on its own: a failed join, a crash). The configuration may count on it.
  for (const node of cluster.cluster.nodes) {
    if (node.running || cluster.removed.has(node)) continue;
    cluster.startNode(node);
    notes.push(`restarted ${cluster.name(node)}: its process had exited and it was never removed`);
  }
  const configured = await waitFor(
    'a leader to list the configuration',
    // Every running node, not only the members the nemesis knows of: the configuration decides.
    () => cluster.configuredIds(cluster.cluster.running()),
    timeoutMs,
  );
  const members = cluster.cluster.nodes.filter((node) => configured.has(node.id));
  for (const node of cluster.cluster.nodes) {
    if (configured.has(node.id) && !node.running) {
      cluster.startNode(node);
      notes.push(`restarted ${cluster.name(node)}: in the configuration but not running`);
    }
    if (!configured.has(node.id) && node.running) {
      await cluster.kill(node);
      notes.push(`stopped ${cluster.name(node)}: running but not in the configuration`);
    }
  }
  const missing = [...configured].filter((id) => !cluster.cluster.nodes.some((node) => node.id === id));
  if (missing.length > 0) notes.push(`configuration names unknown members: ${missing.join(', ')}`);
  cluster.members = members;
  await restoreSize(cluster, notes);
  notes.push(`members at the end: ${cluster.members.map((node) => cluster.name(node)).join(', ')}`);
  return notes;
}

/** Membership faults may leave fewer members than the run began with: new nodes join until it has them again. */
async function restoreSize(cluster: JepsenCluster, notes: string[]): Promise<void> {
  const wanted = cluster.setup.nodeCount;
  while (cluster.members.length < wanted) {
    const node = await cluster.addMember();
    if (node === undefined) break;
    notes.push(`added ${cluster.name(node)} to bring the cluster back to ${wanted} members`);
  }
  if (cluster.members.length === wanted)
    await cluster.cluster.waitForMembers(wanted, wanted).catch(() => notes.push(`the cluster did not list ${wanted} voters within the bound`));
}

/** A node that logged `fatal` died of an error it did not expect: always a bug, whatever the fault. */
export function fatalErrorCheck(cluster: JepsenCluster): FinalCheck {
  const fatal: string[] = [];
  for (const node of cluster.cluster.nodes) {
    const line = node
      .log()
      .split('\n')
      .find((text) => text.includes('"event":"fatal"'));
    if (line !== undefined) fatal.push(`${cluster.name(node)}: ${line.slice(0, 400)}`);
  }
  return {
    name: 'no node died of an unexpected error',
    passed: fatal.length === 0,
    detail: fatal.length === 0 ? 'no fatal error in any node log' : fatal.join('\n'),
  };
}

export async function finalClusterChecks(cluster: JepsenCluster, timeoutMs: number): Promise<FinalCheck[]> {
  let views: NodeView[] | undefined;
  let convergenceError = '';
  try {
    views = await cluster.waitForConvergence(timeoutMs);
  } catch (error) {
    convergenceError = String(error);
  }
  const lastViews = views ?? (await Promise.all(cluster.members.map((node) => cluster.view(node))));
  const described = cluster.members.map((node, index) => {
    const view = lastViews[index];
    return view === undefined
      ? `${cluster.name(node)}: no answer`
      : `${cluster.name(node)}: ${view.state} applied ${view.appliedIndex} checksum ${view.checksum.slice(0, 12)}` +
          ` (term ${view.term}, leader ${view.leaderId || 'none'}, commit ${view.commitIndex}, last log ${view.lastLogIndex},` +
          ` snapshot ${view.lastSnapshotIndex}, voters ${view.voters.join(' ')})`;
  });
  const halted = cluster.members.filter((_, index) => lastViews[index]?.halted !== null && lastViews[index] !== undefined);
  const newestApplied = Math.max(0, ...lastViews.map((view) => view?.appliedIndex ?? 0));
  const lagging = cluster.members.filter((_, index) => (lastViews[index]?.appliedIndex ?? -1) < newestApplied);
  return [
    {
      name: 'every node converged: same applied index and checksum',
      passed: views !== undefined,
      // Failed: one line per node under the error, so a CI log shows each whole, then the warnings about the nodes behind.
      detail:
        views === undefined
          ? [convergenceError.split('\n', 1)[0], ...described, ...lagging.flatMap((node) => warningsAbout(cluster, node))].join('\n')
          : described.join('; '),
    },
    {
      name: 'no node left halted',
      passed: lastViews.every((view) => view !== undefined && view.halted === null),
      detail: halted.length === 0 ? 'none halted' : `halted: ${halted.map((node) => cluster.name(node)).join(', ')}`,
    },
  ];
}

const warningLinesMax = 3;

/**
 * For a node that did not catch up: the last warnings in its own log and the last ones
 * other nodes logged naming it (a leader failing to send it a snapshot, say), so a failed
 * run in CI says why without its kept directories.
 */
function warningsAbout(cluster: JepsenCluster, lagging: TestNode): string[] {
  const warnings = (node: TestNode, naming: boolean): string[] =>
    node
      .log()
      .split('\n')
      .filter((line) => /"level":(4|5|6)0/.test(line) && (!naming || line.includes(lagging.id)))
      .slice(-warningLinesMax)
      .map((line) => `    ${cluster.name(node)}: ${line.slice(0, 400)}`);
  const lines = [...warnings(lagging, false), ...cluster.cluster.nodes.filter((node) => node !== lagging).flatMap((node) => warnings(node, true))];
  return lines.length === 0 ? [] : [`  warnings about ${cluster.name(lagging)}, the last ${warningLinesMax} of each log:`, ...lines];
}

function isWrite(operation: OperationRecord): boolean {
  if (operation.f === 'txn') return (operation.input as readonly (readonly unknown[])[]).some((micro) => micro[0] === 'append');
  return operation.f === 'write' || operation.f === 'cas' || operation.f === 'transfer';
}

/**
 * For each lone fault that took out the leader while a quorum stayed up: ms from the fault
 * to the first write acknowledged that was invoked at or after it. Left out: faults that
 * overlap another fault (their time measures both) and kills of a majority (there is no
 * quorum to fail over to until the nodes restart), and faults with no acknowledged write
 * after them.
 */
export function failoverTimesMs(events: readonly NemesisEvent[], operations: readonly OperationRecord[]): number[] {
  const acknowledgedWrites = operations.filter((operation) => operation.outcome === 'ok' && operation.process >= 0 && isWrite(operation));
  const times: number[] = [];
  for (const event of events) {
    if (event.leaderAffected !== true || event.description.includes('majority')) continue;
    let first = Infinity;
    for (const operation of acknowledgedWrites) if (operation.invokeMs >= event.startMs && operation.completeMs < first) first = operation.completeMs;
    if (!Number.isFinite(first)) continue;
    const overlaps = events.some((other) => other !== event && other.startMs <= first && (other.endMs ?? Infinity) >= event.startMs);
    if (!overlaps) times.push(first - event.startMs);
  }
  return times;
}
