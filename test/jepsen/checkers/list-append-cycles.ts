/**
 * Names the cycle a strongly connected component of the dependency graph holds, looking
 * for the weakest anomaly first, as Elle does:
 *   G0        a cycle of ww edges only (dirty write)
 *   G1c       ww and wr edges, at least one wr (circular information flow)
 *   G-single  exactly one rw edge, the rest ww or wr (read skew)
 *   G2        more than one rw edge (write skew and friends)
 * then, only when the component holds no cycle of dependencies alone, the same four with
 * real-time edges allowed: 'G0-realtime', 'G1c-realtime', 'G-single-realtime',
 * 'G2-realtime' (a cycle that needs at least one real-time edge: serializable perhaps, but
 * not strictly serializable). The name always comes from the cycle actually found.
 */
import assert from 'node:assert/strict';
import { cyclicComponents, type DependencyGraph, type EdgeKind, edgeKindPreference, edgeKinds, shortestPath } from './dependency-graph.js';

export interface CycleFinding {
  readonly name: string;
  /** Closed: the first node is also the last. */
  readonly path: readonly number[];
  /** kinds[i] labels the edge path[i] → path[i + 1]. */
  readonly kinds: readonly EdgeKind[];
  /** Whether the bound on single-anti-dependency searches cut the search short. */
  readonly searchCutShort: boolean;
}

interface Search {
  /** Edge kinds the cycle may use. */
  readonly mask: number;
  /** Exactly one rw edge, the others from `mask`. */
  readonly singleAntiDependency: boolean;
}

const { ww, wr, rw, realtime } = edgeKinds;
const dependencySearches: readonly Search[] = [
  { mask: ww, singleAntiDependency: false },
  { mask: ww | wr, singleAntiDependency: false },
  { mask: ww | wr, singleAntiDependency: true },
  { mask: ww | wr | rw, singleAntiDependency: false },
];
const realtimeSearches: readonly Search[] = dependencySearches.map((search) => ({ ...search, mask: search.mask | realtime }));

export function classifyComponent(graph: DependencyGraph, component: readonly number[], withRealtime: boolean, antiDependencyTriesMax: number): CycleFinding {
  let searchCutShort = false;
  for (const search of withRealtime ? [...dependencySearches, ...realtimeSearches] : dependencySearches) {
    if (!search.singleAntiDependency) {
      const path = findCycle(graph, component, search.mask);
      if (path !== undefined) return label(graph, path, search.mask, searchCutShort);
      continue;
    }
    const found = findSingleAntiDependencyCycle(graph, component, search.mask, antiDependencyTriesMax);
    searchCutShort ||= found.cutShort;
    if (found.path !== undefined) return label(graph, found.path, search.mask, searchCutShort, rw);
  }
  assert.fail(`a strongly connected component of ${component.length} transactions holds no cycle`);
}

function findCycle(graph: DependencyGraph, nodes: readonly number[], mask: number): number[] | undefined {
  const first = cyclicComponents(graph, nodes, mask)[0];
  if (first === undefined) return undefined;
  const start = first[0] as number;
  return shortestPath(graph, start, start, mask, new Set(first));
}

/**
 * A cycle made of one rw edge closed by a path of `mask` edges. Each rw edge costs a
 * breadth-first search, so at most `triesMax` of them are tried per component; past that
 * the next, wider search names whatever cycle it finds.
 */
function findSingleAntiDependencyCycle(
  graph: DependencyGraph,
  nodes: readonly number[],
  mask: number,
  triesMax: number,
): { path: number[] | undefined; cutShort: boolean } {
  const members = new Set(nodes);
  let tries = 0;
  for (const source of nodes) {
    for (const target of graph.successors(source, rw, members)) {
      if (tries++ >= triesMax) return { path: undefined, cutShort: true };
      const back = shortestPath(graph, target, source, mask, members);
      if (back !== undefined) return { path: [source, ...back], cutShort: false };
    }
  }
  return { path: undefined, cutShort: false };
}

/** Labels each edge with its weakest allowed kind; the first edge's allowed kinds may differ (the one rw edge). */
function label(graph: DependencyGraph, path: readonly number[], allowedMask: number, searchCutShort: boolean, firstEdgeMask = allowedMask): CycleFinding {
  const kinds: EdgeKind[] = [];
  for (let index = 0; index + 1 < path.length; index++) {
    const mask = graph.mask(path[index] as number, path[index + 1] as number) & (index === 0 ? firstEdgeMask : allowedMask);
    const kind = edgeKindPreference.find((candidate) => (mask & edgeKinds[candidate]) !== 0);
    assert.ok(kind !== undefined, `no allowed edge ${path[index]}->${path[index + 1]} on a found cycle`);
    kinds.push(kind);
  }
  return { name: anomalyName(kinds), path, kinds, searchCutShort };
}

export function anomalyName(kinds: readonly EdgeKind[]): string {
  const count = (kind: EdgeKind): number => kinds.filter((candidate) => candidate === kind).length;
  const antiDependencyCount = count('rw');
  const base = antiDependencyCount >= 2 ? 'G2' : antiDependencyCount === 1 ? 'G-single' : count('wr') > 0 ? 'G1c' : 'G0';
  return count('realtime') > 0 ? `${base}-realtime` : base;
}
