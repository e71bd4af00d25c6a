/**
 * Reads with a deadline (rqlite's `db_timeout`), run where they can really be stopped.
 *
 * better-sqlite3 exposes neither sqlite3_interrupt() nor a progress handler, and one
 * step of a statement that produces no row for a long time (an aggregate over a large
 * recursive CTE) runs in native code until it ends: checking the clock between rows
 * never gets the chance, and a worker thread cannot be stopped there either (its
 * terminate() waits for the step to return). A process can be: a read with a deadline
 * runs in a child process (timed-read-process.ts) with its own read-only connection, and
 * when the deadline passes the child is killed (SIGKILL; the OS releases its locks, and
 * a WAL reader that dies holds nothing back) and every statement not finished answers
 * rqlite's "query timeout". Reads without a deadline never come here.
 *
 * Bounds: at most `processCountMax` children, each running one read at a time; at most
 * `waitingCountMax` reads waiting for one; a child starts within `startTimeoutMs`; an
 * idle child exits after `idleMs`. While reads come, one idle child is kept ready (when
 * the bound allows), so a read killed at its deadline costs the next one no start. whileSuspended() kills every child and holds new
 * reads until it ends (restore swaps the database file under them).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StateMachineError } from './errors.js';
import type { TimedReadAnswer, TimedReadJob, TimedReadProcessSettings } from './timed-read-process.js';
import type { Statement, StatementResult } from './types.js';

/** rqlite's text for a statement its `db_timeout` interrupted (or that had no time left to start). */
const queryTimeoutMessage = 'query timeout';

interface TimedReadSettings extends TimedReadProcessSettings {
  readonly processCountMax: number;
  readonly waitingCountMax: number;
  readonly startTimeoutMs: number;
  readonly idleMs: number;
}

const timedReadDefaults = { processCountMax: 2, waitingCountMax: 64, startTimeoutMs: 30_000, idleMs: 30_000 } as const;

/** How a read with a deadline runs: as query() runs it, plus its deadline and an abort signal. */
export interface TimedReadOptions {
  readonly transaction?: boolean;
  readonly timings?: boolean;
  readonly qualifyColumns?: boolean;
  /** How long the statements may run, from when a child takes them. */
  readonly timeoutMs: number;
  /** Aborting kills the read. */
  readonly signal: AbortSignal;
}

/** The state machine's settings a read process needs. */
interface DatabaseSettings {
  readonly readerBusyTimeoutMs: number;
  readonly statementCacheCountMax: number;
  readonly resultRowCountMax: number;
}

const ownExtension = extname(fileURLToPath(import.meta.url));
const processUrl = new URL(`./timed-read-process${ownExtension}`, import.meta.url);

/** From source (tests run TypeScript through tsx), the child loads tsx itself; built, it runs the `.js` as it is. */
function childExecArgv(): string[] {
  if (ownExtension !== '.ts') return [];
  return ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];
}

class Child {
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  busy = true;
  /** Killed at a read's deadline: a spare takes its place, so the next read does not wait for a start. */
  replaceOnExit = false;
  #killed = false;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(settings: TimedReadProcessSettings) {
    const processSettings: TimedReadProcessSettings = {
      path: settings.path,
      busyTimeoutMs: settings.busyTimeoutMs,
      statementCacheCountMax: settings.statementCacheCountMax,
      resultRowCountMax: settings.resultRowCountMax,
    };
    this.process = fork(fileURLToPath(processUrl), [JSON.stringify(processSettings)], {
      execArgv: childExecArgv(),
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => this.process.once('exit', () => resolve()));
    // A child never keeps the node alive: a read in flight holds its own timer.
    this.process.unref();
    this.process.channel?.unref();
  }

  /** Neither killed nor exited: it may take a read. */
  get alive(): boolean {
    return !this.#killed && this.process.exitCode === null && this.process.signalCode === null;
  }

  kill(): void {
    this.idleFor(undefined);
    if (!this.alive) return;
    this.#killed = true;
    // Held until its exit is seen: restore and close wait for it, with nothing else pending.
    this.process.ref();
    this.process.kill('SIGKILL');
  }

  idleFor(idleMs: number | undefined): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = idleMs === undefined ? undefined : setTimeout(() => this.kill(), idleMs).unref();
  }
}

/** A read waiting for a child. take() is false when the read has gone (aborted): the child is then free. */
interface Waiter {
  readonly take: (child: Child) => boolean;
  readonly fail: (error: Error) => void;
}

/** The timed reads of the database at `path`, with the default bounds; no child starts before the first read. */
export function createTimedReads(path: string, settings: DatabaseSettings): TimedReads {
  return new TimedReads({
    path,
    busyTimeoutMs: settings.readerBusyTimeoutMs,
    statementCacheCountMax: settings.statementCacheCountMax,
    resultRowCountMax: settings.resultRowCountMax,
    ...timedReadDefaults,
  });
}

export class TimedReads {
  readonly #settings: TimedReadSettings;
  readonly #children = new Set<Child>();
  readonly #waiting: Waiter[] = [];
  /** A spare child is starting: reads wait for it rather than start one more. */
  #spareStarting = false;
  #suspended = false;
  #closed = false;

  constructor(settings: TimedReadSettings) {
    this.#settings = settings;
  }

  /** Runs `statements` in a child; those unfinished at the deadline answer "query timeout". */
  async run(statements: readonly Statement[], options: TimedReadOptions): Promise<StatementResult[]> {
    const job: TimedReadJob = {
      statements,
      transaction: options.transaction ?? false,
      timings: options.timings ?? false,
      qualifyColumns: options.qualifyColumns ?? false,
    };
    options.signal.throwIfAborted();
    const child = await this.#acquire(options.signal);
    try {
      return await this.#runOn(child, job, options.timeoutMs, options.signal);
    } finally {
      this.#release(child);
    }
  }

  #runOn(child: Child, job: TimedReadJob, timeoutMs: number, signal: AbortSignal): Promise<StatementResult[]> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const results: StatementResult[] = [];
      const finish = (outcome: () => void): void => {
        clearTimeout(deadline);
        signal.removeEventListener('abort', onAbort);
        child.process.off('message', onMessage);
        child.process.off('exit', onExit);
        outcome();
      };
      const onMessage = (message: TimedReadAnswer): void => {
        if (message.kind === 'result') results.push(message.result);
        else if (message.kind === 'done') finish(() => resolve(results));
        else if (message.kind === 'failed') finish(() => reject(new StateMachineError('UNAVAILABLE', `read failed: ${message.message}`)));
      };
      const onExit = (): void => finish(() => reject(new StateMachineError('UNAVAILABLE', 'the read process exited before answering')));
      const onAbort = (): void => {
        child.kill();
        finish(() => reject(signal.reason));
      };
      const deadline = setTimeout(() => {
        child.replaceOnExit = true;
        child.kill();
        const unfinished = job.statements.length - results.length;
        finish(() => resolve([...results, ...Array.from({ length: unfinished }, () => timedOut())]));
      }, timeoutMs);
      child.process.on('message', onMessage);
      child.process.once('exit', onExit);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        child.process.send(job);
      } catch (error) {
        child.kill();
        finish(() => reject(new StateMachineError('UNAVAILABLE', 'could not hand the read to its process', { cause: error })));
      }
    });
  }

  #acquire(signal: AbortSignal): Promise<Child> {
    if (this.#closed) return Promise.reject(new StateMachineError('CLOSED', 'the state machine is closed'));
    if (!this.#suspended) {
      for (const child of this.#children) {
        if (child.busy || !child.alive) continue;
        child.busy = true;
        child.idleFor(undefined);
        // Keep one idle child ready while reads come: a read killed at its deadline then costs
        // the next read nothing (a start takes a fraction of a second idle, seconds loaded).
        if (!this.#hasIdleChild()) this.#startSpare();
        return Promise.resolve(child);
      }
      if (this.#children.size < this.#settings.processCountMax && !this.#spareStarting) return this.#startFor(signal);
    }
    if (this.#waiting.length >= this.#settings.waitingCountMax) {
      return Promise.reject(new StateMachineError('UNAVAILABLE', `too many reads with db_timeout waiting (${this.#settings.waitingCountMax})`));
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        return true;
      };
      const waiter: Waiter = {
        take: (child) => {
          if (!settle()) return false;
          resolve(child);
          return true;
        },
        fail: (error) => {
          if (settle()) reject(error);
        },
      };
      const onAbort = (): void => {
        if (!settle()) return;
        const position = this.#waiting.indexOf(waiter);
        if (position >= 0) this.#waiting.splice(position, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Starts a child for a read; if the read is aborted first, the child is kept as an idle one. */
  #startFor(signal: AbortSignal): Promise<Child> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#start().then(
        (child) => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) this.#release(child);
          else resolve(child);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /** Starts a child and resolves once its connection is open. */
  #start(): Promise<Child> {
    const child = new Child(this.#settings);
    this.#children.add(child);
    void child.exited.then(() => {
      this.#children.delete(child);
      if (!this.#serveWaiting() && child.replaceOnExit) this.#startSpare();
    });
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        clearTimeout(timer);
        child.process.off('message', onMessage);
        child.kill();
        reject(new StateMachineError('UNAVAILABLE', `could not start a read process: ${why}`));
      };
      const onMessage = (message: TimedReadAnswer): void => {
        if (message.kind === 'failed') {
          fail(message.message);
          return;
        }
        clearTimeout(timer);
        child.process.off('message', onMessage);
        child.process.off('exit', onExit);
        resolve(child);
      };
      const onExit = (): void => fail('it exited');
      const timer = setTimeout(() => fail(`no answer within ${this.#settings.startTimeoutMs}ms`), this.#settings.startTimeoutMs);
      child.process.once('message', onMessage);
      child.process.once('exit', onExit);
    });
  }

  #release(child: Child): void {
    child.busy = false;
    if (this.#suspended || this.#closed || !child.alive) {
      child.kill();
      return;
    }
    for (let waiter = this.#waiting.shift(); waiter !== undefined; waiter = this.#waiting.shift()) {
      child.busy = true;
      if (waiter.take(child)) return;
      child.busy = false;
    }
    child.idleFor(this.#settings.idleMs);
  }

  /** A child slot freed up (one exited): starts a child for the first waiting read, if any; false if none waits. */
  #serveWaiting(): boolean {
    if (this.#suspended || this.#closed || this.#children.size >= this.#settings.processCountMax) return false;
    const waiter = this.#waiting.shift();
    if (waiter === undefined) return false;
    this.#start().then((child) => {
      if (!waiter.take(child)) this.#release(child);
    }, waiter.fail);
    return true;
  }

  #hasIdleChild(): boolean {
    for (const child of this.#children) if (!child.busy && child.alive) return true;
    return false;
  }

  /** Starts an idle child (it exits after idleMs unused), unless one is starting already. */
  #startSpare(): void {
    if (this.#suspended || this.#closed || this.#spareStarting || this.#children.size >= this.#settings.processCountMax) return;
    this.#spareStarting = true;
    this.#start().then(
      (child) => {
        this.#spareStarting = false;
        this.#release(child);
      },
      () => {
        this.#spareStarting = false;
        this.#serveWaiting(); // a waiting read then starts its own child and reports why that failed
      },
    );
  }

  /** Kills every child, waits until they are gone, runs `work`; reads that arrive meanwhile wait until it ends. */
  async whileSuspended(work: () => void): Promise<void> {
    this.#suspended = true;
    try {
      const children = [...this.#children];
      for (const child of children) child.kill();
      await Promise.all(children.map((child) => child.exited));
      work();
    } finally {
      this.#suspended = false;
      while (this.#serveWaiting()) {
        // one child started per waiting read, up to processCountMax
      }
    }
  }

  close(): void {
    this.#closed = true;
    for (const child of this.#children) child.kill();
    for (const waiter of this.#waiting.splice(0)) waiter.fail(new StateMachineError('CLOSED', 'the state machine is closed'));
  }
}

function timedOut(): StatementResult {
  return { kind: 'error', error: queryTimeoutMessage };
}
