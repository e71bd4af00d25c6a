/**
 * How the client runs one HTTP call: a slot under the in-flight bound, then attempts
 * under the retry policy (retry-policy.ts) until a reply is interpreted, the policy
 * stops, or the call's deadline or signal ends it. An attempt goes to one node (the
 * leader or the next in round robin), follows its redirects up to redirectsMax and is
 * bounded by the attempt timeout; a node that fails retryably is marked failed in the
 * cluster view, so the next attempt tries another.
 */
import type { CallOptions } from './call-options.js';
import type { ClusterView } from './cluster-view.js';
import { QuorumliteError } from './errors.js';
import { InFlightLimiter } from './in-flight-limiter.js';
import { LeaderCheck } from './leader-check.js';
import type { ResolvedConfig } from './options.js';
import { errorForStatus, isRedirectStatus } from './reply-errors.js';
import { abortedError, RetryPolicy, runWithRetries } from './retry-policy.js';
import type { HttpResponse, HttpTransport } from './transport.js';

export type QueryParameter = readonly [name: string, value: string | undefined];

export interface CallSpec<T> {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly parameters: readonly QueryParameter[];
  readonly body?: Uint8Array;
  readonly contentType?: string;
  /** 'leader': the leader (or a guess that redirects); 'any': round robin. */
  readonly target: 'leader' | 'any';
  /** Add `?redirect` when the target is the leader. */
  readonly redirectable: boolean;
  readonly idempotencyKey?: string;
  readonly responseBytesMax: number;
  /** Runs inside the attempt, so retryable errors it throws move on to the next node. */
  readonly interpret: (response: HttpResponse, nodeUrl: string) => T;
}

export interface CallRun {
  readonly signal: AbortSignal;
  readonly deadlineAtMs: number;
  readonly timeoutMs: number;
}

export class CallRunner {
  readonly #config: ResolvedConfig;
  readonly #transport: HttpTransport;
  readonly #view: ClusterView;
  readonly #limiter: InFlightLimiter;
  readonly #policy: RetryPolicy;
  readonly #leaderCheck: LeaderCheck;
  /** Attempts the leader check ended because the other nodes named a new leader: the call retries there at once. */
  readonly #movedByLeaderCheck = new WeakSet<QuorumliteError>();
  /** Runs once a call holds its slot, before its first attempt (the client's background /nodes poll). */
  readonly #onCallStart: () => void;
  /** Every call running or queued, so close() can abort it. */
  readonly #activeCalls = new Set<LinkedSignal>();
  #closed = false;

  constructor(config: ResolvedConfig, transport: HttpTransport, view: ClusterView, onCallStart: () => void) {
    this.#config = config;
    this.#transport = transport;
    this.#view = view;
    this.#onCallStart = onCallStart;
    this.#limiter = new InFlightLimiter(config.inFlightCountMax, config.queuedCountMax);
    this.#policy = new RetryPolicy(config.retry, config.random);
    this.#leaderCheck = new LeaderCheck(config, transport, view);
  }

  /** Fails every call in flight or queued with `error`; later calls fail with CLIENT_CLOSED. */
  close(error: QuorumliteError): void {
    this.#closed = true;
    for (const call of this.#activeCalls) call.abort(error);
    this.#limiter.rejectAll(error);
  }

  /** Runs `spec` under the in-flight bound and the retry policy; CLIENT_CLOSED once close() was called. */
  async call<T>(spec: CallSpec<T>, options: CallOptions): Promise<T> {
    if (this.#closed) throw new QuorumliteError('CLIENT_CLOSED', 'the client was closed');
    // One listener on the caller's signal; close() reaches the call through activeCalls
    // (not a listener per call on one shared signal).
    const linked = linkSignals([options.signal]);
    this.#activeCalls.add(linked);
    try {
      await this.#limiter.acquire(linked.signal);
      try {
        this.#onCallStart();
        const run: CallRun = {
          signal: linked.signal,
          deadlineAtMs: this.#config.clock.now() + (options.deadlineMs ?? this.#config.deadlineMs),
          timeoutMs: options.timeoutMs ?? this.#config.timeoutMs,
        };
        return await runWithRetries(() => this.attempt(spec, run), {
          policy: this.#policy,
          clock: this.#config.clock,
          sleep: this.#config.sleep,
          deadlineAtMs: run.deadlineAtMs,
          signal: run.signal,
          retryAtOnce: (error) => this.#movedByLeaderCheck.has(error),
        });
      } finally {
        this.#limiter.release();
      }
    } catch (error) {
      throw this.#closed && isQuorumliteCode(error, 'ABORTED') ? new QuorumliteError('CLIENT_CLOSED', 'the client was closed', { cause: error }) : error;
    } finally {
      this.#activeCalls.delete(linked);
      linked.unlink();
    }
  }

  /** One attempt: one node (following its redirects), bounded by `run`'s timeout. */
  async attempt<T>(spec: CallSpec<T>, run: CallRun): Promise<T> {
    let nodeUrl = spec.target === 'leader' ? this.#view.leaderOrGuess() : this.#view.nextReadNode();
    // Bounded by redirectsMax: each turn follows one redirect or returns.
    for (let redirectCount = 0; ; redirectCount += 1) {
      const response = await this.#sendToNode(spec, nodeUrl, run);
      if (isRedirectStatus(response.status)) {
        nodeUrl = this.#followRedirect(response, nodeUrl, redirectCount);
        continue;
      }
      try {
        const failure = errorForStatus(response, nodeUrl);
        if (failure !== undefined) throw failure;
        const value = spec.interpret(response, nodeUrl);
        if (spec.target === 'leader' && spec.redirectable && this.#config.useRedirects) this.#view.setLeader(nodeUrl);
        return value;
      } catch (error) {
        if (error instanceof QuorumliteError && error.retryable) this.#view.markFailed(nodeUrl);
        throw error;
      }
    }
  }

  #followRedirect(response: HttpResponse, fromUrl: string, redirectCount: number): string {
    if (redirectCount >= this.#config.redirectsMax) {
      throw new QuorumliteError('TOO_MANY_REDIRECTS', `more than redirectsMax (${this.#config.redirectsMax}) redirects, last from ${fromUrl}`, {
        nodeUrl: fromUrl,
      });
    }
    if (response.location === undefined) {
      throw new QuorumliteError('SERVER_ERROR', `${fromUrl} answered HTTP ${response.status} without a Location`, { nodeUrl: fromUrl });
    }
    // A non-leader redirects to the leader: remember it for the calls that follow.
    this.#view.setLeader(new URL(response.location, fromUrl).href);
    return this.#view.leader as string;
  }

  async #sendToNode<T>(spec: CallSpec<T>, nodeUrl: string, run: CallRun): Promise<HttpResponse> {
    const remainingMs = run.deadlineAtMs - this.#config.clock.now();
    const timeoutMs = Math.max(1, Math.min(run.timeoutMs, remainingMs));
    const attemptSignal = linkSignals([run.signal]);
    const timer = setTimeout(() => {
      attemptSignal.abort(new QuorumliteError('TIMEOUT', `${nodeUrl} did not answer within ${timeoutMs} ms`, { nodeUrl }));
    }, timeoutMs);
    const stopLeaderCheck = this.#checkLeaderWhileWaiting(spec, nodeUrl, attemptSignal);
    try {
      return await this.#transport.send({
        method: spec.method,
        url: this.#buildUrl(nodeUrl, spec),
        headers: this.#buildHeaders(spec),
        body: spec.body,
        signal: attemptSignal.signal,
        responseBytesMax: spec.responseBytesMax,
      });
    } catch (error) {
      const failure = attemptSignal.signal.aborted ? toAbortError(attemptSignal.signal.reason) : error;
      if (failure instanceof QuorumliteError && failure.retryable) this.#view.markFailed(nodeUrl);
      throw failure;
    } finally {
      clearTimeout(timer);
      stopLeaderCheck();
      attemptSignal.unlink();
    }
  }

  /**
   * While an attempt for the leader waits on a node — the one taken for the leader, or a
   * guess while no leader is known (a guess may be the hung node: FINDINGS J8) — asks the
   * other nodes who leads once it has waited leaderCheckAfterMs (leader-check.ts); when they
   * name another node, adopts it and ends the attempt retryably, so the call retries there
   * with the same idempotency key. Returns the function that stops the check when the
   * attempt ends.
   */
  #checkLeaderWhileWaiting<T>(spec: CallSpec<T>, nodeUrl: string, attempt: LinkedSignal): () => void {
    const afterMs = this.#config.leaderCheckAfterMs;
    if (afterMs === 0 || spec.target !== 'leader') return () => undefined;
    // Most attempts end well before afterMs: the check's controller is made only when it starts.
    let stop: AbortController | undefined;
    const timer = setTimeout(() => {
      const watching = new AbortController();
      stop = watching;
      void this.#leaderCheck.watch(nodeUrl, watching.signal).then((leaderUrl) => {
        if (leaderUrl === undefined || watching.signal.aborted) return;
        this.#view.setLeader(leaderUrl);
        const message = `${nodeUrl} did not answer within ${afterMs} ms and the other nodes name ${leaderUrl} the leader`;
        const moved = new QuorumliteError('NO_LEADER', message, { nodeUrl });
        this.#movedByLeaderCheck.add(moved);
        attempt.abort(moved);
      });
    }, afterMs);
    return () => {
      clearTimeout(timer);
      stop?.abort();
    };
  }

  #buildUrl<T>(nodeUrl: string, spec: CallSpec<T>): string {
    const parameters = [...spec.parameters];
    // Every /db/ call addresses the client's database; the server refuses it where only the default one is served.
    const database = this.#config.database;
    if (database !== undefined && spec.path.startsWith('/db/') && !parameters.some(([name]) => name === 'db')) parameters.push(['db', database]);
    if (spec.target === 'leader' && spec.redirectable && this.#config.useRedirects) parameters.push(['redirect', undefined]);
    const search = parameters.map(([name, value]) => (value === undefined ? name : `${name}=${encodeURIComponent(value)}`)).join('&');
    return `${nodeUrl}${spec.path}${search === '' ? '' : `?${search}`}`;
  }

  #buildHeaders<T>(spec: CallSpec<T>): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.#config.headers };
    if (spec.contentType !== undefined) headers['content-type'] = spec.contentType;
    if (spec.idempotencyKey !== undefined) headers['idempotency-key'] = spec.idempotencyKey;
    return headers;
  }
}

interface LinkedSignal {
  readonly signal: AbortSignal;
  abort(reason: unknown): void;
  unlink(): void;
}

/** An AbortSignal that fires when any parent fires (AbortSignal.any without the leak on long-lived parents). */
function linkSignals(parents: readonly (AbortSignal | undefined)[]): LinkedSignal {
  const controller = new AbortController();
  const listeners: [AbortSignal, () => void][] = [];
  for (const parent of parents) {
    if (parent === undefined) continue;
    if (parent.aborted) {
      controller.abort(parent.reason);
      break;
    }
    const listener = (): void => controller.abort(parent.reason);
    parent.addEventListener('abort', listener, { once: true });
    listeners.push([parent, listener]);
  }
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    unlink: () => {
      for (const [parent, listener] of listeners) parent.removeEventListener('abort', listener);
    },
  };
}

function toAbortError(reason: unknown): QuorumliteError {
  return reason instanceof QuorumliteError ? reason : abortedError(reason);
}

function isQuorumliteCode(error: unknown, code: string): boolean {
  return error instanceof QuorumliteError && error.code === code;
}
