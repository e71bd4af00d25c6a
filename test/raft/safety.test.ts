/**
 * Randomized histories of a small cluster (seeded, so any failure replays): message
 * loss, duplication and reordering, partitions, crashes and restarts, compaction,
 * leadership transfers and reads. After every step the Raft safety properties must
 * hold: one leader per term, every applied index has one (term, data) cluster-wide,
 * commit indexes never go back, and ReadIndex never answers below a commit it knew.
 * At the end the network heals and the cluster must commit a new entry (liveness).
 *
 * Regressions it caught: seed 2 (a leader stuck in snapshot state when the follower
 * answered MsgSnap with a commit index it had already acknowledged) and seed 17
 * (confStateAt(applied) failing while a received snapshot was not yet persisted).
 * RAFT_SAFETY_SEEDS=400 runs a longer search.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, RaftError, RawNode } from '../../src/raft/index.js';
import type { ConfChangeType, Message, NodeId } from '../../src/raft/index.js';
import { seededRandom } from './interaction-env.js';
import { decoder, encoder, testConfig } from './helpers.js';

const seedCount = Number(process.env['RAFT_SAFETY_SEEDS'] ?? '40');
const stepsPerSeed = 800;
const joinerId = '6';
const livenessRoundsMax = 400;

interface SimNode {
  readonly id: NodeId;
  readonly storage: MemoryStorage;
  raw: RawNode | undefined;
  lastCommit: number;
}

class History {
  readonly leaders = new Map<number, NodeId>();
  readonly applied = new Map<number, string>();
  /**
   * Per applied index, the lowest term a node was in when it applied it. The entry was
   * committed in that term or earlier (a node learns a commit from a leader of its term).
   */
  readonly #appliedInTerm = new Map<number, number>();

  recordRole(id: NodeId, term: number, role: string, lastIndex: number): void {
    if (role !== 'leader') return;
    const existing = this.leaders.get(term);
    assert.ok(existing === undefined || existing === id, `two leaders in term ${term}: ${existing} and ${id}`);
    if (existing === undefined) {
      // Leader completeness, in the form visible from outside: a new leader's log reaches
      // every index committed in an earlier term. (A late leader of an older term need
      // not have entries committed in later terms.)
      let required = 0;
      for (const [index, appliedTerm] of this.#appliedInTerm) if (appliedTerm < term && index > required) required = index;
      assert.ok(lastIndex >= required, `leader ${id} of term ${term} ends at ${lastIndex} < ${required}, committed earlier`);
    }
    this.leaders.set(term, id);
  }

  recordApplied(id: NodeId, index: number, term: number, data: Uint8Array, nodeTerm: number): void {
    const value = `${term}:${decoder.decode(data)}`;
    const existing = this.applied.get(index);
    assert.ok(existing === undefined || existing === value, `${id} applied ${value} at ${index}, another node ${existing}`);
    this.applied.set(index, value);
    this.#appliedInTerm.set(index, Math.min(nodeTerm, this.#appliedInTerm.get(index) ?? Infinity));
  }
}

class Simulation {
  readonly nodes: SimNode[] = [];
  network: Message[] = [];
  cut = new Set<NodeId>();
  readonly history = new History();
  #proposalCount = 0;
  #readCount = 0;
  readsAnswered = 0;
  /** Of readsAnswered, those a follower or learner asked of its leader. */
  followerReadsAnswered = 0;
  readsFailed = 0;

  /** Node 6 joins later (empty storage) through add-learner, add-voter and leaves with remove-node. */
  readonly #joinerChanges: readonly ConfChangeType[] = ['add-learner', 'add-voter', 'remove-node'];
  #joinerStage = 0;

  constructor(
    readonly random: () => number,
    readonly ids: readonly NodeId[],
    readonly readOnly: 'safe' | 'lease' = 'safe',
  ) {
    for (const id of ids) {
      const storage = new MemoryStorage({ confState: { voters: [...ids], learners: [] } });
      const node: SimNode = { id, storage, raw: undefined, lastCommit: 0 };
      this.nodes.push(node);
      this.start(node);
    }
    const joiner: SimNode = { id: joinerId, storage: new MemoryStorage(), raw: undefined, lastCommit: 0 };
    this.nodes.push(joiner);
    this.start(joiner);
  }

  joinerProgress(): number {
    return this.#joinerStage;
  }

  changeMembership(): void {
    const leader = this.leader();
    const type = this.#joinerChanges[this.#joinerStage];
    if (leader?.raw === undefined || type === undefined) return;
    try {
      leader.raw.proposeConfChange({ type, nodeId: joinerId, context: new Uint8Array(0) });
      this.#joinerStage++;
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
    }
  }

  start(node: SimNode): void {
    node.raw = new RawNode(
      testConfig(node.id, node.storage, {
        applied: node.storage.snapshot().metadata.index,
        preVote: true,
        checkQuorum: true,
        readOnly: this.readOnly,
        messageBytesMax: 64,
        inflightMessageCountMax: 4,
        heartbeatTicks: 3,
        random: seededRandom(Math.floor(this.random() * 2 ** 31)),
      }),
    );
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.random() * items.length)];
    assert.ok(item !== undefined);
    return item;
  }

  processReady(node: SimNode): void {
    const raw = node.raw;
    if (raw === undefined || !raw.hasReady()) return;
    const ready = raw.ready();
    if (ready.snapshot !== undefined) node.storage.applySnapshot(ready.snapshot);
    node.storage.append(ready.entries);
    if (ready.hardState !== undefined) node.storage.setHardState(ready.hardState);
    for (const message of ready.messages) {
      if (!this.cut.has(message.from) && !this.cut.has(message.to)) this.network.push(message);
      else if (message.type === 'MsgSnap') raw.reportSnapshot(message.to, 'failure');
    }
    const nodeTerm = raw.status().term;
    for (const entry of ready.committedEntries) this.history.recordApplied(node.id, entry.index, entry.term, entry.data, nodeTerm);
    for (const read of ready.readStates) {
      const committedWhenAsked = Number(decoder.decode(read.context).split(':')[0]);
      assert.ok(read.index >= committedWhenAsked, `read index ${read.index} misses commit ${committedWhenAsked} made before the read`);
      this.readsAnswered++;
      if (raw.status().role !== 'leader') this.followerReadsAnswered++;
    }
    this.readsFailed += ready.failedReads.length;
    raw.advance(ready);
  }

  step(): void {
    const action = this.random();
    const node = this.pick(this.nodes);
    if (action < 0.3) for (const each of this.nodes) each.raw?.tick();
    else if (action < 0.35 && this.readOnly === 'safe')
      node.raw?.tick(); // clocks drift; leases assume they do not
    else if (action < 0.65) this.deliverSome();
    else if (action < 0.75) this.propose();
    else if (action < 0.78) this.crashOrRestart(node);
    else if (action < 0.81) this.togglePartition(node.id);
    else if (action < 0.83) this.compact(node);
    else if (action < 0.85) this.transfer(node);
    // The later share of reads goes to any node: follower reads.
    else if (action < 0.88) this.read(action < 0.865 ? (this.leader() ?? node) : node);
    else if (action < 0.9) this.changeMembership();
    else for (const each of this.nodes) this.processReady(each);
    if (this.random() < 0.5) this.processReady(this.pick(this.nodes));
    this.check();
  }

  deliverSome(): void {
    const count = Math.min(this.network.length, 1 + Math.floor(this.random() * 8));
    for (let i = 0; i < count; i++) {
      const position = Math.floor(this.random() * this.network.length); // reordering
      const [message] = this.network.splice(position, 1);
      if (message === undefined) return;
      const roll = this.random();
      const lost = roll < 0.1;
      if (roll >= 0.1 && roll < 0.15) this.network.push(message); // duplicated
      const recipient = this.nodes.find((n) => n.id === message.to)?.raw;
      if (!lost) recipient?.step(message);
      // The runtime's contract: every MsgSnap handed out is reported, failures included.
      const sender = this.nodes.find((n) => n.id === message.from)?.raw;
      if (message.type === 'MsgSnap') sender?.reportSnapshot(message.to, lost || recipient === undefined ? 'failure' : 'finish');
    }
  }

  leader(): SimNode | undefined {
    return this.nodes.find((n) => n.raw?.status().role === 'leader');
  }

  propose(): void {
    const leader = this.leader();
    if (leader?.raw === undefined) return;
    try {
      leader.raw.propose(encoder.encode(`p${++this.#proposalCount}`));
    } catch (error) {
      if (!(error instanceof RaftError)) throw error;
    }
  }

  /** Nodes down or cut off; kept at most 2 of 5 so that a quorum can always form. */
  #faultCount(): number {
    return this.nodes.filter((n) => n.id !== joinerId && (n.raw === undefined || this.cut.has(n.id))).length;
  }

  crashOrRestart(node: SimNode): void {
    if (node.raw === undefined) this.start(node);
    else if (this.#faultCount() < 2 || this.cut.has(node.id)) {
      node.raw = undefined; // everything not yet persisted is lost
      node.lastCommit = 0;
    }
  }

  togglePartition(id: NodeId): void {
    if (this.cut.has(id)) this.cut.delete(id);
    else if (this.#faultCount() < 2 || this.nodes.find((n) => n.id === id)?.raw === undefined) this.cut.add(id);
  }

  compact(node: SimNode): void {
    const raw = node.raw;
    if (raw === undefined) return;
    const applied = raw.status().applied;
    if (applied <= node.storage.snapshot().metadata.index) return;
    node.storage.createSnapshot(applied, raw.confStateAt(applied), new Uint8Array(0));
    node.storage.compact(applied);
  }

  transfer(node: SimNode): void {
    const leader = this.leader();
    if (leader?.raw === undefined || leader === node) return;
    try {
      leader.raw.transferLeadership(node.id);
    } catch (error) {
      if (!(error instanceof RaftError && error.code === 'TRANSFER_INVALID')) throw error;
    }
  }

  /** A read on the leader (readIndex) or on a follower or learner (readIndexAnywhere: asked of its leader). */
  read(node: SimNode): void {
    const raw = node.raw;
    if (raw === undefined) return;
    const onLeader = raw.status().role === 'leader';
    try {
      // Linearizability: the answer must cover every commit anywhere before the request.
      const committedAnywhere = Math.max(...this.nodes.map((n) => n.raw?.status().commit ?? 0));
      const context = encoder.encode(`${committedAnywhere}:${++this.#readCount}`);
      if (onLeader) raw.readIndex(context);
      else raw.readIndexAnywhere(context);
    } catch (error) {
      const expected = error instanceof RaftError && (error.code === 'READ_QUEUE_FULL' || (!onLeader && error.code === 'NOT_LEADER'));
      if (!expected) throw error;
    }
  }

  check(): void {
    for (const node of this.nodes) {
      if (node.raw === undefined) continue;
      const status = node.raw.status();
      this.history.recordRole(node.id, status.term, status.role, status.lastIndex);
      assert.ok(status.commit >= node.lastCommit, `${node.id} commit went back from ${node.lastCommit} to ${status.commit}`);
      node.lastCommit = status.commit;
    }
  }

  /** Heals everything and runs until a fresh proposal is committed on every node. */
  converge(): void {
    this.cut.clear();
    for (const node of this.nodes) if (node.raw === undefined) this.start(node);
    let proposed: { index: number; term: number } | undefined;
    for (let round = 0; round < livenessRoundsMax; round++) {
      for (const node of this.nodes) node.raw?.tick();
      for (let inner = 0; inner < 5; inner++) {
        for (const node of this.nodes) this.processReady(node);
        const messages = this.network;
        this.network = [];
        for (const message of messages) {
          const recipient = this.nodes.find((n) => n.id === message.to)?.raw;
          recipient?.step(message);
          const sender = this.nodes.find((n) => n.id === message.from)?.raw;
          if (message.type === 'MsgSnap') sender?.reportSnapshot(message.to, recipient === undefined ? 'failure' : 'finish');
        }
      }
      this.check();
      const leader = this.leader();
      if (proposed === undefined && leader?.raw !== undefined) {
        try {
          proposed = leader.raw.propose(encoder.encode('final'));
        } catch (error) {
          if (!(error instanceof RaftError)) throw error;
        }
      }
      const conf = leader?.raw?.status().confState;
      const members = conf === undefined ? [] : [...conf.voters, ...conf.learners];
      const caughtUp = (n: SimNode) => !members.includes(n.id) || (n.raw?.status().applied ?? 0) >= (proposed?.index ?? Infinity);
      if (proposed !== undefined && this.nodes.every(caughtUp)) return;
      if (proposed !== undefined && leader?.raw?.status().term !== proposed.term) proposed = undefined;
    }
    assert.fail(`no progress within ${livenessRoundsMax} rounds after healing`);
  }
}

function runHistories(readOnly: 'safe' | 'lease'): void {
  let terms = 0;
  let appliedIndexes = 0;
  let joinerStages = 0;
  let readsAnswered = 0;
  let followerReadsAnswered = 0;
  let readsFailed = 0;
  for (let seed = 1; seed <= seedCount; seed++) {
    const sim = new Simulation(seededRandom(seed), ['1', '2', '3', '4', '5'], readOnly);
    try {
      for (let step = 0; step < stepsPerSeed; step++) sim.step();
      sim.converge();
    } catch (error) {
      throw new Error(`seed ${seed}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    terms += sim.history.leaders.size;
    appliedIndexes += sim.history.applied.size;
    joinerStages += sim.joinerProgress();
    readsAnswered += sim.readsAnswered;
    followerReadsAnswered += sim.followerReadsAnswered;
    readsFailed += sim.readsFailed;
  }
  console.log(
    `safety (${readOnly} reads): ${seedCount} histories, ${terms} leader terms, ${appliedIndexes} applied indexes, ` +
      `${joinerStages} membership changes, ${readsAnswered} reads answered (${followerReadsAnswered} on followers), ${readsFailed} failed`,
  );
  // The histories must actually exercise elections, replication, membership and reads.
  assert.ok(readsAnswered >= seedCount, `only ${readsAnswered} reads answered in ${seedCount} histories`);
  assert.ok(followerReadsAnswered >= seedCount / 2, `only ${followerReadsAnswered} follower reads answered in ${seedCount} histories`);
  assert.ok(joinerStages >= seedCount, `only ${joinerStages} membership changes in ${seedCount} histories`);
  assert.ok(terms >= seedCount * 2, `only ${terms} leader terms in ${seedCount} histories`);
  assert.ok(appliedIndexes >= seedCount * 10, `only ${appliedIndexes} applied indexes in ${seedCount} histories`);
}

test('safety: randomized histories keep Raft safety and recover liveness', () => {
  runHistories('safe');
});

test('safety: lease reads stay linearizable across crashes when clocks do not drift', () => {
  runHistories('lease');
});
