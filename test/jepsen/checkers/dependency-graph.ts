/**
 * A directed graph over transactions whose edges carry a set of kinds (Adya's ww, wr, rw,
 * plus real-time order), with the key that justified each dependency, and the searches
 * the cycle classifier needs: strongly connected components (Tarjan's algorithm, run with
 * an explicit stack because histories hold tens of thousands of transactions) and
 * shortest paths, both restricted to a set of nodes and a mask of edge kinds.
 */
import assert from 'node:assert/strict';

/** Bits of an edge's kind set, in the order of edgeKindPreference: the kinds preferred to one are its lower bits. */
export const edgeKinds = { ww: 1, wr: 2, rw: 4, realtime: 8 } as const;
export type EdgeKind = keyof typeof edgeKinds;
/** In the order a cycle's edge is labelled when two kinds join the same pair: the weakest anomaly first. */
export const edgeKindPreference: readonly EdgeKind[] = ['ww', 'wr', 'rw', 'realtime'];

export class DependencyGraph {
  /** Per node: successor → mask of edge kinds. */
  private readonly successorMasks: Map<number, number>[];
  /** `${source}>${target}>${kind}` → the key behind the first such dependency. */
  private readonly keys = new Map<string, number>();
  edgeCount = 0;

  constructor(readonly nodeCount: number) {
    this.successorMasks = Array.from({ length: nodeCount }, () => new Map<number, number>());
  }

  add(source: number, target: number, kind: EdgeKind, key?: number): void {
    assert.ok(source >= 0 && source < this.nodeCount && target >= 0 && target < this.nodeCount, `edge ${source}->${target} outside the graph`);
    if (source === target) return;
    const masks = this.successorMasks[source] as Map<number, number>;
    const mask = masks.get(target) ?? 0;
    if (mask === 0) this.edgeCount++;
    masks.set(target, mask | edgeKinds[kind]);
    const label = `${source}>${target}>${kind}`;
    if (key !== undefined && !this.keys.has(label)) this.keys.set(label, key);
  }

  mask(source: number, target: number): number {
    return this.successorMasks[source]?.get(target) ?? 0;
  }

  keyOf(source: number, target: number, kind: EdgeKind): number | undefined {
    return this.keys.get(`${source}>${target}>${kind}`);
  }

  /** Successors reached by an edge with a kind in `allowedMask`, inside `members` when given. */
  successors(node: number, allowedMask: number, members?: ReadonlySet<number>): number[] {
    const result: number[] = [];
    for (const [target, mask] of this.successorMasks[node] ?? []) {
      if ((mask & allowedMask) !== 0 && (members === undefined || members.has(target))) result.push(target);
    }
    return result;
  }
}

interface TarjanFrame {
  readonly node: number;
  readonly successors: readonly number[];
  position: number;
}

/**
 * The strongly connected components of more than one node (the graph has no self-loops,
 * so these are exactly the ones holding a cycle), over `nodes` and the edges in
 * `allowedMask` between them.
 */
export function cyclicComponents(graph: DependencyGraph, nodes: readonly number[], allowedMask: number): number[][] {
  const members = nodes.length === graph.nodeCount ? undefined : new Set(nodes);
  const order = new Map<number, number>();
  const lowLink = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const components: number[][] = [];
  for (const root of nodes) {
    if (order.has(root)) continue;
    const frames: TarjanFrame[] = [];
    const enter = (node: number): void => {
      order.set(node, order.size);
      lowLink.set(node, order.size - 1);
      stack.push(node);
      onStack.add(node);
      frames.push({ node, successors: graph.successors(node, allowedMask, members), position: 0 });
    };
    enter(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as TarjanFrame;
      if (frame.position < frame.successors.length) {
        const next = frame.successors[frame.position++] as number;
        if (!order.has(next)) enter(next);
        else if (onStack.has(next)) lowLink.set(frame.node, Math.min(lowLink.get(frame.node) as number, order.get(next) as number));
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent !== undefined) lowLink.set(parent.node, Math.min(lowLink.get(parent.node) as number, lowLink.get(frame.node) as number));
      if (lowLink.get(frame.node) === order.get(frame.node)) {
        const component = popComponent(stack, onStack, frame.node);
        if (component.length > 1) components.push(component);
      }
    }
  }
  return components;
}

function popComponent(stack: number[], onStack: Set<number>, root: number): number[] {
  const component: number[] = [];
  for (;;) {
    const node = stack.pop() as number;
    onStack.delete(node);
    component.push(node);
    if (node === root) return component;
  }
}

/** A number of node visits that searches draw from; shared by several searches to bound them together. */
export interface SearchBudget {
  visitsLeft: number;
}

/**
 * The shortest path from `from` whose last edge enters `to`, through `members` by edges in
 * `allowedMask`: [from, …, to]. With from === to it is the shortest cycle through it.
 * Undefined when there is none, or when the budget ran out first.
 */
export function shortestPath(
  graph: DependencyGraph,
  from: number,
  to: number,
  allowedMask: number,
  members: ReadonlySet<number>,
  budget: SearchBudget = { visitsLeft: Infinity },
): number[] | undefined {
  const parent = new Map<number, number>([[from, -1]]);
  const queue = [from];
  // An array iterator sees elements pushed during the loop: this is the queue's head moving.
  for (const node of queue) {
    if (budget.visitsLeft-- <= 0) return undefined;
    for (const next of graph.successors(node, allowedMask, members)) {
      if (next === to) return [...pathTo(parent, node), to];
      if (parent.has(next)) continue;
      parent.set(next, node);
      queue.push(next);
    }
  }
  return undefined;
}

function pathTo(parent: ReadonlyMap<number, number>, node: number): number[] {
  const path: number[] = [];
  for (let current = node; current !== -1; current = parent.get(current) as number) path.push(current);
  return path.reverse();
}
