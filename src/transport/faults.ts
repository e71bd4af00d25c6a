/**
 * Fault hooks for tests, applied by this node to its own traffic with one peer, so a
 * real-process test without root can partition a node. Faults act per direction as
 * seen from this node: to cut a link both ways, `isolate` it (or drop on both nodes).
 *
 * Faults act on what links carry (messages, calls, replies, snapshot data), not on
 * the handshake, so a one-way drop stays one-way although TCP itself is two-way.
 *
 * - dropOutbound: frames to the peer vanish (calls to it time out, as in a partition).
 * - dropInbound: frames from the peer vanish, including replies to our calls.
 * - delay: frames to the peer are written `delayMs` later, order kept.
 * - pause: as if the peer (or this node, as the peer sees it) were stopped: frames to
 *   it are held (bounded: the message queue fills, then drops) and frames from it are
 *   not read (TCP backpressure holds them at the sender) until `heal`; then both
 *   directions go on in order, nothing lost but what the bounds dropped.
 */

interface PeerFault {
  readonly dropOutbound: boolean;
  readonly dropInbound: boolean;
  readonly delayMs: number;
  readonly paused: boolean;
}

export interface FaultControl {
  isolate(peerId: string): void;
  dropOutbound(peerId: string): void;
  dropInbound(peerId: string): void;
  delay(peerId: string, delayMs: number): void;
  pause(peerId: string): void;
  /** Clears every fault for one peer, or for all peers when no id is given. */
  heal(peerId?: string): void;
}

export const noFault: PeerFault = { dropOutbound: false, dropInbound: false, delayMs: 0, paused: false };

export class FaultState implements FaultControl {
  readonly #faults = new Map<string, PeerFault>();
  readonly #changeListeners = new Set<() => void>();

  get(peerId: string | undefined): PeerFault {
    if (peerId === undefined) return noFault;
    return this.#faults.get(peerId) ?? noFault;
  }

  /** Called after every change (connections re-check held frames). Returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  isolate(peerId: string): void {
    this.#update(peerId, { dropOutbound: true, dropInbound: true });
  }

  dropOutbound(peerId: string): void {
    this.#update(peerId, { dropOutbound: true });
  }

  dropInbound(peerId: string): void {
    this.#update(peerId, { dropInbound: true });
  }

  delay(peerId: string, delayMs: number): void {
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(`delayMs must be a non-negative number, got ${delayMs}`);
    }
    this.#update(peerId, { delayMs });
  }

  pause(peerId: string): void {
    this.#update(peerId, { paused: true });
  }

  heal(peerId?: string): void {
    if (peerId === undefined) this.#faults.clear();
    else this.#faults.delete(peerId);
    this.#notify();
  }

  #update(peerId: string, change: Partial<PeerFault>): void {
    if (typeof peerId !== 'string' || peerId.length === 0) {
      throw new TypeError(`fault hooks need a peer id, got ${JSON.stringify(peerId)}`);
    }
    this.#faults.set(peerId, { ...this.get(peerId), ...change });
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#changeListeners]) listener();
  }
}
