/**
 * The session lease's keep-alive, one short call at a time (instead of etcd3's long-lived
 * keep-alive stream). etcd3's stream stays on one etcd member: when that member is cut off
 * from the others it accepts keep-alives and cannot forward them to etcd's leader, and the
 * stream only gives up after a whole TTL without an answer — by then the lease is lost
 * (FINDINGS J7). Here every keep-alive is its own stream with a deadline of a fraction of
 * the TTL, sent through the client's pool (a random member whose circuit is closed, with
 * etcd's require-leader metadata from the client's call options): a member that hangs
 * costs one attempt, and the next goes to another member, well within the lease.
 *
 * Each acknowledged keep-alive reports the time it was SENT: etcd renewed the lease when
 * it processed it, which is later, so "sent + TTL" never overstates the lease. Silence
 * never ends the loop (etcd extends leases when it elects a leader, so a lease can outlive
 * a long election); only etcd's answer that the lease is gone (TTL 0) does.
 */
import { EtcdLeaseInvalidError, type Etcd3 } from 'etcd3';
import type { ScheduledTimer, Scheduler } from './scheduler.js';

interface KeepAliveSettings {
  readonly leaseId: string;
  readonly leaseTtlSeconds: number;
}

interface KeepAliveDependencies {
  readonly client: Etcd3;
  readonly scheduler: Scheduler;
  /** etcd renewed the lease after `sentMs` (monotonic): it holds until at least `sentMs` plus the TTL. */
  readonly onAcknowledged: (sentMs: number) => void;
  /** etcd says the lease is gone (TTL 0): the loop has stopped. */
  readonly onExpired: (error: Error) => void;
}

/** Keep-alives per TTL: the Go client's rhythm is three; four leaves room for a retry after a hung attempt. */
const keepAlivesPerTtl = 4;
/** After a failed attempt (a member without a leader refuses at once), this pause keeps the loop from spinning. */
const retryPauseMs = 50;

export class EtcdKeepAlive {
  readonly #settings: KeepAliveSettings;
  readonly #dependencies: KeepAliveDependencies;
  #timer: ScheduledTimer | undefined;
  #stopped = false;

  constructor(settings: KeepAliveSettings, dependencies: KeepAliveDependencies) {
    this.#settings = settings;
    this.#dependencies = dependencies;
  }

  start(): void {
    this.#schedule(this.#intervalMs());
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }

  #intervalMs(): number {
    return (this.#settings.leaseTtlSeconds * 1000) / keepAlivesPerTtl;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = this.#dependencies.scheduler.setTimeout(() => void this.#attempt(), delayMs);
  }

  async #attempt(): Promise<void> {
    const { scheduler, onAcknowledged, onExpired } = this.#dependencies;
    const sentMs = scheduler.monotonicMs();
    let ttlSeconds: number;
    try {
      ttlSeconds = await this.#keepAliveOnce(this.#intervalMs());
    } catch {
      if (this.#stopped) return;
      // No giving up on silence (etcd3 drops a lease after twice the TTL without an answer): etcd extends every lease
      // when it elects a new leader, so the lease may well outlive a long election, and dropping it would strand the
      // leader key until it expires. etcd says when the lease is gone (TTL 0); until then the local bound governs.
      this.#schedule(retryPauseMs);
      return;
    }
    if (this.#stopped) return;
    if (ttlSeconds <= 0) {
      this.stop();
      onExpired(new EtcdLeaseInvalidError(this.#settings.leaseId));
      return;
    }
    onAcknowledged(sentMs);
    this.#schedule(Math.max(0, sentMs + this.#intervalMs() - scheduler.monotonicMs()));
  }

  /** One keep-alive on its own stream, given up after `timeoutMs`; resolves with the TTL etcd answered (0: the lease is gone). */
  async #keepAliveOnce(timeoutMs: number): Promise<number> {
    const stream = await this.#dependencies.client.leaseClient.leaseKeepAlive({ deadline: Date.now() + timeoutMs });
    return new Promise<number>((resolve, reject) => {
      stream.on('data', (response: { TTL: string }) => {
        stream.end();
        resolve(Number(response.TTL));
      });
      stream.on('error', reject);
      stream.write({ ID: this.#settings.leaseId });
    });
  }
}
