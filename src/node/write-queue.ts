/**
 * The queue behind `?queue` (rqlite's Queued Writes), on the node that received the
 * requests. It holds them and sends them on in batches, one log entry per batch: a batch
 * goes once it holds `batchSize` requests (or reaches the entry's byte or statement
 * bound, or the queue is full), or `timeoutMs` after its first request arrived. One batch
 * is in flight at a time, so batches apply in sequence-number order.
 *
 * A batch whose send fails with an unknown or transient outcome (leader lost, forwarding
 * failed, no leader yet) is sent again, under the same id, until it commits: the state
 * machine's request dedup makes a batch sent twice apply once. Only a refusal that cannot
 * change (a bad request) or the node stopping ends a batch without applying it.
 *
 * Sequence numbers start at the wall clock in nanoseconds (as rqlite's do) and count up by
 * one per request: within a process they only grow, and across a restart they keep
 * growing unless the clock stepped back by more than the restart took (or one process
 * took more than a million requests per millisecond). They are local to this node, as in
 * rqlite: a leader change does not touch them.
 */
import { ServiceError } from '../service/service.js';
import type { Statement } from '../state-machine/types.js';
import { assert } from '../common/assert.js';
import { sleep, type ScheduledTimer, type Scheduler } from './scheduler.js';

export interface WriteQueueSettings {
  /** Requests held at most, waiting or in the batch being sent (rqlite's -write-queue-capacity). */
  readonly capacity: number;
  /** Encoded bytes held at most, the same way (ours: requests may be megabytes each). */
  readonly heldBytesMax: number;
  /** Requests in one batch at most (-write-queue-batch-size). */
  readonly batchSize: number;
  /** A batch goes this long after its first request arrived, full or not; 0: only when full (-write-queue-timeout). */
  readonly timeoutMs: number;
  /** Encoded bytes of one batch's requests at most: what fits one log entry. */
  readonly batchBytesMax: number;
  /** Statements in one batch at most: the command's bound. */
  readonly batchStatementCountMax: number;
  /** The wait before a batch is sent again, doubling from the minimum up to the maximum. */
  readonly retryDelayMsMin: number;
  readonly retryDelayMsMax: number;
}

/** One client's queued request, measured by whoever validated it. */
export interface QueuedWrite {
  /** The database it writes to (ours: several databases); undefined, the default one. A batch holds one database's writes. */
  readonly database?: string | undefined;
  readonly statements: readonly Statement[];
  readonly transaction: boolean;
  readonly idempotencyKey: string | null;
  /** Its size encoded alone (at least what it adds to a batch's entry). */
  readonly bytes: number;
}

export interface WriteBatch {
  /** The batch's request id in the log: unique across this node's restarts. */
  readonly id: string;
  /** Its writes' database (one per batch); undefined, the default one. */
  readonly database: string | undefined;
  readonly firstSequenceNumber: bigint;
  readonly lastSequenceNumber: bigint;
  readonly writes: readonly QueuedWrite[];
}

/** What a request gets once queued: its number, and the apply of the batch that carries it. */
interface QueuedTicket {
  readonly sequenceNumber: bigint;
  /** Resolves with the batch's log index once it applied on the leader; rejects if the batch was given up. */
  readonly applied: Promise<number>;
}

interface WriteQueueDependencies {
  readonly scheduler: Scheduler;
  /** Sends a batch; resolves with its log index once its entry applied on the leader. */
  readonly send: (batch: WriteBatch) => Promise<number>;
  /** Whether a failed send may be sent again (outcome unknown, or the failure may pass). */
  readonly isRetryable: (error: unknown) => boolean;
  /** The id a batch is sent under, from its first sequence number. */
  readonly batchId: (firstSequenceNumber: bigint) => string;
  /** The sequence number before the first one this queue hands out. */
  readonly sequenceStart: bigint;
}

interface Held {
  readonly write: QueuedWrite;
  readonly sequenceNumber: bigint;
  readonly resolve: (index: number) => void;
  readonly reject: (error: unknown) => void;
}

interface RoomWaiter {
  readonly write: QueuedWrite;
  readonly resolve: (ticket: QueuedTicket) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: ScheduledTimer;
  readonly onAbort: () => void;
  readonly signal: AbortSignal;
}

interface WriteQueueStats {
  /** Requests waiting for a batch (not counting the batch in flight). */
  readonly depth: number;
  /** Requests waiting for room in a full queue. */
  readonly blocked: number;
  readonly requestsReceived: number;
  readonly statementsReceived: number;
  readonly statementsSent: number;
  readonly batchesSent: number;
  readonly timeoutFlushes: number;
  readonly retries: number;
  readonly batchesFailed: number;
  /** The highest sequence number whose batch applied; 0 before any. */
  readonly lastAppliedSequenceNumber: bigint;
}

function checkWriteQueueSettings(settings: WriteQueueSettings): void {
  for (const name of ['capacity', 'heldBytesMax', 'batchSize', 'batchBytesMax', 'batchStatementCountMax', 'retryDelayMsMin', 'retryDelayMsMax'] as const) {
    const value = settings[name];
    if (!Number.isSafeInteger(value) || value < 1) throw new ServiceError('BAD_REQUEST', `write queue ${name} must be a whole number >= 1, got ${value}`);
  }
  if (!Number.isSafeInteger(settings.timeoutMs) || settings.timeoutMs < 0) {
    throw new ServiceError('BAD_REQUEST', `write queue timeoutMs must be a whole number >= 0, got ${settings.timeoutMs}`);
  }
  if (settings.retryDelayMsMin > settings.retryDelayMsMax) throw new ServiceError('BAD_REQUEST', 'write queue retryDelayMsMin exceeds retryDelayMsMax');
  // Any request a batch can carry must fit in an empty queue.
  if (settings.heldBytesMax < settings.batchBytesMax) throw new ServiceError('BAD_REQUEST', 'write queue heldBytesMax is below batchBytesMax');
}

export class WriteQueue {
  readonly #settings: WriteQueueSettings;
  readonly #dependencies: WriteQueueDependencies;
  readonly #pending: Held[] = [];
  readonly #roomWaiters: RoomWaiter[] = [];
  #inFlight: readonly Held[] = [];
  /** Bytes of the requests pending and in flight. */
  #heldBytes = 0;
  #sending = false;
  #timer: ScheduledTimer | undefined;
  /** The timer fired while a batch was in flight: the next batch goes as soon as it can. */
  #due = false;
  #closedError: ServiceError | undefined;
  #lastSequenceNumber: bigint;
  #drainWaiters: (() => void)[] = [];
  #stats = {
    requestsReceived: 0,
    statementsReceived: 0,
    statementsSent: 0,
    batchesSent: 0,
    timeoutFlushes: 0,
    retries: 0,
    batchesFailed: 0,
    lastAppliedSequenceNumber: 0n,
  };

  constructor(settings: WriteQueueSettings, dependencies: WriteQueueDependencies) {
    checkWriteQueueSettings(settings);
    this.#settings = settings;
    this.#dependencies = dependencies;
    this.#lastSequenceNumber = dependencies.sequenceStart;
  }

  stats(): WriteQueueStats {
    return { depth: this.#pending.length, blocked: this.#roomWaiters.length, ...this.#stats };
  }

  get #heldCount(): number {
    return this.#pending.length + this.#inFlight.length;
  }

  #hasRoomFor(write: QueuedWrite): boolean {
    return this.#heldCount < this.#settings.capacity && this.#heldBytes + write.bytes <= this.#settings.heldBytesMax;
  }

  /**
   * Queues `write` and hands out its sequence number. While the queue is full the request
   * waits for room, first come first served (rqlite blocks the same way), up to `timeoutMs`
   * (TIMEOUT) or until `signal` aborts; at most `capacity` requests wait so.
   */
  enqueue(write: QueuedWrite, timeoutMs: number, signal: AbortSignal): Promise<QueuedTicket> {
    if (this.#closedError !== undefined) return Promise.reject(this.#closedError);
    if (this.#roomWaiters.length === 0 && this.#hasRoomFor(write)) return Promise.resolve(this.#admit(write));
    if (this.#roomWaiters.length >= this.#settings.capacity) {
      return Promise.reject(new ServiceError('UNAVAILABLE', `write queue is full (${this.#settings.capacity} queued, as many waiting for room)`));
    }
    return new Promise<QueuedTicket>((resolve, reject) => {
      const onAbort = (): void => this.#dropWaiter(waiter, new ServiceError('TIMEOUT', 'write queue full: the request was abandoned while waiting for room'));
      const timer = this.#dependencies.scheduler.setTimeout(
        () => this.#dropWaiter(waiter, new ServiceError('TIMEOUT', `write queue full: no room within ${timeoutMs}ms`)),
        timeoutMs,
      );
      const waiter: RoomWaiter = { write, resolve, reject, timer, onAbort, signal };
      this.#roomWaiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      // Full: the next batch need not wait for its timer.
      this.#pump();
    });
  }

  #dropWaiter(waiter: RoomWaiter, error: ServiceError): void {
    const position = this.#roomWaiters.indexOf(waiter);
    if (position === -1) return;
    this.#roomWaiters.splice(position, 1);
    this.#releaseWaiter(waiter);
    waiter.reject(error);
  }

  #releaseWaiter(waiter: RoomWaiter): void {
    waiter.timer.cancel();
    waiter.signal.removeEventListener('abort', waiter.onAbort);
  }

  #admit(write: QueuedWrite): QueuedTicket {
    assert(this.#hasRoomFor(write), 'a request is admitted only with room in the queue');
    this.#lastSequenceNumber += 1n;
    const sequenceNumber = this.#lastSequenceNumber;
    let resolve: (index: number) => void = () => undefined;
    let reject: (error: unknown) => void = () => undefined;
    const applied = new Promise<number>((resolveApplied, rejectApplied) => {
      resolve = resolveApplied;
      reject = rejectApplied;
    });
    // A caller that does not wait never looks at the outcome: that is not an unhandled rejection.
    applied.catch(() => undefined);
    this.#pending.push({ write, sequenceNumber, resolve, reject });
    this.#heldBytes += write.bytes;
    this.#stats.requestsReceived += 1;
    this.#stats.statementsReceived += write.statements.length;
    if (this.#pending.length === 1) this.#startTimer();
    this.#pump();
    return { sequenceNumber, applied };
  }

  #startTimer(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#settings.timeoutMs === 0) return;
    this.#timer = this.#dependencies.scheduler.setTimeout(() => {
      this.#timer = undefined;
      this.#stats.timeoutFlushes += 1;
      this.#due = true;
      this.#pump();
    }, this.#settings.timeoutMs);
  }

  /** How many pending requests the next batch takes, and whether that batch is full (so it goes now). */
  #nextBatchCut(): { readonly count: number; readonly full: boolean } {
    const settings = this.#settings;
    let bytes = 0;
    let statements = 0;
    let count = 0;
    const database = this.#pending[0]?.write.database;
    for (const held of this.#pending) {
      if (count === settings.batchSize) break;
      // A batch is one log entry, and an entry writes to one database: another database's write starts the next batch.
      if (held.write.database !== database) break;
      const nextBytes = bytes + held.write.bytes;
      const nextStatements = statements + held.write.statements.length;
      // A request alone always fits: enqueue's caller refused any larger than a batch.
      if (count > 0 && (nextBytes > settings.batchBytesMax || nextStatements > settings.batchStatementCountMax)) break;
      bytes = nextBytes;
      statements = nextStatements;
      count += 1;
    }
    // Full: no further request could join it.
    const atBound = bytes === settings.batchBytesMax || statements === settings.batchStatementCountMax;
    return { count, full: count === settings.batchSize || count < this.#pending.length || atBound };
  }

  /** Full by count or by bytes: nothing more comes in until a batch goes, so the next one goes now. */
  #isFull(): boolean {
    return this.#heldCount >= this.#settings.capacity || this.#roomWaiters.length > 0;
  }

  /** Sends the next batch if none is in flight and one is ready (full, due, or the queue is full). */
  #pump(): void {
    if (this.#sending || this.#closedError !== undefined || this.#pending.length === 0) return;
    const cut = this.#nextBatchCut();
    if (!cut.full && !this.#due && !this.#isFull()) return;
    const taken = this.#pending.splice(0, cut.count);
    this.#due = false;
    // The requests left behind start a new batch: their timer starts now.
    if (this.#pending.length > 0) this.#startTimer();
    else {
      this.#timer?.cancel();
      this.#timer = undefined;
    }
    this.#inFlight = taken;
    this.#sending = true;
    void this.#deliver(taken);
  }

  async #deliver(taken: readonly Held[]): Promise<void> {
    const first = taken[0];
    const last = taken[taken.length - 1];
    assert(first !== undefined && last !== undefined, 'a batch holds at least one request');
    const batch: WriteBatch = {
      id: this.#dependencies.batchId(first.sequenceNumber),
      database: first.write.database,
      firstSequenceNumber: first.sequenceNumber,
      lastSequenceNumber: last.sequenceNumber,
      writes: taken.map((held) => held.write),
    };
    try {
      const index = await this.#sendUntilDone(batch);
      this.#stats.batchesSent += 1;
      this.#stats.statementsSent += batch.writes.reduce((sum, write) => sum + write.statements.length, 0);
      this.#stats.lastAppliedSequenceNumber = batch.lastSequenceNumber;
      for (const held of taken) held.resolve(index);
    } catch (error) {
      this.#stats.batchesFailed += 1;
      for (const held of taken) held.reject(error);
    } finally {
      for (const held of taken) this.#heldBytes -= held.write.bytes;
      this.#inFlight = [];
      this.#sending = false;
      this.#grantRoom();
      this.#pump();
      this.#notifyIfDrained();
    }
  }

  /**
   * Sends `batch` until it commits. Not bounded by a count, on purpose (as rqlite's): an
   * acknowledged queued write is given up only when the node stops or the batch is refused
   * for good. The queue's capacity bounds what waits meanwhile; new requests wait for room
   * and time out.
   */
  async #sendUntilDone(batch: WriteBatch): Promise<number> {
    let delayMs = this.#settings.retryDelayMsMin;
    for (;;) {
      if (this.#closedError !== undefined) throw this.#closedError;
      try {
        return await this.#dependencies.send(batch);
      } catch (error) {
        if (!this.#dependencies.isRetryable(error) || this.#closedError !== undefined) throw error;
      }
      this.#stats.retries += 1;
      await sleep(this.#dependencies.scheduler, delayMs);
      delayMs = Math.min(delayMs * 2, this.#settings.retryDelayMsMax);
    }
  }

  /** Admits the requests waiting for room, in order, while there is room. */
  #grantRoom(): void {
    while (this.#roomWaiters.length > 0 && this.#hasRoomFor((this.#roomWaiters[0] as RoomWaiter).write)) {
      const waiter = this.#roomWaiters.shift() as RoomWaiter;
      this.#releaseWaiter(waiter);
      waiter.resolve(this.#admit(waiter.write));
    }
  }

  /** Sends everything held now, without waiting for the timer; resolves once nothing is held or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.#heldCount === 0 && this.#roomWaiters.length === 0) return;
    this.#due = true;
    this.#pump();
    let timer: ScheduledTimer | undefined;
    await new Promise<void>((resolve) => {
      this.#drainWaiters.push(resolve);
      timer = this.#dependencies.scheduler.setTimeout(resolve, timeoutMs);
    });
    timer?.cancel();
  }

  #notifyIfDrained(): void {
    if (this.#heldCount > 0 || this.#roomWaiters.length > 0) {
      // Draining: whatever is left goes at once too.
      if (this.#drainWaiters.length > 0) {
        this.#due = true;
        this.#pump();
      }
      return;
    }
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }

  /** Stops: whatever is held fails with `error`; the batch in flight stops being sent again. */
  close(error: ServiceError): void {
    if (this.#closedError !== undefined) return;
    this.#closedError = error;
    this.#timer?.cancel();
    this.#timer = undefined;
    for (const waiter of this.#roomWaiters.splice(0)) {
      this.#releaseWaiter(waiter);
      waiter.reject(error);
    }
    for (const held of this.#pending.splice(0)) {
      this.#heldBytes -= held.write.bytes;
      held.reject(error);
    }
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }
}
