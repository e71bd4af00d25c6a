/**
 * The etcd client's per-member circuit breaker (etcd3's `faultHandling.host`). cockatiel's
 * breaker, once half-open, lets one trial call through and makes every other call to that
 * member WAIT for the trial's outcome. With a member that hangs (a SIGSTOPped or starved
 * etcd, one cut off before it noticed it has no leader) the trial hangs to its deadline, so
 * every call that happened to pick that member — lease keep-alives included — waited up to
 * 2 s before the pool even tried another member; the node's lease lapsed while two etcd
 * members were healthy (FINDINGS J8, and the partition test's stalls under load).
 *
 * Here a call never waits on another call: while the member is skipped, or while its trial
 * is in flight, a call fails at once with cockatiel's BrokenCircuitError and the pool moves
 * on to the next member. Otherwise as cockatiel's: `failureCountMax` handled failures in a
 * row skip the member for `breakMs`; then one call tries it; its success closes the
 * breaker, its failure skips the member again. An error the filter does not handle (etcd
 * answered: a failed comparison, a missing key) counts as an answer.
 *
 * One failure is enough when it shows the member hangs (`isHang`: a call ran to its
 * deadline) and another member of the client still takes calls (`group`). A member cut
 * off from the others takes calls and does not answer until it notices it has no leader,
 * and each pick of it costs a call the whole deadline; three in a row were rarely reached,
 * since the pool shuffles the members for each call, and writes stalled 5.7 s (FINDINGS
 * J11). But a healthy member waiting on an election in etcd hangs the same way: opening
 * at once on every hang skipped every member during an election, and every call failed
 * at once until the next poll (the first fix of J11, reverted). So a hang skips a member
 * only while another is closed; a refusal is fast and still needs three; and the client's
 * retry policy waits out a moment when every member is skipped (etcd-client.ts).
 */
import { BrokenCircuitError, EventEmitter, type IDefaultPolicyContext, type IFailureEvent, type IPolicy, type ISuccessEvent } from 'cockatiel';

interface HostBreakerSettings {
  /** Handled failures in a row that skip the member. */
  readonly failureCountMax: number;
  /** How long a skipped member is skipped before one call tries it again. */
  readonly breakMs: number;
  /** Whether an error is the member's failure (unavailable, a deadline) rather than an answer. */
  readonly isFailure: (error: unknown) => boolean;
  /** Whether a failure shows the member hangs (a call ran to its deadline): with `group`, it may skip the member at once. */
  readonly isHang?: (error: unknown) => boolean;
  /** The breakers of the client's other members: a hang skips this one at once only while another is closed. */
  readonly group?: EtcdHostGroup;
  /** Told when the member starts being skipped (not when a failed trial extends it) and when a trial closes the breaker again. */
  readonly onChange?: (change: BreakerChange) => void;
  /** Monotonic milliseconds (tests pass their own clock). */
  readonly now?: () => number;
}

export type BreakerChange =
  | { readonly skipped: true; readonly reason: 'failures in a row' | 'hung while another member answers' }
  | { readonly skipped: false };

/** One client's member breakers, so that a breaker can ask whether another member still takes calls. */
export class EtcdHostGroup {
  readonly #breakers = new Set<EtcdHostBreaker>();

  add(breaker: EtcdHostBreaker): void {
    this.#breakers.add(breaker);
  }

  /** Whether a member other than `breaker` is closed (takes every call). */
  anotherClosed(breaker: EtcdHostBreaker): boolean {
    for (const other of this.#breakers) if (other !== breaker && other.state === 'closed') return true;
    return false;
  }
}

/** etcd3 passes no signal: every call shares this one rather than making its own. */
const neverAborted = new AbortController().signal;

export class EtcdHostBreaker implements IPolicy<IDefaultPolicyContext> {
  declare readonly _altReturn: never;
  readonly #successEmitter = new EventEmitter<ISuccessEvent>();
  readonly #failureEmitter = new EventEmitter<IFailureEvent>();
  readonly onSuccess = this.#successEmitter.addListener;
  readonly onFailure = this.#failureEmitter.addListener;
  readonly #settings: HostBreakerSettings;
  readonly #now: () => number;
  #failureCount = 0;
  /** While set: the member is skipped until then (monotonic ms); past it, one trial call goes through. */
  #skippedUntilMs: number | undefined;
  #trialInFlight = false;

  constructor(settings: HostBreakerSettings) {
    this.#settings = settings;
    this.#now = settings.now ?? (() => performance.now());
    settings.group?.add(this);
  }

  /** 'closed', 'open' (skipped), or 'trying' (one trial call in flight). */
  get state(): 'closed' | 'open' | 'trying' {
    if (this.#skippedUntilMs === undefined) return 'closed';
    return this.#trialInFlight ? 'trying' : 'open';
  }

  async execute<T>(fn: (context: IDefaultPolicyContext) => PromiseLike<T> | T, signal: AbortSignal = neverAborted): Promise<T> {
    const trial = this.#admit();
    const startedMs = this.#now();
    try {
      const value = await fn({ signal });
      this.#answered(trial);
      this.#successEmitter.emit({ duration: this.#now() - startedMs });
      return value;
    } catch (error) {
      if (this.#settings.isFailure(error)) {
        this.#failed(trial, this.#settings.isHang?.(error) === true);
        this.#failureEmitter.emit({ duration: this.#now() - startedMs, handled: true, reason: { error: error as Error } });
      } else {
        this.#answered(trial);
      }
      throw error;
    }
  }

  /** Lets the call through (true when it is the trial) or throws at once. */
  #admit(): boolean {
    if (this.#skippedUntilMs === undefined) return false;
    if (this.#trialInFlight) throw new BrokenCircuitError('etcd member skipped: a trial call to it is in flight');
    if (this.#now() < this.#skippedUntilMs) throw new BrokenCircuitError('etcd member skipped after failed calls');
    this.#trialInFlight = true;
    return true;
  }

  #answered(trial: boolean): void {
    if (trial) this.#trialInFlight = false;
    // A call admitted while closed that answers after a trial started says nothing of the trial's outcome.
    if (this.#skippedUntilMs !== undefined && !trial) return;
    const wasSkipped = this.#skippedUntilMs !== undefined;
    this.#skippedUntilMs = undefined;
    this.#failureCount = 0;
    if (wasSkipped) this.#settings.onChange?.({ skipped: false });
  }

  #failed(trial: boolean, hang: boolean): void {
    if (trial) {
      this.#trialInFlight = false;
      this.#skippedUntilMs = this.#now() + this.#settings.breakMs;
      return;
    }
    if (this.#skippedUntilMs !== undefined) return;
    this.#failureCount += 1;
    if (this.#failureCount >= this.#settings.failureCountMax) this.#skip('failures in a row');
    else if (hang && this.#settings.group?.anotherClosed(this) === true) this.#skip('hung while another member answers');
  }

  #skip(reason: 'failures in a row' | 'hung while another member answers'): void {
    this.#skippedUntilMs = this.#now() + this.#settings.breakMs;
    this.#settings.onChange?.({ skipped: true, reason });
  }
}
