/**
 * Finds and names the cycles a strongly connected component of the dependency graph
 * holds, as Elle does, by searching for each anomaly with the fewest edge kinds it needs:
 *   G0        a cycle of ww edges only (dirty write)
 *   G1c       ww and wr edges, at least one wr (circular information flow)
 *   G-single  exactly one rw edge, the rest ww or wr (read skew)
 *   G2        more than one rw edge (write skew and friends)
 * and, with real-time edges, a cycle through at least one of them, named after the
 * dependencies it also holds: 'G0-realtime', 'G1c-realtime', 'G-single-realtime',
 * 'G2-realtime' (serializable perhaps, but not strictly serializable). A name always comes
 * from the cycle actually found; each component reports each name at most once.
 */
import assert from 'node:assert/strict';
import { cyclicComponents, type DependencyGraph, type EdgeKind, edgeKindPreference, edgeKinds, type SearchBudget, shortestPath } from './dependency-graph.js';

export interface CycleFinding {
  readonly name: string;
  /** Closed: the first node is also the last. */
  readonly path: readonly number[];
  /** kinds[i] labels the edge path[i] → path[i + 1]. */
  readonly kinds: readonly EdgeKind[];
}

export interface ComponentCycles {
  readonly findings: readonly CycleFinding[];
  /** Whether a search through one chosen edge ran out of its budget of visits. */
  readonly searchCutShort: boolean;
}

const { ww, wr, rw, realtime } = edgeKinds;

export function findComponentCycles(graph: DependencyGraph, component: readonly number[], withRealtime: boolean, searchVisitsMax: number): ComponentCycles {
  const findings = new Map<string, CycleFinding>();
  const keep = (finding: CycleFinding | undefined): boolean => {
    if (finding === undefined || findings.has(finding.name)) return false;
    findings.set(finding.name, finding);
    return true;
  };
  for (const mask of [ww, ww | wr]) keep(findCycle(graph, component, mask));
  const single = findCycleThrough(graph, component, 'rw', ww | wr, searchVisitsMax);
  keep(single.finding);
  keep(findCycle(graph, component, ww | wr | rw));
  let searchCutShort = single.cutShort;
  // Real time: the first search that closes a cycle through a real-time edge names it.
  for (const closingMask of withRealtime ? [ww | realtime, ww | wr | realtime, ww | wr | rw | realtime] : []) {
    const found = findCycleThrough(graph, component, 'realtime', closingMask, searchVisitsMax);
    searchCutShort ||= found.cutShort;
    if (keep(found.finding)) break;
  }
  // Bounded searches may all come back empty; any cycle of the component then stands for them.
  if (findings.size === 0) keep(findCycle(graph, component, ww | wr | rw | realtime));
  assert.ok(findings.size > 0, `no cycle found in a strongly connected component of ${component.length} transactions`);
  return { findings: [...findings.values()], searchCutShort };
}

function findCycle(graph: DependencyGraph, nodes: readonly number[], mask: number): CycleFinding | undefined {
  const first = cyclicComponents(graph, nodes, mask)[0];
  if (first === undefined) return undefined;
  const start = first[0] as number;
  const path = shortestPath(graph, start, start, mask, new Set(first));
  return path === undefined ? undefined : label(graph, path, mask);
}

/**
 * A cycle whose first edge is of kind `through` (and of no weaker kind the closing path
 * allows, or the cycle would be another anomaly's), closed by a path of `closingMask`
 * edges. An edge whose ends share a strongly connected component of closing edges surely
 * closes one, so those come first; the others cost a breadth-first search each, all drawn
 * from a budget of `visitsMax` node visits.
 */
function findCycleThrough(
  graph: DependencyGraph,
  nodes: readonly number[],
  through: EdgeKind,
  closingMask: number,
  visitsMax: number,
): { finding: CycleFinding | undefined; cutShort: boolean } {
  const members = new Set(nodes);
  const weakerMask = closingMask & (edgeKinds[through] - 1);
  const candidates: [number, number][] = [];
  for (const source of nodes) {
    for (const target of graph.successors(source, edgeKinds[through], members)) {
      if ((graph.mask(source, target) & weakerMask) === 0) candidates.push([source, target]);
    }
  }
  const closeWith = (source: number, target: number, within: ReadonlySet<number>, budget?: SearchBudget): CycleFinding | undefined => {
    const back = shortestPath(graph, target, source, closingMask, within, budget);
    return back === undefined ? undefined : label(graph, [source, ...back], closingMask, edgeKinds[through]);
  };
  const componentOf = new Map<number, ReadonlySet<number>>();
  for (const component of cyclicComponents(graph, nodes, closingMask)) {
    const componentMembers = new Set(component);
    for (const node of component) componentOf.set(node, componentMembers);
  }
  for (const [source, target] of candidates) {
    const component = componentOf.get(source);
    if (component !== undefined && component === componentOf.get(target)) return { finding: closeWith(source, target, component), cutShort: false };
  }
  const budget: SearchBudget = { visitsLeft: visitsMax };
  for (const [source, target] of candidates) {
    const finding = closeWith(source, target, members, budget);
    if (finding !== undefined) return { finding, cutShort: false };
    if (budget.visitsLeft <= 0) return { finding: undefined, cutShort: true };
  }
  return { finding: undefined, cutShort: false };
}

/** Labels each edge with its weakest allowed kind; the first edge's allowed kinds may differ (the one rw edge). */
function label(graph: DependencyGraph, path: readonly number[], allowedMask: number, firstEdgeMask = allowedMask): CycleFinding {
  const kinds: EdgeKind[] = [];
  for (let index = 0; index + 1 < path.length; index++) {
    const mask = graph.mask(path[index] as number, path[index + 1] as number) & (index === 0 ? firstEdgeMask : allowedMask);
    const kind = edgeKindPreference.find((candidate) => (mask & edgeKinds[candidate]) !== 0);
    assert.ok(kind !== undefined, `no allowed edge ${path[index]}->${path[index + 1]} on a found cycle`);
    kinds.push(kind);
  }
  return { name: anomalyName(kinds), path, kinds };
}

export function anomalyName(kinds: readonly EdgeKind[]): string {
  const count = (kind: EdgeKind): number => kinds.filter((candidate) => candidate === kind).length;
  const antiDependencyCount = count('rw');
  const base = antiDependencyCount >= 2 ? 'G2' : antiDependencyCount === 1 ? 'G-single' : count('wr') > 0 ? 'G1c' : 'G0';
  return count('realtime') > 0 ? `${base}-realtime` : base;
}
