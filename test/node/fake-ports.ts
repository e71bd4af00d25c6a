/**
 * In-memory stand-ins for the runtime's storage and transport, for tests that drive a
 * real NodeRuntime (real Raft core, real SQLite state machine) without disk or sockets:
 * a store that can be told to fail as a full disk does, and a transport that records
 * what the runtime sends and never delivers anything.
 */
import type { ConfState, Entry, HardState, Message, NodeId, Snapshot } from '../../src/raft/types.js';
import { MemoryStorage } from '../../src/raft/memory-storage.js';
import type { NodeStorage, NodeTransport, SnapshotWriting, StoredSnapshot } from '../../src/node/ports.js';
import { StorageError } from '../../src/storage/errors.js';
import { FaultState } from '../../src/transport/faults.js';
import type { MessageSender, SendTiming } from '../../src/transport/types.js';

/** NodeStorage over the reference MemoryStorage; `failure` makes every save fail with it (as ENOSPC does). */
export class MemoryNodeStorage implements NodeStorage {
  readonly #memory = new MemoryStorage();
  failure: StorageError | undefined;
  #healthy = true;
  saveCount = 0;
  /** While set, saves wait for it (in the order they were made) before they land: a slow disk. */
  #hold: Promise<void> | undefined;

  /** Holds every save from now until the returned function is called. */
  holdSaves(): () => void {
    let release = (): void => undefined;
    this.#hold = new Promise((resolve) => {
      release = () => {
        this.#hold = undefined;
        resolve();
      };
    });
    return release;
  }

  static diskFull(): StorageError {
    return new StorageError('DISK_FULL', 'disk full while saving to memory (test)');
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.#memory.initialState();
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    return this.#memory.entries(low, high, maxBytes);
  }

  term(index: number): number {
    return this.#memory.term(index);
  }

  firstIndex(): number {
    return this.#memory.firstIndex();
  }

  lastIndex(): number {
    return this.#memory.lastIndex();
  }

  snapshot(): Snapshot {
    return this.#memory.snapshot();
  }

  isEmpty(): boolean {
    return this.#memory.lastIndex() === 0 && this.#memory.initialState().hardState.term === 0;
  }

  bootstrap(): Promise<void> {
    return Promise.reject(new Error('not used by the runtime'));
  }

  async save(request: { readonly hardState?: HardState; readonly entries?: readonly Entry[]; readonly snapshot?: Snapshot }): Promise<void> {
    if (this.#hold !== undefined) await this.#hold;
    if (this.failure !== undefined) {
      this.#healthy = false;
      throw this.failure;
    }
    if (request.snapshot !== undefined) this.#memory.applySnapshot(request.snapshot);
    if (request.entries !== undefined) this.#memory.append(request.entries);
    if (request.hardState !== undefined) this.#memory.setHardState(request.hardState);
    this.#healthy = true;
    this.saveCount += 1;
  }

  compact(index: number): Promise<void> {
    this.#memory.compact(index);
    return Promise.resolve();
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  readonly snapshots = {
    latest: (): StoredSnapshot | undefined => undefined,
    find: (): StoredSnapshot | undefined => undefined,
    chain: (snapshot: StoredSnapshot): readonly StoredSnapshot[] => [snapshot],
    begin: (): Promise<SnapshotWriting> => Promise.reject(new Error('snapshots are not used here')),
    recordProof: (): Promise<unknown> => Promise.reject(new Error('snapshots are not used here')),
    readLock: () => Promise.resolve(() => undefined),
    beginFold: () => undefined,
    settleFold: async () => undefined,
    discardWhere: (): Promise<readonly unknown[]> => Promise.resolve([]),
  };

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A transport that records every message the runtime sends; the test delivers what the runtime receives. */
export class RecordingTransport implements NodeTransport {
  readonly nodeId: NodeId;
  readonly address = 'memory';
  readonly faults = new FaultState();
  readonly sent: Message[] = [];
  /** When each message sent was asked to leave. */
  readonly timings = new Map<Message, SendTiming>();
  readonly peers = new Map<NodeId, string>();
  #messageHandler: (message: Message, sender: MessageSender) => void = () => undefined;

  constructor(nodeId: NodeId) {
    this.nodeId = nodeId;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  setPeer(id: NodeId, address: string): void {
    this.peers.set(id, address);
  }

  removePeer(id: NodeId): void {
    this.peers.delete(id);
  }

  send(messages: readonly Message[], timing: SendTiming = 'callback'): void {
    this.sent.push(...messages);
    for (const message of messages) this.timings.set(message, timing);
  }

  onMessage(handler: (message: Message, sender: MessageSender) => void): void {
    this.#messageHandler = handler;
  }

  /** Hands `message` to the runtime as if a peer had sent it; its handshake announced `fromAddress` (default `<id>:raft`). */
  deliver(message: Message, fromAddress = `${message.from}:raft`): void {
    this.#messageHandler(message, { fromId: message.from, fromAddress });
  }

  onUnreachable(): void {}
  onPeerDisconnected(): void {}
  onSnapshot(): void {}
  onError(): void {}
  handle(): void {}

  call(): Promise<unknown> {
    return Promise.reject(new Error('no peers here'));
  }

  sendSnapshot(): Promise<void> {
    return Promise.reject(new Error('no peers here'));
  }

  metrics(): ReturnType<NodeTransport['metrics']> {
    return { peers: {}, connectionsRejected: 0, connectionsAccepted: 0 };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
