/**
 * The environment behind the datadriven interaction scripts (testdata/*.txt): a
 * handful of RawNodes over MemoryStorage, a message queue the script delivers by hand,
 * partitions, crashes and restarts. Every command returns the text the script expects.
 */
import { MemoryStorage, RaftError, RawNode, decodeConfChange } from '../../src/raft/index.js';
import type { ConfChange, ConfState, Entry, Message, NodeId, RaftConfig, RaftLogEvent, Ready, Snapshot } from '../../src/raft/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Bounds `stabilize`: a script that has not settled after this many rounds is broken. */
const stabilizeRoundsMax = 1000;

export interface Command {
  readonly name: string;
  readonly positional: readonly string[];
  readonly named: ReadonlyMap<string, string>;
}

export function parseCommand(line: string): Command {
  const tokens = line.trim().split(/\s+/);
  const name = tokens.shift() ?? '';
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const token of tokens) {
    const equals = token.indexOf('=');
    if (equals > 0 && !token.startsWith('(')) named.set(token.slice(0, equals), token.slice(equals + 1));
    else positional.push(token);
  }
  return { name, positional, named };
}

/** "(1,2,3)" -> ['1','2','3']; "()" -> []. */
export function parseList(value: string): string[] {
  const inner = value.replace(/^\(/, '').replace(/\)$/, '').trim();
  return inner === '' ? [] : inner.split(',').map((item) => item.trim());
}

/** A small seeded generator (mulberry32) so each node's election jitter is reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface NodeState {
  readonly id: NodeId;
  storage: MemoryStorage;
  raw: RawNode | undefined;
  settings: NodeSettings;
  /** The toy state machine: values of applied normal entries, in order. */
  values: string[];
}

type NodeSettings = Omit<RaftConfig, 'id' | 'storage' | 'applied' | 'random' | 'logger'>;

export class InteractionEnv {
  readonly #nodes = new Map<NodeId, NodeState>();
  #network: Message[] = [];
  #partition: NodeId[][] | undefined;
  #events: string[] = [];

  run(command: Command): string {
    const lines = this.#dispatch(command);
    const out = [...this.#events.splice(0), ...lines];
    return out.length === 0 ? 'ok' : out.join('\n');
  }

  #dispatch(command: Command): string[] {
    const handler = this.#handlers()[command.name];
    if (handler === undefined) throw new Error(`unknown command ${command.name}`);
    return handler(command.positional, command.named);
  }

  /** Every script command, by name. Arguments: positional tokens and key=value pairs. */
  #handlers(): Record<string, (args: readonly string[], named: ReadonlyMap<string, string>) => string[]> {
    return {
      'add-nodes': (args, named) => this.#addNodes(Number(args[0]), named),
      'set-log': (args, named) => this.#setLog(this.#arg(args, 0), named),
      campaign: (args) => this.#quiet(() => this.#node(this.#arg(args, 0)).campaign()),
      tick: (args, named) => this.#tick(args, Number(named.get('n') ?? '1')),
      'process-ready': (args) => args.flatMap((id) => this.#processReady(id)),
      'deliver-msgs': (args, named) => this.#deliver(args, named.get('type')),
      drop: (_args, named) => this.#drop(named.get('from'), named.get('to')),
      stabilize: (args) => this.#stabilize(args),
      partition: (args) => {
        this.#partition = args.map(parseList);
        return [`partitioned ${args.join(' ')}`];
      },
      heal: () => {
        this.#partition = undefined;
        return ['healed'];
      },
      propose: (args) => this.#propose(this.#arg(args, 0), this.#arg(args, 1)),
      'add-voter': (args, named) => this.#confChange('add-voter', this.#arg(args, 0), named),
      promote: (args, named) => this.#confChange('add-voter', this.#arg(args, 0), named),
      'add-learner': (args, named) => this.#confChange('add-learner', this.#arg(args, 0), named),
      'remove-node': (args, named) => this.#confChange('remove-node', this.#arg(args, 0), named),
      'read-index': (args) => this.#attempt(() => this.#quiet(() => this.#node(this.#arg(args, 0)).readIndex(encoder.encode(args[1] ?? '')))),
      'transfer-leader': (_args, named) =>
        this.#attempt(() => this.#quiet(() => this.#node(this.#required(named, 'from')).transferLeadership(this.#required(named, 'to')))),
      'step-down': (args) => this.#attempt(() => [`transferring to ${this.#node(this.#arg(args, 0)).stepDown()}`]),
      'report-unreachable': (args) => this.#quiet(() => this.#node(this.#arg(args, 0)).reportUnreachable(this.#arg(args, 1))),
      'report-snapshot': (args) =>
        this.#quiet(() => this.#node(this.#arg(args, 0)).reportSnapshot(this.#arg(args, 1), this.#arg(args, 2) as 'finish' | 'failure')),
      'snapshot-unavailable': (args) => this.#quiet(() => this.#state(this.#arg(args, 0)).storage.setSnapshotUnavailable(this.#arg(args, 1) === 'true')),
      compact: (args, named) => this.#compact(this.#arg(args, 0), Number(this.#required(named, 'index'))),
      crash: (args) => this.#crash(this.#arg(args, 0)),
      restart: (args) => this.#restart(this.#arg(args, 0)),
      status: (args) => args.flatMap((id) => this.#status(id)),
      'raft-log': (args) => this.#raftLog(this.#arg(args, 0)),
      values: (args) => args.map((id) => `${id}: [${this.#state(id).values.join(' ')}]`),
    };
  }

  /** Runs an action whose only output is the events it causes. */
  #quiet(action: () => void): string[] {
    action();
    return [];
  }

  #propose(id: NodeId, value: string): string[] {
    return this.#attempt(() => {
      const result = this.#node(id).propose(encoder.encode(value));
      return [`proposed at ${result.term}/${result.index}`];
    });
  }

  // ---------------------------------------------------------------- nodes

  #addNodes(count: number, named: ReadonlyMap<string, string>): string[] {
    const confState: ConfState = {
      voters: parseList(named.get('voters') ?? '()'),
      learners: parseList(named.get('learners') ?? '()'),
    };
    const settings: NodeSettings = {
      electionTicks: Number(named.get('election') ?? '10'),
      heartbeatTicks: Number(named.get('heartbeat') ?? '1'),
      preVote: named.get('pre-vote') === 'true',
      checkQuorum: named.get('check-quorum') === 'true',
      readOnly: named.get('read-only') === 'lease' ? 'lease' : 'safe',
      leaseDriftTicks: Number(named.get('lease-drift') ?? '1'),
      messageBytesMax: Number(named.get('message-bytes-max') ?? '1024'),
      inflightMessageCountMax: Number(named.get('inflight-count-max') ?? '256'),
      inflightBytesMax: Number(named.get('inflight-bytes-max') ?? String(1 << 20)),
      uncommittedEntriesBytesMax: Number(named.get('uncommitted-bytes-max') ?? String(1 << 20)),
      pendingReadCountMax: Number(named.get('pending-read-count-max') ?? '16'),
    };
    const added: NodeId[] = [];
    for (let i = 0; i < count; i++) {
      const id = String(this.#nodes.size + 1);
      const state: NodeState = { id, storage: new MemoryStorage({ confState }), raw: undefined, settings, values: [] };
      this.#nodes.set(id, state);
      this.#start(state);
      added.push(id);
    }
    return [`added ${added.join(' ')} voters=(${confState.voters.join(',')}) learners=(${confState.learners.join(',')})`];
  }

  #start(state: NodeState): void {
    const applied = state.storage.snapshot().metadata.index;
    state.values = decodeValues(state.storage.snapshot().data);
    state.raw = new RawNode({
      ...state.settings,
      id: state.id,
      storage: state.storage,
      applied,
      random: seededRandom(Number(state.id) * 7919 + 17),
      logger: (event) => this.#events.push(formatEvent(event)),
    });
  }

  /** Replaces a node's stored log with entries of the given terms (indexes from 1), then restarts it. */
  #setLog(id: NodeId, named: ReadonlyMap<string, string>): string[] {
    const state = this.#state(id);
    const terms = parseList(this.#required(named, 'terms')).map(Number);
    const storage = new MemoryStorage({ confState: state.storage.initialState().confState, bootstrapIndex: 0 });
    storage.append(terms.map((term, i) => ({ term, index: i + 1, type: 'normal', data: encoder.encode(`v${i + 1}`) })));
    const lastTerm = terms[terms.length - 1] ?? 0;
    storage.setHardState({ term: Number(named.get('term') ?? String(lastTerm)), vote: named.get('vote') ?? '', commit: 0 });
    state.storage = storage;
    this.#start(state);
    return this.#status(id);
  }

  #crash(id: NodeId): string[] {
    const state = this.#state(id);
    state.raw = undefined;
    state.values = [];
    return [`${id} crashed`];
  }

  #restart(id: NodeId): string[] {
    const state = this.#state(id);
    if (state.raw !== undefined) throw new Error(`${id} is running`);
    this.#start(state);
    return [`${id} restarted`];
  }

  #compact(id: NodeId, index: number): string[] {
    const state = this.#state(id);
    const raw = this.#node(id);
    const status = raw.status();
    if (index > status.applied) throw new Error(`compact ${id} at ${index} beyond applied ${status.applied}`);
    // The state machine's values as of `index`: those applied from entries up to it.
    const snapshotBase = state.storage.snapshot();
    const entries = state.storage.entries(snapshotBase.metadata.index + 1, index + 1, Number.MAX_SAFE_INTEGER);
    const values = decodeValues(snapshotBase.data).concat(normalValues(entries));
    state.storage.createSnapshot(index, raw.confStateAt(index), encodeValues(values));
    state.storage.compact(index);
    return [`${id} compacted to ${index}; first index ${state.storage.firstIndex()}`];
  }

  // ---------------------------------------------------------------- time and messages

  #tick(ids: readonly string[], count: number): string[] {
    for (let i = 0; i < count; i++) for (const id of ids) this.#node(id).tick();
    return [];
  }

  #processReady(id: NodeId): string[] {
    const state = this.#state(id);
    const raw = state.raw;
    if (raw === undefined || !raw.hasReady()) return [];
    const ready = raw.ready();
    const out = [`> ${id} handling Ready`, ...formatReady(ready, (message) => this.#isCut(message.from, message.to)).map((line) => `  ${line}`)];
    this.#persist(state, ready);
    // A partition drops messages as they are sent (and, for older ones, on delivery).
    this.#network.push(...ready.messages.filter((message) => !this.#isCut(message.from, message.to)));
    for (const entry of ready.committedEntries) {
      if (entry.type === 'normal' && entry.data.length > 0) state.values.push(decoder.decode(entry.data));
    }
    raw.advance(ready);
    return out;
  }

  #persist(state: NodeState, ready: Ready): void {
    if (ready.snapshot !== undefined) {
      state.storage.applySnapshot(ready.snapshot);
      state.values = decodeValues(ready.snapshot.data);
    }
    state.storage.append(ready.entries);
    if (ready.hardState !== undefined) state.storage.setHardState(ready.hardState);
  }

  #deliver(recipients: readonly string[], type: string | undefined): string[] {
    const chosen = (message: Message) => (recipients.length === 0 || recipients.includes(message.to)) && (type === undefined || message.type === type);
    const delivering = this.#network.filter(chosen);
    this.#network = this.#network.filter((message) => !chosen(message));
    const out: string[] = [];
    const byRecipient = new Map<NodeId, Message[]>();
    for (const message of delivering) byRecipient.set(message.to, [...(byRecipient.get(message.to) ?? []), message]);
    for (const [to, messages] of [...byRecipient].sort(([a], [b]) => Number(a) - Number(b))) {
      out.push(`> ${to} receiving messages`);
      for (const message of messages) out.push(...this.#deliverOne(message));
    }
    return out;
  }

  #deliverOne(message: Message): string[] {
    const raw = this.#nodes.get(message.to)?.raw;
    if (raw === undefined) return [`  ${formatMessage(message)} DROPPED (${message.to} is down)`];
    if (this.#isCut(message.from, message.to)) return [`  ${formatMessage(message)} DROPPED (partition)`];
    raw.step(message);
    return [`  ${formatMessage(message)}`, ...this.#events.splice(0).map((line) => `  ${line}`)];
  }

  #isCut(from: NodeId, to: NodeId): boolean {
    if (this.#partition === undefined) return false;
    const groupOf = (id: NodeId) => this.#partition?.findIndex((group) => group.includes(id)) ?? -1;
    return groupOf(from) !== groupOf(to);
  }

  #drop(from: string | undefined, to: string | undefined): string[] {
    const matches = (message: Message) => (from === undefined || message.from === from) && (to === undefined || message.to === to);
    const dropped = this.#network.filter(matches);
    this.#network = this.#network.filter((message) => !matches(message));
    return dropped.map((message) => `dropped ${formatMessage(message)}`);
  }

  #stabilize(ids: readonly string[]): string[] {
    const chosen = ids.length > 0 ? ids : [...this.#nodes.keys()];
    const out: string[] = [];
    for (let round = 0; round < stabilizeRoundsMax; round++) {
      const readyOutput = chosen.flatMap((id) => this.#processReady(id));
      const deliverOutput = this.#deliver(chosen, undefined);
      if (readyOutput.length === 0 && deliverOutput.length === 0) return out;
      out.push(...readyOutput, ...deliverOutput);
    }
    throw new Error(`stabilize did not settle within ${stabilizeRoundsMax} rounds`);
  }

  // ---------------------------------------------------------------- proposals

  #confChange(type: ConfChange['type'], nodeId: NodeId, named: ReadonlyMap<string, string>): string[] {
    const change: ConfChange = { type, nodeId, context: new Uint8Array(0) };
    return this.#attempt(() => {
      const via = named.get('via') ?? this.#leader();
      const result = this.#node(via).proposeConfChange(change);
      return [`${via} proposed ${change.type} ${change.nodeId} at ${result.term}/${result.index}`];
    });
  }

  /** The running leader with the highest term. */
  #leader(): NodeId {
    let best: { id: NodeId; term: number } | undefined;
    for (const state of this.#nodes.values()) {
      const status = state.raw?.status();
      if (status?.role === 'leader' && (best === undefined || status.term > best.term)) best = { id: state.id, term: status.term };
    }
    if (best === undefined) throw new Error('no leader');
    return best.id;
  }

  #attempt(action: () => string[]): string[] {
    try {
      return action();
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
      const hint = error.code === 'NOT_LEADER' ? ` leader=${error.leaderId === '' ? 'none' : error.leaderId}` : '';
      return [`error ${error.code}${hint}: ${error.message}`];
    }
  }

  // ---------------------------------------------------------------- inspection

  #status(id: NodeId): string[] {
    const state = this.#state(id);
    if (state.raw === undefined) return [`${id}: down`];
    const s = state.raw.status();
    const transferee = s.leadTransferee ? ` transferee=${s.leadTransferee}` : '';
    const lines = [
      `${id}: ${s.role} term=${s.term} vote=${s.vote || '-'} leader=${s.leaderId || '-'} commit=${s.commit} applied=${s.applied} last=${s.lastIndex}` +
        ` voters=(${s.confState.voters.join(',')}) learners=(${s.confState.learners.join(',')})${transferee}`,
    ];
    for (const [peer, p] of Object.entries(s.progress)) {
      const learner = p.isLearner ? ' learner' : '';
      const pendingSnapshot = p.pendingSnapshotIndex ? ` pending-snapshot=${p.pendingSnapshotIndex}` : '';
      lines.push(`  ${peer}: match=${p.match} next=${p.next} ${p.state}${learner}${pendingSnapshot} inflight=${p.inflightMessageCount}`);
    }
    return lines;
  }

  #raftLog(id: NodeId): string[] {
    const storage = this.#state(id).storage;
    if (storage.lastIndex() < storage.firstIndex()) return [`${id}: log empty (first index ${storage.firstIndex()})`];
    const entries = storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
    return [`${id}: ${entries.map(formatEntry).join(' ')}`];
  }

  // ---------------------------------------------------------------- lookups

  #state(id: NodeId): NodeState {
    const state = this.#nodes.get(id);
    if (state === undefined) throw new Error(`no node ${id}`);
    return state;
  }

  #node(id: NodeId): RawNode {
    const raw = this.#state(id).raw;
    if (raw === undefined) throw new Error(`node ${id} is down`);
    return raw;
  }

  #arg(args: readonly string[], position: number): string {
    const value = args[position];
    if (value === undefined) throw new Error(`missing argument ${position + 1}`);
    return value;
  }

  #required(named: ReadonlyMap<string, string>, key: string): string {
    const value = named.get(key);
    if (value === undefined) throw new Error(`missing ${key}=`);
    return value;
  }
}

// ---------------------------------------------------------------- formatting

function encodeValues(values: readonly string[]): Uint8Array {
  return encoder.encode(JSON.stringify(values));
}

function decodeValues(data: Uint8Array): string[] {
  return data.length === 0 ? [] : (JSON.parse(decoder.decode(data)) as string[]);
}

function normalValues(entries: readonly Entry[]): string[] {
  return entries.filter((entry) => entry.type === 'normal' && entry.data.length > 0).map((entry) => decoder.decode(entry.data));
}

export function formatEntry(entry: Entry): string {
  if (entry.type === 'conf-change') {
    const change = decodeConfChange(entry.data);
    return `${entry.term}/${entry.index} conf:${change.type}(${change.nodeId})`;
  }
  return `${entry.term}/${entry.index} ${JSON.stringify(decoder.decode(entry.data))}`;
}

function formatSnapshot(snapshot: Snapshot): string {
  const { index, term, confState } = snapshot.metadata;
  return `${term}/${index} voters=(${confState.voters.join(',')}) learners=(${confState.learners.join(',')})`;
}

export function formatMessage(message: Message): string {
  const head = `${message.from}->${message.to} ${message.type} term=${message.term}`;
  const context = message.context.length > 0 ? ` ctx=${decoder.decode(message.context)}` : '';
  switch (message.type) {
    case 'MsgApp':
      return `${head} log=${message.logTerm}/${message.index} commit=${message.commit} entries=[${message.entries.map(formatEntry).join(', ')}]`;
    case 'MsgAppResp':
      return message.reject ? `${head} rejected index=${message.index} hint=${message.logTerm}/${message.rejectHint}` : `${head} index=${message.index}`;
    case 'MsgVote':
    case 'MsgPreVote':
      return `${head} log=${message.logTerm}/${message.index}${context}`;
    case 'MsgVoteResp':
    case 'MsgPreVoteResp':
      return `${head} ${message.reject ? 'rejected' : 'granted'}`;
    case 'MsgHeartbeat':
      return `${head} commit=${message.commit}${context}`;
    case 'MsgHeartbeatResp':
      return `${head}${context}`;
    case 'MsgSnap':
      return `${head} snapshot=${message.snapshot === undefined ? 'none' : formatSnapshot(message.snapshot)}`;
    default:
      return head;
  }
}

function formatReady(ready: Ready, isCut: (message: Message) => boolean): string[] {
  const out: string[] = [];
  if (ready.softState !== undefined) out.push(`soft-state: ${ready.softState.role} leader=${ready.softState.leaderId || '-'}`);
  if (ready.hardState !== undefined) {
    const { term, vote, commit } = ready.hardState;
    out.push(`hard-state: term=${term} vote=${vote || '-'} commit=${commit}`);
  }
  if (ready.snapshot !== undefined) out.push(`snapshot: ${formatSnapshot(ready.snapshot)}`);
  if (ready.entries.length > 0) out.push(`entries: ${ready.entries.map(formatEntry).join(', ')}`);
  if (ready.committedEntries.length > 0) out.push(`committed: ${ready.committedEntries.map(formatEntry).join(', ')}`);
  for (const message of ready.messages) {
    out.push(`send ${formatMessage(message)}${isCut(message) ? ' DROPPED (partition)' : ''}`);
  }
  for (const read of ready.readStates) out.push(`read-state: ${decoder.decode(read.context)} index=${read.index}`);
  for (const context of ready.failedReads) out.push(`failed-read: ${decoder.decode(context)}`);
  if (ready.mustSync) out.push('must-sync');
  return out;
}

function formatEvent(event: RaftLogEvent): string {
  const details = Object.entries(event)
    .filter(([key]) => key !== 'event' && key !== 'id' && key !== 'term')
    .map(([key, value]) => ` ${key}=${String(value)}`)
    .join('');
  return `${event.id} ${event.event} term=${event.term}${details}`;
}
