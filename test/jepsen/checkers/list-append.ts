/**
 * An Elle-style checker for list-append transactions (Kingsbury & Alvaro, "Elle: inferring
 * isolation anomalies from experimental observations"). Every element appended to a key is
 * unique, so a read of a list names who wrote each of its elements and in what order they
 * committed. From the reads this infers each key's version order (its longest read), the
 * anomalies one read shows on its own (list-append-observations.ts), and a dependency graph
 * over the committed transactions:
 *   ww  the appender of version i → the appender of version i + 1
 *   wr  the appender of the last element a read saw → the reader
 *   rw  a reader that saw the list up to version i (or empty) → the appender of version i + 1;
 *       and every reader of a key → the appender of an acknowledged append no read saw
 *   realtime (with `realtime`, the default, since quorumlite claims strict serializability)
 *       T1 → T2 when T1 completed before T2 was invoked
 * Committed means ok, or info with an append some read saw; an info transaction brings only
 * its writes (its reads are unknown) and, having no known end, no outgoing real-time edge.
 * Every cycle is an anomaly; list-append-cycles.ts finds and names those of each strongly
 * connected component (at most one per name).
 */
import type { CheckerVerdict, ListAppendOperation } from '../history.js';
import { AnomalyLog } from './anomaly-log.js';
import { cyclicComponents, DependencyGraph, edgeKinds } from './dependency-graph.js';
import { type CycleFinding, findComponentCycles } from './list-append-cycles.js';
import { describeTransaction, type Observations, observe, type ReadObservation, type Transaction } from './list-append-observations.js';

export interface ListAppendCheckOptions {
  /** Add real-time edges: check strict serializability rather than serializability. Default true. */
  readonly realtime?: boolean;
  /** Anomalies kept per type (all are counted in stats). */
  readonly anomaliesPerTypeMax?: number;
  /**
   * Node visits per component and search when looking for a cycle through one edge of a
   * given kind (exactly one rw; at least one real-time): a breadth-first search per edge.
   */
  readonly searchVisitsMax?: number;
}

export const searchVisitsMaxDefault = 100_000;

export function checkListAppend(operations: readonly ListAppendOperation[], options: ListAppendCheckOptions = {}): CheckerVerdict {
  const realtime = options.realtime ?? true;
  const log = new AnomalyLog(options.anomaliesPerTypeMax);
  const observations = observe(operations, log, realtime);
  const nodes = selectNodes(observations);
  const graph = new DependencyGraph(nodes.length);
  addWriteEdges(graph, observations);
  addReadEdges(graph, observations);
  addUnobservedAppendEdges(graph, observations);
  if (realtime) addRealtimeEdges(graph, nodes);
  const allNodes = nodes.map((_, index) => index);
  const components = cyclicComponents(graph, allNodes, edgeKinds.ww | edgeKinds.wr | edgeKinds.rw | (realtime ? edgeKinds.realtime : 0));
  const cutShortCount = reportCycles(graph, nodes, components, { realtime, searchVisitsMax: options.searchVisitsMax ?? searchVisitsMaxDefault }, log);
  const outcomeCount = (outcome: string): number => operations.filter((operation) => operation.outcome === outcome).length;
  return {
    valid: log.empty,
    checker: 'list-append',
    anomalies: log.anomalies(),
    stats: {
      transactions: operations.length,
      transactionsOk: outcomeCount('ok'),
      transactionsFail: outcomeCount('fail'),
      transactionsInfo: outcomeCount('info'),
      transactionsInGraph: nodes.length,
      keys: observations.versionOrders.size,
      reads: observations.reads.length,
      edges: graph.edgeCount,
      cyclicComponents: components.length,
      largestCyclicComponent: components.reduce((largest, component) => Math.max(largest, component.length), 0),
      cycleSearchesCutShort: cutShortCount,
      ...log.stats(),
    },
  };
}

/** Logs the cycles of each component; returns how many components had a search cut short. */
function reportCycles(
  graph: DependencyGraph,
  nodes: readonly Transaction[],
  components: readonly number[][],
  options: { readonly realtime: boolean; readonly searchVisitsMax: number },
  log: AnomalyLog,
): number {
  let cutShortCount = 0;
  for (const component of components) {
    const cycles = findComponentCycles(graph, component, options.realtime, options.searchVisitsMax);
    if (cycles.searchCutShort) cutShortCount++;
    for (const finding of cycles.findings) {
      const ids = finding.path.map((node) => (nodes[node] as Transaction).record.id);
      log.add(finding.name, explainCycle(graph, nodes, finding, component.length), ids);
    }
  }
  return cutShortCount;
}

/** The committed transactions, numbered as graph nodes: ok ones and info ones whose appends were seen. */
function selectNodes(observations: Observations): Transaction[] {
  const observedWriters = new Set<Transaction>();
  for (const [key, order] of observations.versionOrders) {
    for (const element of order) {
      const site = observations.appendSites.get(key)?.get(element);
      if (site !== undefined) observedWriters.add(site.transaction);
    }
  }
  const nodes: Transaction[] = [];
  for (const transaction of observations.transactions) {
    const outcome = transaction.record.outcome;
    if (outcome === 'ok' || (outcome === 'info' && observedWriters.has(transaction))) {
      transaction.node = nodes.length;
      nodes.push(transaction);
    }
  }
  return nodes;
}

function appenderNode(observations: Observations, key: number, element: number | undefined): number {
  if (element === undefined) return -1;
  return observations.appendSites.get(key)?.get(element)?.transaction.node ?? -1;
}

/** ww: consecutive versions of a key, skipping elements with no committed appender (reported already). */
function addWriteEdges(graph: DependencyGraph, observations: Observations): void {
  for (const [key, order] of observations.versionOrders) {
    let previous = -1;
    for (const element of order) {
      const node = appenderNode(observations, key, element);
      if (node < 0) continue;
      if (previous >= 0) graph.add(previous, node, 'ww', key);
      previous = node;
    }
  }
}

/** wr and rw, from each transaction's first read of a key, when it agrees with the version order. */
function addReadEdges(graph: DependencyGraph, observations: Observations): void {
  for (const read of observations.reads) {
    if (!read.compatible || read.externalLength === undefined) continue;
    const reader = read.transaction.node;
    const order = observations.versionOrders.get(read.key) ?? [];
    const writer = appenderNode(observations, read.key, order[read.externalLength - 1]);
    if (writer >= 0) graph.add(writer, reader, 'wr', read.key);
    for (let position = read.externalLength; position < order.length; position++) {
      const next = appenderNode(observations, read.key, order[position]);
      if (next < 0) continue;
      // The reader's own next append needs no edge: ww already orders it before later appenders.
      if (next !== reader) graph.add(reader, next, 'rw', read.key);
      break;
    }
  }
}

/**
 * rw to each acknowledged append that no read saw: every reader of its key missed it, so
 * every reader precedes its transaction. Such appends are few (the last ones before a key
 * retires), and under real time the ones a later read should have seen are reported as
 * lost appends instead.
 */
function addUnobservedAppendEdges(graph: DependencyGraph, observations: Observations): void {
  const readsOfKey = new Map<number, ReadObservation[]>();
  for (const read of observations.reads) {
    if (!read.compatible || read.externalLength === undefined) continue;
    const reads = readsOfKey.get(read.key) ?? [];
    reads.push(read);
    readsOfKey.set(read.key, reads);
  }
  for (const append of observations.unobservedAppends) {
    for (const read of readsOfKey.get(append.key) ?? []) {
      // A read that ends inside the appender's appends is an intermediate read (G1b): no cycle repeats it.
      const lastWriter = observations.appendSites.get(append.key)?.get(read.list.at(-1) ?? Number.NaN)?.transaction;
      if (lastWriter !== append.transaction) graph.add(read.transaction.node, append.transaction.node, 'rw', append.key);
    }
  }
}

/**
 * T1 → T2 when T1 completed before T2 was invoked, without adding all such pairs: a sweep
 * in time order keeps the frontier of completed transactions not yet followed by a
 * completed successor, links each invocation from the frontier, and on completion replaces
 * the transaction's own predecessors with it (they reach later transactions through it).
 * Equal times do not order: invocations sort before completions.
 */
function addRealtimeEdges(graph: DependencyGraph, nodes: readonly Transaction[]): void {
  const events: { timeMs: number; node: number; isInvoke: boolean }[] = [];
  nodes.forEach((transaction, node) => {
    events.push({ timeMs: transaction.record.invokeMs, node, isInvoke: true });
    if (transaction.completeMs !== Infinity) events.push({ timeMs: transaction.completeMs, node, isInvoke: false });
  });
  events.sort((left, right) => left.timeMs - right.timeMs || Number(right.isInvoke) - Number(left.isInvoke) || left.node - right.node);
  const frontier = new Set<number>();
  const predecessors = new Map<number, number[]>();
  for (const event of events) {
    if (event.isInvoke) {
      const before = [...frontier];
      for (const predecessor of before) graph.add(predecessor, event.node, 'realtime');
      predecessors.set(event.node, before);
      continue;
    }
    for (const predecessor of predecessors.get(event.node) ?? []) frontier.delete(predecessor);
    frontier.add(event.node);
  }
}

const cycleTransactionsShownMax = 12;

function explainCycle(graph: DependencyGraph, nodes: readonly Transaction[], finding: CycleFinding, componentSize: number): string {
  const idOf = (node: number): number => (nodes[node] as Transaction).record.id;
  const hops = finding.kinds.map((kind, index) => {
    const source = finding.path[index] as number;
    const target = finding.path[index + 1] as number;
    const key = graph.keyOf(source, target, kind);
    return ` -${kind}${key === undefined ? '' : `[key ${key}]`}-> T${idOf(target)}`;
  });
  // A long cycle shows its first hops and the one that closes it.
  const shownHops = hops.length <= cycleTransactionsShownMax ? hops : [...hops.slice(0, cycleTransactionsShownMax - 1), ' …', ...hops.slice(-1)];
  const chain = `T${idOf(finding.path[0] as number)}${shownHops.join('')}`;
  const members = finding.path.slice(0, -1);
  const lines = [`a cycle of ${members.length} transactions (in a strongly connected component of ${componentSize}):`, `  ${chain}`];
  for (const node of members.slice(0, cycleTransactionsShownMax)) lines.push(`  ${describeTransaction(nodes[node] as Transaction)}`);
  if (members.length > cycleTransactionsShownMax) lines.push(`  … ${members.length - cycleTransactionsShownMax} more transactions`);
  return lines.join('\n');
}
