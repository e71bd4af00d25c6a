/** Shared fixtures for the raft unit tests: configs and a tiny hand-driven cluster. */
import { MemoryStorage, RaftError, RawNode } from '../../src/raft/index.js';
import type { ConfState, Entry, Message, NodeId, RaftConfig, Ready } from '../../src/raft/index.js';
import { seededRandom } from './interaction-env.js';

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

export function testConfig(id: NodeId, storage: MemoryStorage, overrides: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id,
    storage,
    applied: 0,
    electionTicks: 10,
    heartbeatTicks: 1,
    preVote: false,
    checkQuorum: false,
    readOnly: 'safe',
    messageBytesMax: 1024,
    inflightMessageCountMax: 256,
    inflightBytesMax: 1 << 20,
    uncommittedEntriesBytesMax: 1 << 20,
    pendingReadCountMax: 16,
    random: seededRandom(Number(id) || 1),
    ...overrides,
  };
}

export function entry(index: number, term: number, data = '', type: Entry['type'] = 'normal'): Entry {
  return { index, term, type, data: encoder.encode(data) };
}

/** A Raft message with each field not given at its empty value (no entries, no context, not a rejection). */
export function raftMessage(fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return { logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, context: new Uint8Array(0), ...fields };
}

export interface TestNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  raw: RawNode;
  readonly applied: Entry[];
}

/** A cluster driven by hand: ready() → persist → queue messages → apply → advance. */
export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  /** Messages for which this returns true are dropped on delivery. */
  dropIf: (message: Message) => boolean = () => false;

  constructor(ids: readonly NodeId[], overrides: Partial<RaftConfig> = {}, confState?: ConfState) {
    const membership = confState ?? { voters: [...ids], learners: [] };
    for (const id of ids) {
      const storage = new MemoryStorage({ confState: membership });
      this.nodes.set(id, { id, storage, raw: new RawNode(testConfig(id, storage, overrides)), applied: [] });
    }
  }

  node(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  /** Handles one Ready of `id`; returns it (or undefined if none). */
  processReady(id: NodeId): Ready | undefined {
    const node = this.node(id);
    if (!node.raw.hasReady()) return undefined;
    const ready = node.raw.ready();
    if (ready.snapshot !== undefined) node.storage.applySnapshot(ready.snapshot);
    node.storage.append(ready.entries);
    if (ready.hardState !== undefined) node.storage.setHardState(ready.hardState);
    this.queue.push(...ready.messages);
    node.applied.push(...ready.committedEntries);
    node.raw.advance(ready);
    return ready;
  }

  deliverAll(): number {
    const messages = this.queue;
    this.queue = [];
    for (const message of messages) {
      if (this.dropIf(message)) continue;
      this.nodes.get(message.to)?.raw.step(message);
    }
    return messages.length;
  }

  /** Handles Readies and delivers until quiet; returns every message sent meanwhile, in order (dropped ones too). */
  stabilize(roundsMax = 200): Message[] {
    const sent: Message[] = [];
    for (let round = 0; round < roundsMax; round++) {
      let progressed = false;
      for (const id of this.nodes.keys()) if (this.processReady(id) !== undefined) progressed = true;
      sent.push(...this.queue);
      if (this.deliverAll() > 0) progressed = true;
      if (!progressed) return sent;
    }
    throw new Error(`cluster did not settle within ${roundsMax} rounds`);
  }

  elect(id: NodeId): void {
    this.node(id).raw.campaign();
    this.stabilize();
    if (this.node(id).raw.status().role !== 'leader') throw new Error(`${id} did not become leader`);
  }
}

/** The RaftError code `fn` throws, or 'none'; any other error is thrown on. */
export function raftCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof RaftError) return error.code;
    throw error;
  }
  return 'none';
}
