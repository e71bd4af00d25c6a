/**
 * Bookkeeping of snapshot transfers in both directions: at most snapshotsSendingMax
 * outbound transfers (each abortable by the caller's signal and by close()) and at most
 * snapshotsInFlightMax inbound ones (close() waits for them to settle).
 */
import { TransportError } from './errors.js';
import type { TransportLimits } from './limits.js';
import type { SnapshotReceiver } from './snapshot-receiver.js';
import { sendSnapshotFile, type SnapshotSendContext, type SnapshotSendRequest } from './snapshot-sender.js';

export class SnapshotTransfers {
  readonly #limits: TransportLimits;
  readonly #sending = new Set<AbortController>();
  readonly #receiving = new Set<SnapshotReceiver>();

  constructor(limits: TransportLimits) {
    this.#limits = limits;
  }

  /** Sends one snapshot file; `isClosed` tells a failure caused by close() from others. */
  async send(
    context: SnapshotSendContext,
    request: Omit<SnapshotSendRequest, 'signal'>,
    signal: AbortSignal | undefined,
    isClosed: () => boolean,
  ): Promise<void> {
    const { to } = request;
    if (this.#sending.size >= this.#limits.snapshotsSendingMax) {
      throw new TransportError('TOO_MANY_SNAPSHOTS', `${this.#sending.size} snapshot transfers are running (snapshotsSendingMax)`, { peer: to });
    }
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    if (signal?.aborted === true) controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#sending.add(controller);
    try {
      await sendSnapshotFile(context, { ...request, signal: controller.signal });
    } catch (error) {
      if (isClosed()) throw new TransportError('CLOSED', `the transport closed during the snapshot transfer to ${to}`, { cause: error, peer: to });
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#sending.delete(controller);
    }
  }

  /** False when snapshotsInFlightMax inbound snapshots are running. */
  hasReceiveSlot(): boolean {
    return this.#receiving.size < this.#limits.snapshotsInFlightMax;
  }

  /** Settles once no running inbound snapshot writes `path` (a resumed transfer waits for the attempt it continues). */
  async receivesOf(path: string): Promise<void> {
    await Promise.all([...this.#receiving].filter((receiver) => receiver.tempFilePath === path).map((receiver) => receiver.done));
  }

  /** Tracks a running inbound snapshot (it holds a slot until `done` settles). */
  trackReceive(receiver: SnapshotReceiver): void {
    this.#receiving.add(receiver);
    void receiver.done.then(() => this.#receiving.delete(receiver));
  }

  abortSending(): void {
    for (const controller of this.#sending) controller.abort();
  }

  /** Settles when every inbound snapshot running now has. */
  receivesDone(): Promise<unknown>[] {
    return [...this.#receiving].map((receiver) => receiver.done);
  }
}
