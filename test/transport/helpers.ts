/**
 * Shared fixtures for the transport tests: a harness that creates transports of one
 * kind (TCP on loopback, or in-memory), raw access to the underlying network for
 * speaking the wire protocol by hand, and a bounded wait.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { encodeValueFrame, FrameDecoder, FrameKind, protocolVersion, type Frame } from '../../src/transport/codec.js';
import { MemoryNetwork } from '../../src/transport/memory-network.js';
import { MemoryTransport } from '../../src/transport/memory-transport.js';
import type { StreamNetwork } from '../../src/transport/stream-network.js';
import type { StreamTransport, StreamTransportOptions } from '../../src/transport/stream-transport.js';
import { TcpNetwork, type TlsOptions } from '../../src/transport/tcp-network.js';
import { TcpTransport } from '../../src/transport/tcp-transport.js';

export interface TestMessage {
  readonly from: string;
  readonly to: string;
  readonly [field: string]: unknown;
}

export type TransportKind = 'tcp' | 'memory';

export type TestTransport = StreamTransport<TestMessage>;

type ExtraOptions = Partial<Omit<StreamTransportOptions, 'nodeId'>> & { readonly tls?: TlsOptions };

export class Harness {
  readonly kind: TransportKind;
  readonly network: StreamNetwork;
  readonly #transports: TestTransport[] = [];
  readonly #directories: string[] = [];
  readonly #cleanups: (() => Promise<void> | void)[] = [];
  #hostIndex = 1;

  constructor(kind: TransportKind) {
    this.kind = kind;
    this.network = kind === 'tcp' ? new TcpNetwork() : new MemoryNetwork();
  }

  /** A listen address for a new node: its own loopback host (127.0.0.1, .2, …) for TCP. */
  nextListenAddress(nodeId: string): string {
    if (this.kind === 'memory') return `memory://${nodeId}-${this.#hostIndex++}`;
    return `127.0.0.${(this.#hostIndex++ % 3) + 1}:0`;
  }

  async create(nodeId: string, options: ExtraOptions = {}): Promise<TestTransport> {
    const fullOptions: StreamTransportOptions & { readonly tls?: TlsOptions } = {
      clusterId: 'cluster-test',
      listenAddress: this.nextListenAddress(nodeId),
      ...options,
      nodeId,
    };
    const transport: TestTransport =
      this.kind === 'tcp'
        ? new TcpTransport<TestMessage>(fullOptions)
        : new MemoryTransport<TestMessage>({ ...fullOptions, network: this.network as MemoryNetwork });
    this.#transports.push(transport);
    await transport.start();
    return transport;
  }

  /** Tells each transport every other's address. */
  introduce(...transports: TestTransport[]): void {
    for (const transport of transports) {
      for (const other of transports) if (other !== transport) transport.setPeer(other.nodeId, other.address);
    }
  }

  async temporaryDirectory(): Promise<string> {
    const directory = await mkdtemp(join(tmpdir(), 'quorumlite-transport-'));
    this.#directories.push(directory);
    return directory;
  }

  onCleanup(cleanup: () => Promise<void> | void): void {
    this.#cleanups.push(cleanup);
  }

  async dispose(): Promise<void> {
    for (const cleanup of this.#cleanups.splice(0)) await cleanup();
    await Promise.all(this.#transports.splice(0).map((transport) => transport.close()));
    await Promise.all(this.#directories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
  }
}

/** Polls `predicate` each few ms; throws (naming `what`) if it stays false for `timeoutMs`. Never a speed check: the bound only stops a hung test. */
export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Bounded by the deadline.
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Collects what a transport receives. */
export function collectMessages(transport: TestTransport): TestMessage[] {
  const received: TestMessage[] = [];
  transport.onMessage((message) => received.push(message));
  return received;
}

export function collectErrors(transport: TestTransport): Error[] {
  const errors: Error[] = [];
  transport.onError((error) => errors.push(error));
  return errors;
}

/** A hand-driven peer end: write raw bytes or frames, read frames, see the close. */
export class RawPeer {
  readonly stream: Duplex;
  readonly frames: Frame[] = [];
  closed = false;
  readonly #decoder = new FrameDecoder(64 * 1024 * 1024);

  constructor(stream: Duplex) {
    this.stream = stream;
    stream.on('data', (chunk: Buffer) => {
      for (const frame of this.#decoder.push(chunk)) this.frames.push(frame);
    });
    stream.on('error', () => undefined);
    stream.on('close', () => (this.closed = true));
  }

  static async dial(network: StreamNetwork, address: string): Promise<RawPeer> {
    return new RawPeer(await network.dial(address, 5000));
  }

  writeFrame(kind: FrameKind, value: unknown): void {
    this.stream.write(encodeValueFrame(kind, value, 64 * 1024 * 1024));
  }

  hello(nodeId: string, clusterId = 'cluster-test', version = protocolVersion): void {
    this.writeFrame(FrameKind.hello, { protocolVersion: version, clusterId, nodeId, address: `raw-${nodeId}` });
  }

  destroy(): void {
    this.stream.destroy();
  }
}

export function message(from: string, to: string, fields: Record<string, unknown> = {}): TestMessage {
  return { from, to, ...fields };
}
