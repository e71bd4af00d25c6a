/**
 * The transport protocol over any StreamNetwork: the shared implementation behind
 * TcpTransport and MemoryTransport. See types.ts for the contract.
 */
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Duplex } from 'node:stream';
import { encodeValue, encodeValueFrame, FrameKind, protocolVersion, type Frame } from './codec.js';
import { FramedConnection, type ConnectionEvents } from './connection.js';
import { errorMessageOf, TransportError } from './errors.js';
import { FaultState, type FaultControl } from './faults.js';
import { InboundConnection, type InboundContext } from './inbound-connection.js';
import { resolveLimits, type TransportLimits } from './limits.js';
import { MetricsRegistry } from './metrics.js';
import { OutboundLink, type LinkContext } from './outbound-link.js';
import { decodeHello, decodeRefusal } from './protocol.js';
import type { SnapshotReceiver } from './snapshot-receiver.js';
import { sendSnapshotFile } from './snapshot-sender.js';
import type { StreamListener, StreamNetwork } from './stream-network.js';
import type {
  CallHandler,
  CallOptions,
  CallTarget,
  RaftMessageLike,
  SendSnapshotOptions,
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
  private readonly network: StreamNetwork;
  private readonly options: StreamTransportOptions;
  private readonly faultState = new FaultState();
  private readonly metricsRegistry = new MetricsRegistry();
  private readonly peers = new Map<string, string>();
  private readonly links = new Map<string, OutboundLink>();
  private readonly dirtyLinks = new Set<OutboundLink>();
  private flushScheduled: NodeJS.Immediate | undefined;
  private readonly unreachableReports = new PeerReports(
    () => (this.state === 'closed' ? undefined : this.unreachableHandler),
    (error) => this.reportError(error),
  );
  private readonly disconnectedReports = new PeerReports(
    () => (this.state === 'closed' ? undefined : this.disconnectedHandler),
    (error) => this.reportError(error),
  );
  private disconnectedHandler: ((id: string) => void) | undefined;
  private readonly inbound = new Set<InboundConnection>();
  private readonly dialled = new Set<FramedConnection>();
  private readonly snapshotsReceiving = new Set<SnapshotReceiver>();
  private readonly snapshotsSending = new Set<AbortController>();
  private readonly callHandlers = new Map<string, CallHandler>();
  private messageHandler: ((message: Message) => void) | undefined;
  private unreachableHandler: ((id: string) => void) | undefined;
  private errorHandler: ((error: Error) => void) | undefined;
  private snapshotHandler: SnapshotHandler | undefined;
  private listener: StreamListener | undefined;
  private state: State = 'new';
  private readonly linkContext: LinkContext;
  private readonly inboundContext: InboundContext;

  constructor(network: StreamNetwork, options: StreamTransportOptions) {
    requireName(options.nodeId, 'nodeId');
    if (typeof options.clusterId !== 'string') throw new TypeError('clusterId must be a string');
    this.network = network;
    this.options = options;
    this.nodeId = options.nodeId;
    this.clusterId = options.clusterId;
    this.limits = resolveLimits(options.limits);
    this.linkContext = this.createLinkContext(options.random ?? Math.random);
    this.inboundContext = this.createInboundContext();
  }

  get address(): string {
    if (this.listener === undefined) throw new Error('transport address is known only after start()');
    return this.options.advertisedAddress ?? this.listener.address;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  get faults(): FaultControl {
    return this.faultState;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`start() called on a transport that is ${this.state}`);
    this.state = 'starting';
    if (this.options.snapshotDirectory !== undefined) await mkdir(this.options.snapshotDirectory, { recursive: true });
    const listener = await this.network.listen(this.options.listenAddress, (stream) => this.accept(stream));
    if (this.state !== 'starting') {
      await listener.close();
      throw new TransportError('CLOSED', 'the transport was closed while starting');
    }
    this.listener = listener;
    this.state = 'running';
  }

  setPeer(id: string, address: string): void {
    requireName(id, 'peer id');
    requireName(address, 'peer address');
    const previous = this.peers.get(id);
    if (previous === address) return;
    this.peers.set(id, address);
    if (previous !== undefined) this.closeLink(linkKey(id, previous), `peer ${id} moved from ${previous} to ${address}`);
  }

  removePeer(id: string): void {
    const address = this.peers.get(id);
    if (address === undefined) return;
    this.peers.delete(id);
    this.closeLink(linkKey(id, address), `peer ${id} was removed`);
  }

  send(messages: readonly Message[]): void {
    if (this.state === 'closed') return;
    this.requireRunning('send');
    const encoded = messages.map((message) => this.encodeMessage(message));
    const unreachable = new Set<string>();
    for (const [index, bytes] of encoded.entries()) {
      const to = (messages[index] as Message).to;
      const link = this.linkForPeer(to);
      if (link === undefined || !link.enqueue(to, bytes)) {
        this.metricsRegistry.peer(to).messagesDropped++;
        unreachable.add(to);
        continue;
      }
      this.dirtyLinks.add(link);
    }
    this.scheduleFlush();
    if (unreachable.size > 0) this.reportUnreachable(unreachable);
  }

  onMessage(handler: (message: Message) => void): void {
    this.messageHandler = handler;
  }

  onUnreachable(handler: (id: string) => void): void {
    this.unreachableHandler = handler;
  }

  onPeerDisconnected(handler: (id: string) => void): void {
    this.disconnectedHandler = handler;
  }

  onError(handler: (error: Error) => void): void {
    this.errorHandler = handler;
  }

  async call(target: CallTarget, method: string, payload: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.state === 'closed') throw new TransportError('CLOSED', 'the transport is closed');
    this.requireRunning('call');
    if (typeof method !== 'string' || method.length === 0) throw new TransportError('INVALID_ARGUMENT', 'method must be a non-empty string');
    const timeoutMs = options.timeoutMs ?? this.limits.callTimeoutMs;
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new TransportError('INVALID_ARGUMENT', `timeoutMs must be positive, got ${timeoutMs}`);
    if (options.signal?.aborted === true) throw new TransportError('ABORTED', `call ${method} was aborted before it was sent`);
    const link = this.linkForTarget(target);
    return link.call(method, payload, options, timeoutMs);
  }

  handle(method: string, handler: CallHandler): void {
    requireName(method, 'method');
    if (this.callHandlers.has(method)) throw new Error(`a handler for ${method} is already registered`);
    this.callHandlers.set(method, handler);
  }

  async sendSnapshot(to: string, metadata: unknown, filePath: string, options: SendSnapshotOptions = {}): Promise<void> {
    if (this.state === 'closed') throw new TransportError('CLOSED', 'the transport is closed');
    this.requireRunning('sendSnapshot');
    const address = this.peers.get(to);
    if (address === undefined) throw new TransportError('UNKNOWN_PEER', `no address known for peer ${to}`, { peer: to });
    if (this.snapshotsSending.size >= this.limits.snapshotsSendingMax) {
      throw new TransportError('TOO_MANY_SNAPSHOTS', `${this.snapshotsSending.size} snapshot transfers are running (snapshotsSendingMax)`, { peer: to });
    }
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    if (options.signal?.aborted === true) controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.snapshotsSending.add(controller);
    try {
      await sendSnapshotFile(this.linkContext, { to, address, metadata, filePath, signal: controller.signal });
    } catch (error) {
      if (this.isClosed) throw new TransportError('CLOSED', `the transport closed during the snapshot transfer to ${to}`, { cause: error, peer: to });
      throw error;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.snapshotsSending.delete(controller);
    }
  }

  onSnapshot(handler: SnapshotHandler): void {
    this.snapshotHandler = handler;
  }

  metrics(): TransportMetrics {
    return this.metricsRegistry.snapshot();
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.flushScheduled !== undefined) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    this.unreachableReports.cancel();
    this.disconnectedReports.cancel();
    this.dirtyLinks.clear();
    const listener = this.listener;
    this.listener = undefined;
    const listenerClosed = listener?.close();
    for (const link of this.links.values()) link.close(new TransportError('CLOSED', 'the transport is closed', { peer: link.metricsKey }));
    this.links.clear();
    for (const controller of this.snapshotsSending) controller.abort();
    for (const connection of [...this.dialled]) connection.close(undefined);
    for (const connection of [...this.inbound]) connection.close();
    await Promise.all([listenerClosed, ...[...this.snapshotsReceiving].map((receiver) => receiver.done)]);
  }

  /** A programmer error: peers learn our address in the handshake, so nothing is sent before start() resolves. */
  private requireRunning(operation: string): void {
    if (this.state !== 'running') throw new Error(`${operation}() called before start() resolved (the transport is ${this.state})`);
  }

  private encodeMessage(message: Message): Uint8Array {
    if (typeof message !== 'object' || message === null || typeof message.to !== 'string' || typeof message.from !== 'string') {
      throw new TransportError('INVALID_ARGUMENT', 'a Raft message needs string from and to fields');
    }
    const bytes = encodeValue(message);
    if (bytes.byteLength + 1 > this.limits.frameBytesMax) {
      throw new TransportError('FRAME_TOO_LARGE', `a message to ${message.to} of ${bytes.byteLength} bytes can never fit frameBytesMax ${this.limits.frameBytesMax}`, { peer: message.to });
    }
    return bytes;
  }

  private linkForPeer(id: string): OutboundLink | undefined {
    const address = this.peers.get(id);
    if (address === undefined) return undefined;
    return this.linkFor(id, address);
  }

  private linkForTarget(target: CallTarget): OutboundLink {
    const id = target.id;
    const address = target.address ?? (id === undefined ? undefined : this.peers.get(id));
    if (address === undefined) {
      if (id === undefined) throw new TransportError('INVALID_ARGUMENT', 'a call target needs an id or an address');
      throw new TransportError('UNKNOWN_PEER', `no address known for peer ${id}`, { peer: id });
    }
    return this.linkFor(id, address);
  }

  private linkFor(id: string | undefined, address: string): OutboundLink {
    const key = linkKey(id, address);
    let link = this.links.get(key);
    if (link === undefined) {
      link = new OutboundLink(this.linkContext, address, id);
      this.links.set(key, link);
    }
    return link;
  }

  private closeLink(key: string, reason: string): void {
    const link = this.links.get(key);
    if (link === undefined) return;
    this.links.delete(key);
    this.dirtyLinks.delete(link);
    link.close(new TransportError('UNREACHABLE', reason, { peer: link.metricsKey }));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled !== undefined || this.dirtyLinks.size === 0) return;
    // One flush per event-loop turn: everything sent in this turn shares a frame per peer.
    this.flushScheduled = setImmediate(() => {
      this.flushScheduled = undefined;
      const links = [...this.dirtyLinks];
      this.dirtyLinks.clear();
      for (const link of links) if (!link.isClosed) link.flush();
    });
  }

  private reportUnreachable(ids: ReadonlySet<string>): void {
    if (this.state === 'closed') return;
    for (const id of ids) this.unreachableReports.add(id);
  }

  private reportDisconnected(id: string): void {
    if (this.state === 'closed') return;
    this.disconnectedReports.add(id);
  }

  private reportError(error: Error): void {
    if (this.errorHandler === undefined) return;
    try {
      this.errorHandler(error);
    } catch {
      // A diagnostics hook must not break the transport.
    }
  }

  private accept(stream: Duplex): void {
    if (this.state !== 'running' && this.state !== 'starting') {
      stream.destroy();
      return;
    }
    if (this.inbound.size >= this.limits.inboundConnectionsMax) {
      this.metricsRegistry.connectionsRejected++;
      this.reportError(new TransportError('UNREACHABLE', `refused a connection: ${this.inbound.size} are open (inboundConnectionsMax)`));
      stream.destroy();
      return;
    }
    this.metricsRegistry.connectionsAccepted++;
    this.inbound.add(new InboundConnection(this.inboundContext, stream));
  }

  private deliverMessage(message: RaftMessageLike): void {
    const handler = this.messageHandler;
    if (handler === undefined) return;
    try {
      handler(message as Message);
    } catch (error) {
      this.reportError(new Error(`onMessage handler threw: ${errorMessageOf(error)}`, { cause: error }));
    }
  }

  private openConnection(address: string, expectedId: string | undefined, events: ConnectionEvents): Promise<FramedConnection> {
    return this.network.dial(address, this.limits.connectTimeoutMs).then((stream) => {
      if (this.state === 'closed') {
        stream.destroy();
        throw new TransportError('CLOSED', 'the transport is closed');
      }
      return this.handshake(stream, address, expectedId, events);
    });
  }

  private handshake(stream: Duplex, address: string, expectedId: string | undefined, events: ConnectionEvents): Promise<FramedConnection> {
    return new Promise<FramedConnection>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | undefined, connection: FramedConnection): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined) {
          connection.events = {
            ...events,
            onClose: (closed, closeError) => {
              this.dialled.delete(closed);
              events.onClose(closed, closeError);
            },
          };
          resolve(connection);
        } else {
          reject(error);
        }
      };
      const connection: FramedConnection = new FramedConnection(stream, this.limits.frameBytesMax, this.faultState, this.limits.heldFrameBytesMax, {
        onFrame: (_connection, frame) => finish(this.checkHandshakeReply(frame, connection, address, expectedId), connection),
        onDrain: () => undefined,
        onClose: (_connection, error) => {
          this.dialled.delete(connection);
          finish(error ?? new TransportError('UNREACHABLE', `${address} closed the connection during the handshake`, { peer: address }), connection);
        },
        onFaultDrop: (dropped, direction) => events.onFaultDrop(dropped, direction),
      });
      this.dialled.add(connection);
      const timer = setTimeout(() => connection.close(new TransportError('TIMEOUT', `no handshake reply from ${address} within ${this.limits.connectTimeoutMs} ms`, { peer: address })), this.limits.connectTimeoutMs);
      connection.remoteId = expectedId;
      const { nodeId, clusterId } = this;
      connection.write(encodeValueFrame(FrameKind.hello, { protocolVersion, clusterId, nodeId, address: this.address }, this.limits.frameBytesMax));
    });
  }

  /** Undefined when the handshake reply accepts us as expected; the error otherwise (the connection is then closed). */
  private checkHandshakeReply(frame: Frame, connection: FramedConnection, address: string, expectedId: string | undefined): Error | undefined {
    let error: TransportError | undefined;
    if (frame.kind === FrameKind.helloRejected) {
      const refusal = decodeRefusal(frame.payload, 'handshake rejection');
      error = new TransportError('HANDSHAKE_REJECTED', `${address} refused the handshake: ${refusal.message}`, { peer: expectedId ?? address });
    } else if (frame.kind !== FrameKind.helloAccepted) {
      error = new TransportError('MALFORMED_FRAME', `expected a handshake reply from ${address}, got frame kind ${frame.kind}`, { peer: address });
    } else {
      const hello = decodeHello(frame.payload);
      if (hello.protocolVersion !== protocolVersion || hello.clusterId !== this.clusterId) {
        error = new TransportError('HANDSHAKE_REJECTED', `${address} answered for cluster ${JSON.stringify(hello.clusterId)} protocol ${hello.protocolVersion}`, { peer: address });
      } else if (expectedId !== undefined && hello.nodeId !== expectedId) {
        error = new TransportError('PEER_ID_MISMATCH', `${address} is node ${hello.nodeId}, not ${expectedId}`, { peer: expectedId });
      } else {
        connection.remoteId = hello.nodeId;
        connection.remoteAddress = hello.address;
      }
    }
    if (error !== undefined) connection.close(error);
    return error;
  }

  private createLinkContext(random: () => number): LinkContext {
    return {
      limits: this.limits,
      faults: this.faultState,
      metrics: this.metricsRegistry,
      random,
      openConnection: (address, expectedId, events) => this.openConnection(address, expectedId, events),
      reportUnreachable: (ids) => this.reportUnreachable(ids),
      linkIdle: (link) => {
        // A link to a bare address (a join, a discovery call) is not kept: the set of
        // links stays bounded by the peers in the address book.
        if (link.expectedId !== undefined) return;
        const key = linkKey(undefined, link.address);
        if (this.links.get(key) === link) this.links.delete(key);
        link.close(new TransportError('CLOSED', 'an idle link to a bare address is closed'));
      },
    };
  }

  private createInboundContext(): InboundContext {
    // Getters: handlers may be registered after construction.
    const transport = this;
    return {
      nodeId: this.nodeId,
      clusterId: this.clusterId,
      get address() {
        return transport.address;
      },
      limits: this.limits,
      faults: this.faultState,
      metrics: this.metricsRegistry,
      get snapshotDirectory() {
        return transport.options.snapshotDirectory ?? tmpdir();
      },
      callHandlers: this.callHandlers,
      get snapshotHandler() {
        return transport.snapshotHandler;
      },
      deliverMessage: (message) => this.deliverMessage(message),
      hasSnapshotSlot: () => this.snapshotsReceiving.size < this.limits.snapshotsInFlightMax,
      trackSnapshot: (receiver) => {
        this.snapshotsReceiving.add(receiver);
        void receiver.done.then(() => this.snapshotsReceiving.delete(receiver));
      },
      reportError: (error) => this.reportError(error),
      reportDisconnected: (id) => this.reportDisconnected(id),
      forget: (connection) => this.inbound.delete(connection),
    };
  }
}

/**
 * Peer reports (unreachable, disconnected) arrive in a later turn, never inside the call
 * that found them: the runtime may call into its Raft core from the handler, which must
 * not happen in the middle of its Ready loop. One report per peer per turn, however many
 * messages were dropped. `currentHandler` is read at delivery (undefined once closed).
 */
class PeerReports {
  private readonly pending = new Set<string>();
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly currentHandler: () => ((id: string) => void) | undefined,
    private readonly reportError: (error: Error) => void,
  ) {}

  add(id: string): void {
    this.pending.add(id);
    this.scheduled ??= setImmediate(() => this.deliver());
  }

  cancel(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.pending.clear();
  }

  private deliver(): void {
    this.scheduled = undefined;
    const ids = [...this.pending];
    this.pending.clear();
    const handler = this.currentHandler();
    if (handler === undefined) return;
    for (const id of ids) {
      try {
        handler(id);
      } catch (error) {
        this.reportError(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}

function linkKey(id: string | undefined, address: string): string {
  return `${id ?? ''}@${address}`;
}

function requireName(value: unknown, what: string): void {
  if (typeof value !== 'string' || value.length === 0) throw new TransportError('INVALID_ARGUMENT', `${what} must be a non-empty string, got ${JSON.stringify(value)}`);
}
