/**
 * The runtime's `NodeTransport` port over the simulated network (network.ts), as the
 * real transport behaves where the runtime can tell:
 *
 * - `send` reaches only peers whose address the runtime set (`setPeer`); a message to an
 *   unknown peer is dropped and reported through `onUnreachable` in a later turn, as are
 *   (with the scenario's probability) messages lost to a partition.
 * - Messages are copied at send (serialisation) and delayed, reordered, dropped or
 *   duplicated by the network; a message to a node that is down is lost.
 * - `sendSnapshot` streams the file's bytes (read when the transfer starts, as an open
 *   handle would): the receiver gets them in a temporary file of its own disk and its
 *   snapshot handler decides; the sender's promise settles with the receiver's answer, or
 *   rejects when the transfer is lost or the receiver dies first.
 * - A node that dies closes its connections: every live peer hears `onPeerDisconnected`.
 * - Each message reaches `onMessage` with its sender's id and the address it announced in
 *   its handshake (the real transport's `MessageSender`).
 */
import type { Message, NodeId } from '../../src/raft/types.js';
import type { NodeTransport } from '../../src/node/ports.js';
import { FaultState } from '../../src/transport/faults.js';
import type { MessageSender, SnapshotHandler, TransportMetrics } from '../../src/transport/types.js';
import type { ProcessLife, SimulatedClock } from './sim-clock.js';
import type { SimulatedDisk } from './sim-disk.js';
import { SimulatedNetwork, type Delivery, type DropReason, type NetworkConfig } from './network.js';
import type { Prng } from './prng.js';

/** A message in flight, with the process (incarnation) that sent it. */
export interface Envelope {
  readonly message: Message;
  readonly senderIncarnation: number;
}

/** What the transports need of a running node process. */
export interface Endpoint {
  readonly nodeId: NodeId;
  readonly incarnation: number;
  readonly life: ProcessLife;
  readonly disk: SimulatedDisk;
  readonly transport: TransportTwin;
}

export interface TransportsOptions {
  readonly clock: SimulatedClock;
  readonly networkPrng: Prng;
  readonly networkConfig: NetworkConfig;
  /** Decides whether a loss to a partition is reported to the sender (reportUnreachable). */
  readonly faultPrng: Prng;
  readonly reportUnreachableProbability: number;
  /** The running process of a node, if it is up. */
  readonly endpointOf: (id: NodeId) => Endpoint | undefined;
  /** Every message as it is delivered, and each snapshot transfer (trace and statistics). */
  readonly onDelivered: (message: Message) => void;
  readonly onSnapshotTransfer: (from: NodeId, to: NodeId, outcome: 'sent' | 'received' | 'failed') => void;
  /**
   * Planted network faults: `replay-vote-grant-with-new-term` keeps vote grants and replays
   * them to the same candidate relabelled with its newer term; `hide-announced-addresses`
   * hands messages up without the address the sender announced (the transport before R1's fix).
   */
  readonly plantedNetworkFault?: PlantedNetworkFault;
}

export type PlantedNetworkFault = 'replay-vote-grant-with-new-term' | 'hide-announced-addresses';

export class SimulatedTransports {
  readonly network: SimulatedNetwork<Envelope>;
  readonly #options: TransportsOptions;
  readonly #recordedVoteGrants = new Map<NodeId, Map<NodeId, Message>>();
  /** Snapshot transfers whose receiver is still deciding, by receiver: they fail if it dies. */
  readonly #receiving = new Map<NodeId, Set<() => void>>();
  #incomingCount = 0;

  constructor(options: TransportsOptions) {
    this.#options = options;
    this.network = new SimulatedNetwork<Envelope>(options.networkPrng, options.networkConfig, (delivery, reason) => this.#onDrop(delivery, reason));
  }

  /** The transport of one new process. */
  create(nodeId: NodeId, incarnation: number, life: ProcessLife, disk: SimulatedDisk): TransportTwin {
    return new TransportTwin(nodeId, this, { incarnation, life, disk });
  }

  /** Delivers the next message due by `nowMs`; false when none is due. */
  deliverNextDue(nowMs: number): boolean {
    const delivery = this.network.deliverNextDue(nowMs);
    if (delivery === undefined) return false;
    const target = this.#options.endpointOf(delivery.to);
    if (target === undefined) {
      this.#onDrop(delivery, 'partition');
      return true;
    }
    this.#options.onDelivered(delivery.message.message);
    target.transport.receive(delivery.message.message);
    return true;
  }

  /** A node's process ended (crash or stop): peers see the connection close; transfers to it fail. */
  processEnded(nodeId: NodeId): void {
    for (const fail of this.#receiving.get(nodeId) ?? []) fail();
    this.#receiving.delete(nodeId);
    this.#options.clock.schedule(1, () => {
      for (const peer of this.#peersOf(nodeId)) peer.transport.peerDisconnected(nodeId);
    });
  }

  send(sender: TransportTwin, message: Message): void {
    const { clock } = this.#options;
    if (this.#options.plantedNetworkFault === 'replay-vote-grant-with-new-term') this.#replayVoteGrants(message);
    // Copy at send, as serialising would: later changes by the sender must not leak.
    const copy: Message = { ...message, entries: [...message.entries] };
    this.network.send(message.from, message.to, { message: copy, senderIncarnation: sender.incarnation }, clock.nowMs);
  }

  /** The address `nodeId` announces in its handshake, as the receiving transport hands it up. */
  announcedAddressOf(nodeId: NodeId): string {
    return this.#options.plantedNetworkFault === 'hide-announced-addresses' ? '' : raftAddressOf(nodeId);
  }

  /** `sender` reports `id` unreachable in a later turn (if it is still the same process). */
  reportUnreachableLater(sender: TransportTwin, id: NodeId): void {
    this.#options.clock.schedule(0, () => sender.unreachable(id), sender.life);
  }

  sendSnapshot(sender: TransportTwin, to: NodeId, metadata: unknown, filePath: string): Promise<void> {
    const bytes = sender.disk.read(filePath);
    if (bytes === undefined) return Promise.reject(new Error(`snapshot file ${filePath} no longer exists`));
    const envelope = structuredClone(metadata);
    const { clock } = this.#options;
    this.#options.onSnapshotTransfer(sender.nodeId, to, 'sent');
    return new Promise<void>((resolve, reject) => {
      const answer = (error: Error | undefined): void => {
        this.#options.onSnapshotTransfer(sender.nodeId, to, error === undefined ? 'received' : 'failed');
        clock.schedule(this.network.drawDelayMs(), () => (error === undefined ? resolve() : reject(error)), sender.life);
      };
      clock.schedule(this.network.drawDelayMs(), () => this.#arrive(sender.nodeId, to, envelope, bytes, answer));
    });
  }

  #arrive(from: NodeId, to: NodeId, envelope: unknown, bytes: Uint8Array, answer: (error: Error | undefined) => void): void {
    const target = this.#options.endpointOf(to);
    if (target === undefined || this.network.isCut(from, to) || this.network.drawDrop()) {
      answer(new Error(`snapshot transfer to ${to} lost`));
      return;
    }
    this.#incomingCount++;
    const temporaryPath = `/${to}/incoming/snapshot-${this.#incomingCount}`;
    target.disk.write(temporaryPath, bytes);
    let settled = false;
    const settle = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      waiting.delete(fail);
      target.disk.remove(temporaryPath);
      answer(error);
    };
    const fail = (): void => settle(new Error(`${to} closed the connection during the snapshot transfer`));
    const waiting = this.#receiving.get(to) ?? new Set<() => void>();
    this.#receiving.set(to, waiting);
    waiting.add(fail);
    target.transport.receiveSnapshot(envelope, temporaryPath, from).then(
      () => settle(undefined),
      (error: unknown) => settle(error instanceof Error ? error : new Error(String(error))),
    );
  }

  #peersOf(nodeId: NodeId): Endpoint[] {
    const peers: Endpoint[] = [];
    for (const id of this.#knownNodeIds) {
      const endpoint = id === nodeId ? undefined : this.#options.endpointOf(id);
      if (endpoint !== undefined) peers.push(endpoint);
    }
    return peers;
  }

  /** Every node id a transport was created for, in creation order (a deterministic order for notifications). */
  readonly #knownNodeIds: NodeId[] = [];

  register(nodeId: NodeId): void {
    if (!this.#knownNodeIds.includes(nodeId)) this.#knownNodeIds.push(nodeId);
  }

  #onDrop(delivery: Delivery<Envelope>, reason: DropReason): void {
    if (reason !== 'partition' || !this.#options.faultPrng.chance(this.#options.reportUnreachableProbability)) return;
    const sender = this.#options.endpointOf(delivery.from);
    if (sender !== undefined && sender.incarnation === delivery.message.senderIncarnation) this.reportUnreachableLater(sender.transport, delivery.to);
  }

  /** The planted network bug: an old vote grant, relabelled with the candidate's new term, counts again. */
  #replayVoteGrants(message: Message): void {
    if (message.type === 'MsgVoteResp' && !message.reject) {
      const grants = this.#recordedVoteGrants.get(message.to) ?? new Map<NodeId, Message>();
      grants.set(message.from, message);
      this.#recordedVoteGrants.set(message.to, grants);
    }
    if (message.type !== 'MsgVote') return;
    for (const grant of this.#recordedVoteGrants.get(message.from)?.values() ?? []) {
      if (grant.term >= message.term) continue;
      this.network.send(grant.from, grant.to, { message: { ...grant, term: message.term }, senderIncarnation: -1 }, this.#options.clock.nowMs);
    }
  }
}

/** One process's transport. */
export class TransportTwin implements NodeTransport {
  readonly address: string;
  readonly faults = new FaultState();
  readonly incarnation: number;
  readonly life: ProcessLife;
  readonly disk: SimulatedDisk;
  readonly #peers = new Map<NodeId, string>();
  #onMessage: (message: Message, sender: MessageSender) => void = () => undefined;
  #onUnreachable: (id: NodeId) => void = () => undefined;
  #onPeerDisconnected: (id: NodeId) => void = () => undefined;
  #onSnapshot: SnapshotHandler | undefined;

  constructor(
    readonly nodeId: NodeId,
    private readonly hub: SimulatedTransports,
    process: { readonly incarnation: number; readonly life: ProcessLife; readonly disk: SimulatedDisk },
  ) {
    this.address = raftAddressOf(nodeId);
    this.incarnation = process.incarnation;
    this.life = process.life;
    this.disk = process.disk;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  setPeer(id: NodeId, address: string): void {
    this.#peers.set(id, address);
  }

  removePeer(id: NodeId): void {
    this.#peers.delete(id);
  }

  /** Whether the runtime gave this transport an address for `id` (from the log or adopted from a handshake). */
  hasPeer(id: NodeId): boolean {
    return this.#peers.has(id);
  }

  send(messages: readonly Message[]): void {
    for (const message of messages) {
      if (this.#peers.get(message.to) !== raftAddressOf(message.to)) {
        this.hub.reportUnreachableLater(this, message.to);
        continue;
      }
      this.hub.send(this, message);
    }
  }

  onMessage(handler: (message: Message, sender: MessageSender) => void): void {
    this.#onMessage = handler;
  }

  onUnreachable(handler: (id: NodeId) => void): void {
    this.#onUnreachable = handler;
  }

  onPeerDisconnected(handler: (id: NodeId) => void): void {
    this.#onPeerDisconnected = handler;
  }

  onSnapshot(handler: SnapshotHandler): void {
    this.#onSnapshot = handler;
  }

  onError(): void {}

  handle(): void {}

  call(): Promise<unknown> {
    return Promise.reject(new Error('the simulator has no peer calls'));
  }

  sendSnapshot(to: NodeId, metadata: unknown, filePath: string): Promise<void> {
    if (!this.#peers.has(to)) return Promise.reject(new Error(`no address for ${to}`));
    return this.hub.sendSnapshot(this, to, metadata, filePath);
  }

  metrics(): TransportMetrics {
    return { peers: {}, connectionsRejected: 0, connectionsAccepted: 0 };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  // ---- the simulator hands these over ----

  /** As the real transport: each message with the address its sender announced in the handshake. */
  receive(message: Message): void {
    this.#onMessage(message, { fromId: message.from, fromAddress: this.hub.announcedAddressOf(message.from) });
  }

  receiveSnapshot(metadata: unknown, temporaryPath: string, from: NodeId): Promise<void> {
    if (this.#onSnapshot === undefined) return Promise.reject(new Error('no snapshot handler'));
    return this.#onSnapshot(metadata, temporaryPath, { fromId: from, fromAddress: raftAddressOf(from) });
  }

  unreachable(id: NodeId): void {
    this.#onUnreachable(id);
  }

  peerDisconnected(id: NodeId): void {
    this.#onPeerDisconnected(id);
  }
}

export function raftAddressOf(nodeId: NodeId): string {
  return `${nodeId}:raft`;
}

export function apiAddressOf(nodeId: NodeId): string {
  return `${nodeId}:api`;
}
