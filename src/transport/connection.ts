/**
 * One byte stream (TCP socket, TLS socket or in-memory stream) carrying frames. Cuts
 * incoming bytes into frames, applies this node's fault hooks to both directions, and
 * reports backpressure: `write` returns false when the stream's buffer or the frames
 * held back by a delay or pause exceed their bound; `onDrain` fires when writing may
 * resume. Closing is idempotent and reported once through `onClose`.
 */
import type { Duplex } from 'node:stream';
import { FrameDecoder, frameHeaderBytes, FrameKind, type Frame } from './codec.js';
import { TransportError } from './errors.js';
import { noFault, type FaultState } from './faults.js';

export interface ConnectionEvents {
  onFrame(connection: FramedConnection, frame: Frame): void;
  onDrain(connection: FramedConnection): void;
  onClose(connection: FramedConnection, error: Error | undefined): void;
  /** A frame discarded by a fault hook; `direction` as seen from this node. */
  onFaultDrop(connection: FramedConnection, direction: 'inbound' | 'outbound'): void;
}

interface HeldFrame {
  readonly frame: Buffer;
  readonly dueMs: number;
}

export class FramedConnection {
  /** The peer's node id, once its handshake (or ours, for outbound links) names it. */
  remoteId: string | undefined;
  remoteAddress: string | undefined;
  /** What the peer announced it can do beyond the protocol version (set by the handshake). */
  remoteFeatures: readonly string[] = [];
  readonly #stream: Duplex;
  readonly #decoder: FrameDecoder;
  readonly #faults: FaultState;
  readonly #heldFrameBytesMax: number;
  /** Replaced once, when a handshake completes and the connection changes hands. */
  events: ConnectionEvents;
  readonly #held: HeldFrame[] = [];
  #heldBytes = 0;
  #heldTimer: NodeJS.Timeout | undefined;
  #streamNeedsDrain = false;
  #owesDrain = false;
  /** Decoded frames not yet handed on (only while a pause holds them, or within one receive). */
  readonly #inbound: Frame[] = [];
  #inboundHeld = false;
  #inboundRelease: NodeJS.Immediate | undefined;
  #readingPausedByOwner = false;
  #corked = false;
  #closed = false;
  readonly #unsubscribeFaults: () => void;

  constructor(stream: Duplex, frameBytesMax: number, faults: FaultState, heldFrameBytesMax: number, events: ConnectionEvents) {
    this.#stream = stream;
    this.#decoder = new FrameDecoder(frameBytesMax);
    this.#faults = faults;
    this.#heldFrameBytesMax = heldFrameBytesMax;
    this.events = events;
    this.#unsubscribeFaults = faults.onChange(() => {
      this.#releaseHeld();
      this.#releaseInbound();
    });
    stream.on('data', (chunk: Buffer) => this.#receive(chunk));
    stream.on('drain', () => {
      this.#streamNeedsDrain = false;
      this.#maybeDrained();
    });
    stream.on('error', (error: Error) => this.close(error));
    stream.on('close', () => this.close(undefined));
    stream.on('end', () => this.close(undefined));
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** False while writing more would only grow a buffer (the caller should wait for onDrain). */
  get isWritable(): boolean {
    return !this.#closed && !this.#streamNeedsDrain && this.#heldBytes < this.#heldFrameBytesMax;
  }

  /**
   * Writes (or holds, or drops, per the fault hooks) one encoded frame. Returns
   * isWritable. Handshake frames pass the fault hooks, so that faults act on what a
   * link carries (one-way drops stay one-way) rather than on whether it exists.
   */
  write(frame: Buffer): boolean {
    if (this.#closed) return false;
    const fault = isHandshakeFrame(frame[frameHeaderBytes - 1] as number) ? noFault : this.#faults.get(this.remoteId);
    if (fault.dropOutbound) {
      this.events.onFaultDrop(this, 'outbound');
    } else if (this.#held.length > 0 || fault.paused || fault.delayMs > 0) {
      const last = this.#held[this.#held.length - 1];
      const dueMs = Math.max(Date.now() + fault.delayMs, last === undefined ? 0 : last.dueMs);
      this.#held.push({ frame, dueMs });
      this.#heldBytes += frame.byteLength;
      this.#releaseHeld();
    } else {
      this.#writeToStream(frame);
    }
    const writable = this.isWritable;
    if (!writable) this.#owesDrain = true;
    return writable;
  }

  /** The owner's own backpressure (a snapshot receiver waiting for the disk). */
  pauseReading(): void {
    this.#readingPausedByOwner = true;
    this.#stream.pause();
  }

  resumeReading(): void {
    this.#readingPausedByOwner = false;
    if (!this.#inboundHeld) this.#resumeStream();
  }

  /** Flushes what was written, then closes. */
  end(): void {
    if (this.#closed) return;
    this.#stream.end();
  }

  close(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribeFaults();
    if (this.#heldTimer !== undefined) clearTimeout(this.#heldTimer);
    this.#heldTimer = undefined;
    if (this.#inboundRelease !== undefined) clearImmediate(this.#inboundRelease);
    this.#inboundRelease = undefined;
    this.#held.length = 0;
    this.#heldBytes = 0;
    this.#inbound.length = 0;
    this.#stream.destroy();
    this.events.onClose(this, error);
  }

  #writeToStream(frame: Buffer): void {
    // Frames written in one tick (replies to a batch of calls, say) leave in one writev.
    if (!this.#corked) {
      this.#corked = true;
      this.#stream.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#stream.uncork();
      });
    }
    if (!this.#stream.write(frame)) this.#streamNeedsDrain = true;
  }

  /** Writes the held frames that are due, unless paused; re-arms the timer for the rest. */
  #releaseHeld(): void {
    if (this.#closed) return;
    if (this.#heldTimer !== undefined) clearTimeout(this.#heldTimer);
    this.#heldTimer = undefined;
    const fault = this.#faults.get(this.remoteId);
    if (fault.dropOutbound && this.#held.length > 0) {
      for (const _frame of this.#held) this.events.onFaultDrop(this, 'outbound');
      this.#held.length = 0;
      this.#heldBytes = 0;
    }
    if (fault.paused) return;
    const nowMs = Date.now();
    while (this.#held.length > 0 && (this.#held[0] as HeldFrame).dueMs <= nowMs) {
      const next = this.#held.shift() as HeldFrame;
      this.#heldBytes -= next.frame.byteLength;
      this.#writeToStream(next.frame);
    }
    const head = this.#held[0];
    if (head !== undefined) {
      this.#heldTimer = setTimeout(() => this.#releaseHeld(), Math.max(1, head.dueMs - nowMs));
    }
    this.#maybeDrained();
  }

  #maybeDrained(): void {
    if (!this.#owesDrain || !this.isWritable) return;
    this.#owesDrain = false;
    this.events.onDrain(this);
  }

  #receive(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      for (const frame of this.#decoder.push(chunk)) this.#inbound.push(frame);
    } catch (error) {
      this.close(error instanceof Error ? error : new TransportError('MALFORMED_FRAME', String(error)));
      return;
    }
    this.#deliverInbound();
  }

  /**
   * Hands decoded frames on in order. While the peer is paused, frames wait here and
   * the stream stops reading, so the backlog is at most one chunk's frames and TCP
   * backpressure reaches the sender.
   */
  #deliverInbound(): void {
    // Each pass consumes one frame or returns.
    while (this.#inbound.length > 0 && !this.#closed) {
      const frame = this.#inbound[0] as Frame;
      const fault = isHandshakeFrame(frame.kind) ? noFault : this.#faults.get(this.remoteId);
      if (fault.paused) {
        this.#inboundHeld = true;
        this.#stream.pause();
        return;
      }
      this.#inbound.shift();
      if (fault.dropInbound) {
        this.events.onFaultDrop(this, 'inbound');
        continue;
      }
      try {
        this.events.onFrame(this, frame);
      } catch (error) {
        this.close(error instanceof Error ? error : new TransportError('MALFORMED_FRAME', String(error)));
        return;
      }
    }
  }

  /** After a fault change: deliver what a pause held (in a later turn, not inside the fault hook's caller). */
  #releaseInbound(): void {
    if (!this.#inboundHeld || this.#faults.get(this.remoteId).paused || this.#inboundRelease !== undefined) return;
    this.#inboundRelease = setImmediate(() => {
      this.#inboundRelease = undefined;
      this.#inboundHeld = false;
      this.#deliverInbound();
      if (!this.#inboundHeld && !this.#readingPausedByOwner) this.#resumeStream();
    });
  }

  #resumeStream(): void {
    if (!this.#closed) this.#stream.resume();
  }
}

function isHandshakeFrame(kind: number): boolean {
  return kind === FrameKind.hello || kind === FrameKind.helloAccepted || kind === FrameKind.helloRejected;
}
