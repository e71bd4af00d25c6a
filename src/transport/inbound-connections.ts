/**
 * The accepting side: the connections peers opened to us (at most
 * inboundConnectionsMax), and what they deliver to: the message handler, the call
 * handlers and the snapshot handler. Handlers may be registered after start(), so each
 * connection reads them when it needs them.
 */
import type { Duplex } from 'node:stream';
import { errorMessageOf, TransportError } from './errors.js';
import type { FaultState } from './faults.js';
import { InboundConnection, type InboundContext } from './inbound-connection.js';
import type { TransportLimits } from './limits.js';
import type { MetricsRegistry } from './metrics.js';
import type { SnapshotTransfers } from './snapshot-transfers.js';
import type { CallHandler, MessageSender, RaftMessageLike, SnapshotHandler } from './types.js';

interface InboundOptions {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly limits: TransportLimits;
  readonly faults: FaultState;
  readonly metrics: MetricsRegistry;
  readonly snapshots: SnapshotTransfers;
  /** Where incoming snapshots are written before the handler takes them. */
  snapshotDirectory(): string;
  /** Our advertised address, sent when accepting a handshake. */
  address(): string;
  reportError(error: Error): void;
  reportDisconnected(id: string): void;
}

export class InboundConnections<Message extends RaftMessageLike> {
  readonly #options: InboundOptions;
  readonly #connections = new Set<InboundConnection>();
  readonly #callHandlers = new Map<string, CallHandler>();
  #messageHandler: ((message: Message, sender: MessageSender) => void) | undefined;
  #snapshotHandler: SnapshotHandler | undefined;
  readonly #context: InboundContext;

  constructor(options: InboundOptions) {
    this.#options = options;
    this.#context = this.#createContext();
  }

  onMessage(handler: (message: Message, sender: MessageSender) => void): void {
    this.#messageHandler = handler;
  }

  onSnapshot(handler: SnapshotHandler): void {
    this.#snapshotHandler = handler;
  }

  handle(method: string, handler: CallHandler): void {
    if (this.#callHandlers.has(method)) throw new Error(`a handler for ${method} is already registered`);
    this.#callHandlers.set(method, handler);
  }

  accept(stream: Duplex): void {
    const { limits, metrics } = this.#options;
    if (this.#connections.size >= limits.inboundConnectionsMax) {
      metrics.connectionsRejected++;
      this.#options.reportError(new TransportError('UNREACHABLE', `refused a connection: ${this.#connections.size} are open (inboundConnectionsMax)`));
      stream.destroy();
      return;
    }
    metrics.connectionsAccepted++;
    this.#connections.add(new InboundConnection(this.#context, stream));
  }

  closeAll(): void {
    for (const connection of [...this.#connections]) connection.close();
  }

  #deliverMessage(message: RaftMessageLike, sender: MessageSender): void {
    const handler = this.#messageHandler;
    if (handler === undefined) return;
    try {
      handler(message as Message, sender);
    } catch (error) {
      this.#options.reportError(new Error(`onMessage handler threw: ${errorMessageOf(error)}`, { cause: error }));
    }
  }

  #createContext(): InboundContext {
    // Getters: handlers may be registered after construction.
    const inbound = this;
    const options = this.#options;
    return {
      nodeId: options.nodeId,
      clusterId: options.clusterId,
      get address() {
        return options.address();
      },
      limits: options.limits,
      faults: options.faults,
      metrics: options.metrics,
      get snapshotDirectory() {
        return options.snapshotDirectory();
      },
      callHandlers: this.#callHandlers,
      get snapshotHandler() {
        return inbound.#snapshotHandler;
      },
      deliverMessage: (message, sender) => this.#deliverMessage(message, sender),
      hasSnapshotSlot: () => options.snapshots.hasReceiveSlot(),
      trackSnapshot: (receiver) => options.snapshots.trackReceive(receiver),
      receivesOf: (path) => options.snapshots.receivesOf(path),
      reportError: (error) => options.reportError(error),
      reportDisconnected: (id) => options.reportDisconnected(id),
      forget: (connection) => this.#connections.delete(connection),
    };
  }
}
