/**
 * The simulated network: every message sent is delayed by a random number of virtual
 * milliseconds (so messages reorder), and may be dropped or duplicated. Links can be cut one way or
 * both ways to make partitions (majority/minority, one-way, bridge); a message on a cut
 * link is lost, whether the cut came before it was sent or while it was in flight.
 * In-flight messages are bounded; past the bound new messages are dropped, as a full
 * socket buffer would.
 */
import assert from 'node:assert/strict';
import type { Prng } from './prng.js';

export interface NetworkConfig {
  readonly dropProbability: number;
  readonly duplicateProbability: number;
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  /** Some messages take much longer (a slow path), up to longDelayMsMax. */
  readonly longDelayProbability: number;
  readonly longDelayMsMax: number;
  readonly inFlightMessagesMax: number;
}

export const defaultNetworkConfig: NetworkConfig = {
  dropProbability: 0.02,
  duplicateProbability: 0.01,
  delayMsMin: 1,
  delayMsMax: 4,
  longDelayProbability: 0.02,
  longDelayMsMax: 40,
  inFlightMessagesMax: 20_000,
};

export interface Delivery<Message> {
  readonly from: string;
  readonly to: string;
  readonly message: Message;
  readonly sentAt: number;
}

export type DropReason = 'random' | 'partition' | 'overflow';

interface InFlight<Message> extends Delivery<Message> {
  readonly deliverAt: number;
  readonly sequence: number;
}

export interface NetworkCounters {
  sent: number;
  delivered: number;
  duplicated: number;
  dropped: Record<DropReason, number>;
}

export class SimulatedNetwork<Message> {
  private config: NetworkConfig;
  private readonly heap: InFlight<Message>[] = [];
  private readonly cutLinks = new Set<string>();
  private sequence = 0;
  readonly counters: NetworkCounters = { sent: 0, delivered: 0, duplicated: 0, dropped: { random: 0, partition: 0, overflow: 0 } };

  constructor(
    private readonly prng: Prng,
    config: NetworkConfig = defaultNetworkConfig,
    private readonly onDrop?: (delivery: Delivery<Message>, reason: DropReason) => void,
  ) {
    this.config = validateNetworkConfig(config);
  }

  get inFlightCount(): number {
    return this.heap.length;
  }

  /** Replace the fault probabilities (e.g. quiet the network so the cluster can heal). */
  reconfigure(config: NetworkConfig): void {
    this.config = validateNetworkConfig(config);
  }

  send(from: string, to: string, message: Message, now: number): void {
    this.counters.sent++;
    const delivery = { from, to, message, sentAt: now };
    if (this.isCut(from, to)) {
      this.drop(delivery, 'partition');
      return;
    }
    if (this.prng.chance(this.config.dropProbability)) {
      this.drop(delivery, 'random');
      return;
    }
    this.enqueue(delivery, now);
    if (this.prng.chance(this.config.duplicateProbability)) {
      this.counters.duplicated++;
      this.enqueue(delivery, now);
    }
  }

  /** Remove and return every message due at or before `now`, in delivery order. */
  deliverDue(now: number): Delivery<Message>[] {
    const due: Delivery<Message>[] = [];
    for (let next = this.deliverNextDue(now); next !== undefined; next = this.deliverNextDue(now)) due.push(next);
    return due;
  }

  /** When the next message in flight arrives (or is lost on a cut link); undefined when none is in flight. */
  nextDueAt(): number | undefined {
    return this.heap[0]?.deliverAt;
  }

  /**
   * The next message due at or before `now`, in delivery order; undefined when none is
   * due. A message due on a cut link is lost (reported through onDrop) and skipped.
   */
  deliverNextDue(now: number): Delivery<Message> | undefined {
    while (this.heap.length > 0 && (this.heap[0] as InFlight<Message>).deliverAt <= now) {
      const next = this.pop();
      if (this.isCut(next.from, next.to)) {
        this.drop(next, 'partition');
        continue;
      }
      this.counters.delivered++;
      return { from: next.from, to: next.to, message: next.message, sentAt: next.sentAt };
    }
    return undefined;
  }

  /** A delay as one message would get (for transfers that do not go through the queue). */
  drawDelayMs(): number {
    const long = this.prng.chance(this.config.longDelayProbability);
    return long
      ? this.prng.nextIntBetween(this.config.delayMsMax, this.config.longDelayMsMax)
      : this.prng.nextIntBetween(this.config.delayMsMin, this.config.delayMsMax);
  }

  /** A random loss, as `send` would decide it (for transfers that do not go through the queue). */
  drawDrop(): boolean {
    return this.prng.chance(this.config.dropProbability);
  }

  /** Drop every message in flight to `nodeId` (its process died: sockets reset). */
  discardTo(nodeId: string): void {
    const all = [...this.heap];
    this.heap.length = 0;
    // In delivery order, so drop callbacks run in a deterministic order.
    all.sort((left, right) => (earlier(left, right) ? -1 : 1));
    for (const inFlight of all) {
      if (inFlight.to === nodeId) this.drop(inFlight, 'partition');
      else this.push(inFlight);
    }
  }

  cut(from: string, to: string): void {
    assert.notEqual(from, to, 'a node cannot be cut from itself');
    this.cutLinks.add(linkKey(from, to));
  }

  cutBothWays(left: string, right: string): void {
    this.cut(left, right);
    this.cut(right, left);
  }

  /** Cut every link between the two groups, both ways. */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    for (const left of groupA) for (const right of groupB) this.cutBothWays(left, right);
  }

  /** Messages from `senders` to `receivers` are lost; the reverse direction still works. */
  partitionOneWay(senders: readonly string[], receivers: readonly string[]): void {
    for (const from of senders) for (const to of receivers) this.cut(from, to);
  }

  /** The two groups cannot talk to each other, but `bridge` talks to both. */
  bridge(groupA: readonly string[], groupB: readonly string[], bridgeNode: string): void {
    this.partition(
      groupA.filter((id) => id !== bridgeNode),
      groupB.filter((id) => id !== bridgeNode),
    );
  }

  isolate(nodeId: string, others: readonly string[]): void {
    this.partition(
      [nodeId],
      others.filter((id) => id !== nodeId),
    );
  }

  heal(): void {
    this.cutLinks.clear();
  }

  isCut(from: string, to: string): boolean {
    return this.cutLinks.has(linkKey(from, to));
  }

  cutLinkCount(): number {
    return this.cutLinks.size;
  }

  private enqueue(delivery: Delivery<Message>, now: number): void {
    if (this.heap.length >= this.config.inFlightMessagesMax) {
      this.drop(delivery, 'overflow');
      return;
    }
    this.push({ ...delivery, deliverAt: now + this.drawDelayMs(), sequence: this.sequence++ });
  }

  private drop(delivery: Delivery<Message>, reason: DropReason): void {
    this.counters.dropped[reason]++;
    this.onDrop?.(delivery, reason);
  }

  private push(item: InFlight<Message>): void {
    const heap = this.heap;
    heap.push(item);
    let index = heap.length - 1;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as InFlight<Message>;
      if (!earlier(item, parent)) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = item;
  }

  private pop(): InFlight<Message> {
    const heap = this.heap;
    const top = heap[0] as InFlight<Message>;
    const last = heap.pop() as InFlight<Message>;
    if (heap.length === 0) return top;
    let index = 0;
    for (;;) {
      const leftIndex = 2 * index + 1;
      if (leftIndex >= heap.length) break;
      const rightIndex = leftIndex + 1;
      const left = heap[leftIndex] as InFlight<Message>;
      const right = heap[rightIndex];
      const childIndex = right !== undefined && earlier(right, left) ? rightIndex : leftIndex;
      const child = heap[childIndex] as InFlight<Message>;
      if (!earlier(child, last)) break;
      heap[index] = child;
      index = childIndex;
    }
    heap[index] = last;
    return top;
  }
}

function earlier<Message>(left: InFlight<Message>, right: InFlight<Message>): boolean {
  return left.deliverAt < right.deliverAt || (left.deliverAt === right.deliverAt && left.sequence < right.sequence);
}

function linkKey(from: string, to: string): string {
  return `${from}>${to}`;
}

export function validateNetworkConfig(config: NetworkConfig): NetworkConfig {
  const probabilities = ['dropProbability', 'duplicateProbability', 'longDelayProbability'] as const;
  for (const name of probabilities) {
    const value = config[name];
    if (!(value >= 0 && value <= 1)) throw new RangeError(`network ${name} must be in [0, 1], got ${value}`);
  }
  if (!(Number.isInteger(config.delayMsMin) && config.delayMsMin >= 1))
    throw new RangeError(`network delayMsMin must be an integer >= 1, got ${config.delayMsMin}`);
  if (!(Number.isInteger(config.delayMsMax) && config.delayMsMax >= config.delayMsMin))
    throw new RangeError(`network delayMsMax must be an integer >= delayMsMin, got ${config.delayMsMax}`);
  if (!(Number.isInteger(config.longDelayMsMax) && config.longDelayMsMax >= config.delayMsMax))
    throw new RangeError(`network longDelayMsMax must be an integer >= delayMsMax, got ${config.longDelayMsMax}`);
  if (!(Number.isInteger(config.inFlightMessagesMax) && config.inFlightMessagesMax >= 1))
    throw new RangeError(`network inFlightMessagesMax must be an integer >= 1, got ${config.inFlightMessagesMax}`);
  return config;
}
