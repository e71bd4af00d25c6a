/**
 * Start-up: bootstrapping a fresh store, and starting the core over whatever is stored —
 * the state machine restored from the newest snapshot if it is behind, the membership
 * replayed, the stored commit index raised to the applied one, then the core, its tick
 * timer and the snapshot checks. A node that joins starts its core empty and is caught up
 * by the leader (membership.ts runs the join itself).
 */
import { assert } from '../common/assert.js';
import { encodeConfChange } from '../raft/conf-change.js';
import type { ConfChange, Entry, HardState, NodeId, RaftConfig } from '../raft/types.js';
import type { CoreInputs } from './inputs.js';
import type { MemberDirectory } from './member-directory.js';
import { encodeMemberContext } from './members.js';
import type { MemberAddresses } from './ports.js';
import type { ReadyLoop } from './ready-loop.js';
import type { RuntimeState } from './runtime-state.js';
import type { Snapshots } from './snapshots.js';
import { planCandidateElectionTicks } from './timing.js';
import { logRaftEvent } from './raft-events-log.js';

/** Core limits: generous for a SQL workload, each a named bound. */
export const coreLimits = {
  messageBytesMax: 1024 * 1024,
  inflightMessageCountMax: 256,
  inflightBytesMax: 32 * 1024 * 1024,
  uncommittedEntriesBytesMax: 256 * 1024 * 1024,
  committedBytesPerReadyMax: 16 * 1024 * 1024,
} as const;

interface StartUpParts {
  readonly directory: MemberDirectory;
  readonly snapshots: Snapshots;
  readonly readyLoop: ReadyLoop;
  readonly inputs: CoreInputs;
}

export class StartUp {
  readonly #state: RuntimeState;
  readonly #parts: StartUpParts;

  constructor(state: RuntimeState, parts: StartUpParts) {
    this.#state = state;
    this.#parts = parts;
  }

  /**
   * Initialises a fresh store with this membership (one node, or --bootstrap-expect
   * peers). As etcd's bootstrap does, the membership is written as committed conf-change
   * entries at term 1, carrying each member's addresses: a node that joins later
   * replicates them like any entry and so learns the founding members too.
   */
  async bootstrap(members: ReadonlyMap<NodeId, MemberAddresses>): Promise<void> {
    const { storage, logger } = this.#state;
    assert(storage.isEmpty(), 'bootstrap of a store that has state');
    const ids = [...members.keys()].sort();
    const entries: Entry[] = ids.map((id, position) => {
      const addresses = members.get(id);
      assert(addresses !== undefined, `no addresses for ${id}`);
      this.#state.members.set(id, addresses);
      const change: ConfChange = { type: 'add-voter', nodeId: id, context: encodeMemberContext(addresses) };
      return { index: position + 1, term: 1, type: 'conf-change', data: encodeConfChange(change) };
    });
    this.#state.members.persist();
    await storage.save({ entries, hardState: { term: 1, vote: '', commit: entries.length } });
    logger.info({ event: 'bootstrap', voters: ids }, 'bootstrapped a new cluster');
  }

  /** Restores the state machine from the newest snapshot if it is behind, rebuilds membership, starts the core. */
  async startCore(options: { campaign?: boolean } = {}): Promise<void> {
    const state = this.#state;
    assert(state.core === undefined, 'core started twice');
    state.members.load();
    await this.#parts.snapshots.restoreIfBehind();
    this.#parts.directory.replay();
    const hardState = await this.#raiseStoredCommitToApplied();
    this.#parts.readyLoop.startFrom(hardState);
    const core = state.createCore(this.#coreConfig());
    state.core = core;
    this.#parts.inputs.startTicking();
    this.#parts.snapshots.start();
    const voters = core.status().confState.voters;
    const soleVoter = voters.length === 1 && voters[0] === state.config.nodeId;
    if (soleVoter || options.campaign === true) core.campaign();
    state.logger.info(
      { event: 'start', applied: state.stateMachine.appliedIndex, lastIndex: state.storage.lastIndex(), term: hardState.term },
      'raft node started',
    );
    state.wake();
  }

  #coreConfig(): RaftConfig {
    const { config, storage, stateMachine, tickPlan, random, raftLogger } = this.#state;
    return {
      id: config.nodeId,
      storage,
      applied: stateMachine.appliedIndex,
      electionTicks: tickPlan.electionTicks,
      candidateElectionTicks: planCandidateElectionTicks(tickPlan, config.candidateElectionTimeoutMs),
      heartbeatTicks: tickPlan.heartbeatTicks,
      preVote: true,
      checkQuorum: true,
      readOnly: 'safe',
      // The Ready loop saves, sends and applies in parallel, reporting each save (ready-loop.ts).
      asyncStorageWrites: true,
      pendingReadCountMax: config.pendingReadCountMax,
      random,
      logger: (event) => logRaftEvent(raftLogger, event),
      ...coreLimits,
    };
  }

  /**
   * The commit index is saved lazily (a commit-only Ready rides on the next save), so after
   * a crash the database may have applied entries beyond the stored commit. Only committed
   * entries are ever applied, so the applied index is a commit index: store it before the
   * core starts (the core refuses an applied index beyond the stored commit).
   */
  async #raiseStoredCommitToApplied(): Promise<HardState> {
    const { storage, stateMachine, logger } = this.#state;
    const hardState = storage.initialState().hardState;
    const applied = stateMachine.appliedIndex;
    if (applied <= hardState.commit || applied > storage.lastIndex()) return hardState;
    const raised = { ...hardState, commit: applied };
    await storage.save({ hardState: raised });
    logger.info({ event: 'commit-raised', from: hardState.commit, to: applied }, 'stored commit index raised to the applied index');
    return raised;
  }
}
