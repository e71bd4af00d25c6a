/**
 * Simulated time for a whole cluster: one virtual clock in milliseconds, the timers of
 * every node and of the simulator, ordered by due time and then by creation order, and
 * one FIFO queue of setImmediate callbacks. Nothing here reads the real clock.
 *
 * Each node sees the clock through its own `NodeScheduler` (the runtime's `Scheduler`):
 * its wall clock has an offset, and its clock may run a little fast or slow (drift), so a
 * node's 10 ms timer fires after 10 / rate virtual ms. Everything a node schedules belongs
 * to its process (`ProcessLife`): when the process dies, its timers and immediates are
 * dropped, as a killed process's are.
 */
import assert from 'node:assert/strict';
import type { ScheduledTimer, Scheduler } from '../../src/node/scheduler.js';

/** The life of one simulated process: everything it scheduled dies with it. */
export class ProcessLife {
  alive = true;
}

/** The simulator's own work never dies. */
const simulatorLife = new ProcessLife();

interface Timer {
  dueMs: number;
  sequence: number;
  readonly callback: () => void;
  /** Virtual ms between firings of an interval; undefined for a one-shot timer. */
  readonly intervalMs: number | undefined;
  readonly life: ProcessLife;
  cancelled: boolean;
}

interface Immediate {
  readonly callback: () => void;
  readonly life: ProcessLife;
}

function earlier(left: Timer, right: Timer): boolean {
  return left.dueMs < right.dueMs || (left.dueMs === right.dueMs && left.sequence < right.sequence);
}

export class SimulatedClock {
  #nowMs = 0;
  #sequence = 0;
  readonly #heap: Timer[] = [];
  #immediates: Immediate[] = [];
  #immediateHead = 0;

  get nowMs(): number {
    return this.#nowMs;
  }

  /** A timer of the simulator itself (disk completions, deliveries of snapshots, fault injection). */
  schedule(delayMs: number, callback: () => void, life: ProcessLife = simulatorLife): ScheduledTimer {
    return this.#add(this.#nowMs + Math.max(0, delayMs), callback, undefined, life);
  }

  scheduleInterval(intervalMs: number, callback: () => void, life: ProcessLife = simulatorLife): ScheduledTimer {
    assert.ok(intervalMs > 0, `interval must be positive, got ${intervalMs}`);
    return this.#add(this.#nowMs + intervalMs, callback, intervalMs, life);
  }

  queueImmediate(callback: () => void, life: ProcessLife = simulatorLife): void {
    this.#immediates.push({ callback, life });
  }

  /** Runs the oldest queued immediate of a live process; false when none is left. */
  runNextImmediate(): boolean {
    while (this.#immediateHead < this.#immediates.length) {
      const immediate = this.#immediates[this.#immediateHead] as Immediate;
      this.#immediateHead++;
      if (this.#immediateHead > 1024 && this.#immediateHead * 2 > this.#immediates.length) {
        this.#immediates = this.#immediates.slice(this.#immediateHead);
        this.#immediateHead = 0;
      }
      if (!immediate.life.alive) continue;
      immediate.callback();
      return true;
    }
    return false;
  }

  /** When the next live timer falls due; undefined when none is left. */
  nextTimerDueMs(): number | undefined {
    this.#dropDead();
    return this.#heap[0]?.dueMs;
  }

  /** Moves the clock to the next live timer and runs it. */
  runNextTimer(): void {
    this.#dropDead();
    const timer = this.#pop();
    assert.ok(timer !== undefined, 'no timer to run');
    this.advanceTo(timer.dueMs);
    if (timer.intervalMs === undefined) {
      timer.cancelled = true;
    } else {
      timer.dueMs += timer.intervalMs;
      timer.sequence = ++this.#sequence;
      this.#push(timer);
    }
    timer.callback();
  }

  /** Moves the clock forward (never back). */
  advanceTo(timeMs: number): void {
    assert.ok(timeMs >= this.#nowMs, `the clock cannot go back from ${this.#nowMs} to ${timeMs}`);
    this.#nowMs = timeMs;
  }

  #add(dueMs: number, callback: () => void, intervalMs: number | undefined, life: ProcessLife): ScheduledTimer {
    const timer: Timer = { dueMs, sequence: ++this.#sequence, callback, intervalMs, life, cancelled: false };
    this.#push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  #dropDead(): void {
    for (let top = this.#heap[0]; top !== undefined && (top.cancelled || !top.life.alive); top = this.#heap[0]) this.#pop();
  }

  #push(timer: Timer): void {
    const heap = this.#heap;
    heap.push(timer);
    let index = heap.length - 1;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex] as Timer;
      if (!earlier(timer, parent)) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = timer;
  }

  #pop(): Timer | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let index = 0;
    for (;;) {
      const leftIndex = 2 * index + 1;
      if (leftIndex >= heap.length) break;
      const right = heap[leftIndex + 1];
      const left = heap[leftIndex] as Timer;
      const childIndex = right !== undefined && earlier(right, left) ? leftIndex + 1 : leftIndex;
      const child = heap[childIndex] as Timer;
      if (!earlier(child, last)) break;
      heap[index] = child;
      index = childIndex;
    }
    heap[index] = last;
    return top;
  }
}

/** How a node's clock relates to the virtual one: its wall clock's offset and its rate (1 = exact). */
export interface NodeClock {
  readonly epochOffsetMs: number;
  readonly rate: number;
}

/** The wall clock every node's offset is relative to (a fixed date: runs replay exactly). */
export const simulatedEpochMs = Date.UTC(2026, 0, 1);

/** One process's view of the simulated clock: the runtime's Scheduler. */
export class NodeScheduler implements Scheduler {
  constructor(
    private readonly clock: SimulatedClock,
    private readonly nodeClock: NodeClock,
    private readonly life: ProcessLife,
  ) {}

  nowMs(): number {
    return simulatedEpochMs + this.nodeClock.epochOffsetMs + this.monotonicMs();
  }

  monotonicMs(): number {
    return this.clock.nowMs * this.nodeClock.rate;
  }

  setTimeout(callback: () => void, delayMs: number): ScheduledTimer {
    return this.clock.schedule(Math.max(0, delayMs) / this.nodeClock.rate, callback, this.life);
  }

  setInterval(callback: () => void, intervalMs: number): ScheduledTimer {
    if (!(intervalMs >= 1)) throw new RangeError(`intervalMs must be >= 1, got ${intervalMs}`);
    return this.clock.scheduleInterval(intervalMs / this.nodeClock.rate, callback, this.life);
  }

  setImmediate(callback: () => void): void {
    this.clock.queueImmediate(callback, this.life);
  }
}
