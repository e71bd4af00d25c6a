/**
 * The transport protocol over any StreamNetwork: the shared implementation behind
 * TcpTransport and MemoryTransport. See types.ts for the contract.
 *
 * This class owns the lifecycle (start, close) and the Transport methods; the parts
 * live beside it: peer-links.ts (address book, outbound links, per-turn flush),
 * dialer.ts (dial and handshake), inbound-connections.ts (accepted connections and
 * the handlers they deliver to), snapshot-transfers.ts and peer-reports.ts.
 */
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Duplex } from 'node:stream';
import { encodeValue } from './codec.js';
import { Dialer } from './dialer.js';
import { TransportError } from './errors.js';
import { FaultState, type FaultControl } from './faults.js';
import { InboundConnections } from './inbound-connections.js';
import { resolveLimits, type TransportLimits } from './limits.js';
import { MetricsRegistry } from './metrics.js';
import type { LinkContext } from './outbound-link.js';
import { PeerLinks } from './peer-links.js';
import { PeerReports } from './peer-reports.js';
import { SnapshotTransfers } from './snapshot-transfers.js';
import type { StreamListener, StreamNetwork } from './stream-network.js';
import type {
  CallHandler,
  CallOptions,
  CallTarget,
  MessageSender,
  RaftMessageLike,
  SendSnapshotOptions,
  SendTiming,
  SnapshotHandler,
  Transport,
  TransportMetrics,
} from './types.js';

export interface StreamTransportOptions {
  readonly nodeId: string;
  /** Peers with another cluster id are refused at the handshake. */
  readonly clusterId: string;
  /** Where to listen (`host:port`, port 0 for any; or a memory address). */
  readonly listenAddress: string;
  /** The address peers should dial, if not the bound listen address. */
  readonly advertisedAddress?: string;
  readonly limits?: Partial<TransportLimits>;
  /** Where incoming snapshots are written before the handler takes them (created at start). Default: the OS temp dir. */
  readonly snapshotDirectory?: string;
  /** Jitter source for reconnect backoff. Default: Math.random. */
  readonly random?: () => number;
}

type State = 'new' | 'starting' | 'running' | 'closed';

export class StreamTransport<Message extends RaftMessageLike = RaftMessageLike> implements Transport<Message> {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly limits: TransportLimits;
  readonly #network: StreamNetwork;
  readonly #options: StreamTransportOptions;
  readonly #faultState = new FaultState();
  readonly #metricsRegistry = new MetricsRegistry();
  readonly #unreachableReports = new PeerReports(
    () => (this.#state === 'closed' ? undefined : this.#unreachableHandler),
    (error) => this.#reportError(error),
  );
  readonly #disconnectedReports = new PeerReports(
    () => (this.#state === 'closed' ? undefined : this.#disconnectedHandler),
    (error) => this.#reportError(error),
  );
  #disconnectedHandler: ((id: string) => void) | undefined;
  #unreachableHandler: ((id: string) => void) | undefined;
  #errorHandler: ((error: Error) => void) | undefined;
  #listener: StreamListener | undefined;
  #state: State = 'new';
  /** What outbound links and snapshot senders need: dialling, bounds, metrics. */
  readonly #connectionContext: Omit<LinkContext, 'linkIdle'>;
  readonly #dialer: Dialer;
  readonly #links: PeerLinks;
  readonly #snapshots: SnapshotTransfers;
  readonly #inbound: InboundConnections<Message>;

  constructor(network: StreamNetwork, options: StreamTransportOptions) {
    requireName(options.nodeId, 'nodeId');
    if (typeof options.clusterId !== 'string') throw new TypeError('clusterId must be a string');
    this.#network = network;
    this.#options = options;
    this.nodeId = options.nodeId;
    this.clusterId = options.clusterId;
    this.limits = resolveLimits(options.limits);
    this.#dialer = this.#createDialer();
    this.#connectionContext = this.#createConnectionContext(options.random ?? Math.random);
    this.#links = new PeerLinks(this.#connectionContext);
    this.#snapshots = new SnapshotTransfers(this.limits);
    this.#inbound = this.#createInbound();
  }

  get address(): string {
    if (this.#listener === undefined) throw new Error('transport address is known only after start()');
    return this.#options.advertisedAddress ?? this.#listener.address;
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  get faults(): FaultControl {
    return this.#faultState;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`start() called on a transport that is ${this.#state}`);
    this.#state = 'starting';
    if (this.#options.snapshotDirectory !== undefined) await mkdir(this.#options.snapshotDirectory, { recursive: true });
    const listener = await this.#network.listen(this.#options.listenAddress, (stream) => this.#accept(stream));
    if (this.#state !== 'starting') {
      await listener.close();
      throw new TransportError('CLOSED', 'the transport was closed while starting');
    }
    this.#listener = listener;
    this.#state = 'running';
  }

  setPeer(id: string, address: string): void {
    requireName(id, 'peer id');
    requireName(address, 'peer address');
    this.#links.setPeer(id, address);
  }

  removePeer(id: string): void {
    this.#links.removePeer(id);
  }

  send(messages: readonly Message[], timing: SendTiming = 'callback'): void {
    if (this.#state === 'closed') return;
    this.#requireRunning('send');
    const encoded = messages.map((message) => this.#encodeMessage(message));
    const unreachable = new Set<string>();
    for (const [index, bytes] of encoded.entries()) {
      const to = (messages[index] as Message).to;
      if (!this.#links.enqueue(to, bytes)) {
        this.#metricsRegistry.peer(to).messagesDropped++;
        unreachable.add(to);
      }
    }
    this.#links.scheduleFlush(timing);
    if (unreachable.size > 0) this.#reportUnreachable(unreachable);
  }

  onMessage(handler: (message: Message, sender: MessageSender) => void): void {
    this.#inbound.onMessage(handler);
  }

  onUnreachable(handler: (id: string) => void): void {
    this.#unreachableHandler = handler;
  }

  onPeerDisconnected(handler: (id: string) => void): void {
    this.#disconnectedHandler = handler;
  }

  onError(handler: (error: Error) => void): void {
    this.#errorHandler = handler;
  }

  async call(target: CallTarget, method: string, payload: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.#state === 'closed') throw new TransportError('CLOSED', 'the transport is closed');
    this.#requireRunning('call');
    if (typeof method !== 'string' || method.length === 0) throw new TransportError('INVALID_ARGUMENT', 'method must be a non-empty string');
    const timeoutMs = options.timeoutMs ?? this.limits.callTimeoutMs;
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new TransportError('INVALID_ARGUMENT', `timeoutMs must be positive, got ${timeoutMs}`);
    if (options.signal?.aborted === true) throw new TransportError('ABORTED', `call ${method} was aborted before it was sent`);
    const link = this.#links.linkForTarget(target);
    return link.call(method, payload, options, timeoutMs);
  }

  handle(method: string, handler: CallHandler): void {
    requireName(method, 'method');
    this.#inbound.handle(method, handler);
  }

  async sendSnapshot(to: string, metadata: unknown, filePath: string, options: SendSnapshotOptions = {}): Promise<void> {
    if (this.#state === 'closed') throw new TransportError('CLOSED', 'the transport is closed');
    this.#requireRunning('sendSnapshot');
    const address = this.#links.addressOf(to);
    if (address === undefined) throw new TransportError('UNKNOWN_PEER', `no address known for peer ${to}`, { peer: to });
    const request = { to, address, metadata, filePath, resumeKey: options.resumeKey };
    await this.#snapshots.send(this.#connectionContext, request, options.signal, () => this.isClosed);
  }

  onSnapshot(handler: SnapshotHandler): void {
    this.#inbound.onSnapshot(handler);
  }

  metrics(): TransportMetrics {
    return this.#metricsRegistry.snapshot();
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#links.cancelFlush();
    this.#unreachableReports.cancel();
    this.#disconnectedReports.cancel();
    const listener = this.#listener;
    this.#listener = undefined;
    const listenerClosed = listener?.close();
    this.#links.closeAll();
    this.#snapshots.abortSending();
    this.#dialer.closeAll();
    this.#inbound.closeAll();
    await Promise.all([listenerClosed, ...this.#snapshots.receivesDone()]);
  }

  /** A programmer error: peers learn our address in the handshake, so nothing is sent before start() resolves. */
  #requireRunning(operation: string): void {
    if (this.#state !== 'running') throw new Error(`${operation}() called before start() resolved (the transport is ${this.#state})`);
  }

  #encodeMessage(message: Message): Uint8Array {
    if (typeof message !== 'object' || message === null || typeof message.to !== 'string' || typeof message.from !== 'string') {
      throw new TransportError('INVALID_ARGUMENT', 'a Raft message needs string from and to fields');
    }
    const bytes = encodeValue(message);
    if (bytes.byteLength + 1 > this.limits.frameBytesMax) {
      throw new TransportError(
        'FRAME_TOO_LARGE',
        `a message to ${message.to} of ${bytes.byteLength} bytes can never fit frameBytesMax ${this.limits.frameBytesMax}`,
        { peer: message.to },
      );
    }
    return bytes;
  }

  #reportUnreachable(ids: ReadonlySet<string>): void {
    if (this.#state === 'closed') return;
    for (const id of ids) this.#unreachableReports.add(id);
  }

  #reportDisconnected(id: string): void {
    if (this.#state === 'closed') return;
    this.#disconnectedReports.add(id);
  }

  #reportError(error: Error): void {
    if (this.#errorHandler === undefined) return;
    try {
      this.#errorHandler(error);
    } catch {
      // A diagnostics hook must not break the transport.
    }
  }

  #accept(stream: Duplex): void {
    if (this.#state !== 'running' && this.#state !== 'starting') {
      stream.destroy();
      return;
    }
    this.#inbound.accept(stream);
  }

  #createDialer(): Dialer {
    return new Dialer({
      network: this.#network,
      nodeId: this.nodeId,
      clusterId: this.clusterId,
      limits: this.limits,
      faults: this.#faultState,
      address: () => this.address,
      isClosed: () => this.#state === 'closed',
    });
  }

  #createConnectionContext(random: () => number): Omit<LinkContext, 'linkIdle'> {
    return {
      limits: this.limits,
      faults: this.#faultState,
      metrics: this.#metricsRegistry,
      random,
      openConnection: (address, expectedId, events) => this.#dialer.open(address, expectedId, events),
      reportUnreachable: (ids) => this.#reportUnreachable(ids),
    };
  }

  #createInbound(): InboundConnections<Message> {
    return new InboundConnections<Message>({
      nodeId: this.nodeId,
      clusterId: this.clusterId,
      limits: this.limits,
      faults: this.#faultState,
      metrics: this.#metricsRegistry,
      snapshots: this.#snapshots,
      snapshotDirectory: () => this.#options.snapshotDirectory ?? tmpdir(),
      address: () => this.address,
      reportError: (error) => this.#reportError(error),
      reportDisconnected: (id) => this.#reportDisconnected(id),
    });
  }
}

function requireName(value: unknown, what: string): void {
  if (typeof value !== 'string' || value.length === 0)
    throw new TransportError('INVALID_ARGUMENT', `${what} must be a non-empty string, got ${JSON.stringify(value)}`);
}
