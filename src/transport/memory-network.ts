/**
 * An in-memory network: transports listen on any string address and dial each other
 * through pairs of in-memory streams. Delivery is asynchronous (never inside the
 * writer's call) and respects backpressure like a socket: a writer whose bytes the
 * reader has not consumed past its high-water mark waits for 'drain'.
 */
import { Duplex } from 'node:stream';
import { TransportError } from './errors.js';
import type { StreamListener, StreamNetwork } from './stream-network.js';

class MemoryStreamEnd extends Duplex {
  other: MemoryStreamEnd | undefined;
  /** The other end's write callback, held while this end's reader is full. */
  #waitingWriteCallback: ((error?: Error | null) => void) | undefined;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    process.nextTick(() => {
      const other = this.other;
      if (other === undefined || other.destroyed) {
        callback(new Error('the other end of the in-memory stream is closed'));
        return;
      }
      if (other.push(chunk)) callback();
      else other.#waitingWriteCallback = callback;
    });
  }

  override _read(): void {
    const callback = this.#waitingWriteCallback;
    this.#waitingWriteCallback = undefined;
    callback?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    process.nextTick(() => {
      const other = this.other;
      if (other !== undefined && !other.destroyed) other.push(null);
      callback();
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const other = this.other;
    this.other = undefined;
    this.#waitingWriteCallback = undefined;
    if (other !== undefined) {
      other.other = undefined;
      process.nextTick(() => other.destroy());
    }
    callback(error);
  }
}

function createStreamPair(): [MemoryStreamEnd, MemoryStreamEnd] {
  const left = new MemoryStreamEnd();
  const right = new MemoryStreamEnd();
  left.other = right;
  right.other = left;
  return [left, right];
}

export class MemoryNetwork implements StreamNetwork {
  readonly #listeners = new Map<string, (stream: Duplex) => void>();
  readonly #openStreams = new Set<MemoryStreamEnd>();

  async listen(address: string, onStream: (stream: Duplex) => void): Promise<StreamListener> {
    if (address.length === 0) throw new TransportError('INVALID_ARGUMENT', 'a memory address must not be empty');
    if (this.#listeners.has(address)) {
      throw new TransportError('INVALID_ARGUMENT', `memory address ${address} is already in use`);
    }
    this.#listeners.set(address, onStream);
    return {
      address,
      close: async () => {
        if (this.#listeners.get(address) === onStream) this.#listeners.delete(address);
      },
    };
  }

  async dial(address: string, _timeoutMs: number): Promise<Duplex> {
    // Yield once, as a real connect would, so callers never see a synchronous connect.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const onStream = this.#listeners.get(address);
    if (onStream === undefined) {
      throw new TransportError('UNREACHABLE', `cannot connect to ${address}: nothing listens there`, { peer: address });
    }
    const [client, server] = createStreamPair();
    for (const end of [client, server]) {
      this.#openStreams.add(end);
      end.once('close', () => this.#openStreams.delete(end));
    }
    onStream(server);
    return client;
  }

  /** Streams not yet closed (tests check that closed transports leave none). */
  get openStreamCount(): number {
    return this.#openStreams.size;
  }
}
