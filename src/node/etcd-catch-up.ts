/**
 * Catch-up for the etcd log: a node whose next entry was compacted away asks the leader
 * for a copy of its database (the state machine's self-contained snapshot, with the
 * internal state: applied index and the idempotency table), receives it over the peer
 * transport's snapshot stream, and restores it. Its applied index then sits at or past
 * the first entry still in etcd, and apply carries on from the log. The leader never
 * needs this: compaction never passes what it applied.
 */
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { NodeId } from '../raft/types.js';
import { ServiceError } from '../service/service.js';
import type { NodeConfig } from './config.js';
import type { NodeLogger } from './logger.js';
import type { NodeStateMachine, NodeTransport } from './ports.js';

const catchUpMethod = 'quorumlite.etcd-catch-up';
/** A copy of the database is made and streamed within this bound; a lagger that gets none asks again. */
const catchUpTimeoutMs = 2 * 60_000;

interface CatchUpDependencies {
  readonly config: NodeConfig;
  readonly transport: Pick<NodeTransport, 'call' | 'handle' | 'sendSnapshot' | 'onSnapshot' | 'setPeer'>;
  readonly stateMachine: Pick<NodeStateMachine, 'snapshot' | 'restore' | 'appliedIndex'>;
  readonly logger: NodeLogger;
  readonly leaderId: () => NodeId;
}

function isCatchUpMetadata(value: unknown): value is { kind: 'etcd-catch-up'; appliedIndex: number } {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>).kind === 'etcd-catch-up';
}

export class EtcdCatchUp {
  readonly #dependencies: CatchUpDependencies;
  #copyCount = 0;

  constructor(dependencies: CatchUpDependencies) {
    this.#dependencies = dependencies;
  }

  /** Serves copies to laggers, and restores the copy this node asked for. */
  registerPeerHandler(): void {
    const { transport, stateMachine, config, logger } = this.#dependencies;
    transport.handle(catchUpMethod, async (_payload, context) => {
      this.#copyCount += 1;
      const path = join(config.dataDirectory, 'incoming', `catch-up-copy-${this.#copyCount}.sqlite`);
      try {
        // The caller's address as its handshake gave it: its registration in etcd may not have reached this node yet (a restart on new ports).
        transport.setPeer(context.fromId, context.fromAddress);
        const { appliedIndex } = await stateMachine.snapshot(path);
        const signal = AbortSignal.any([context.signal, AbortSignal.timeout(catchUpTimeoutMs)]);
        await transport.sendSnapshot(context.fromId, { kind: 'etcd-catch-up', appliedIndex }, path, { signal });
        logger.info({ event: 'etcd-catch-up-sent', to: context.fromId, appliedIndex }, 'sent a database copy to a node behind the compacted log');
        return { appliedIndex };
      } finally {
        await rm(path, { force: true });
      }
    });
    transport.onSnapshot(async (metadata, temporaryFilePath, sender) => {
      if (!isCatchUpMetadata(metadata)) throw new ServiceError('BAD_REQUEST', 'unexpected snapshot: with --consensus etcd only catch-up copies are sent');
      try {
        if (metadata.appliedIndex <= stateMachine.appliedIndex) return;
        await stateMachine.restore(temporaryFilePath);
        logger.info(
          { event: 'etcd-catch-up-restored', from: sender.fromId, appliedIndex: stateMachine.appliedIndex },
          'restored a database copy from the leader',
        );
      } finally {
        await rm(temporaryFilePath, { force: true });
      }
    });
  }

  /** Brings this node's state to at least `firstIndex - 1` with a copy of the leader's database. */
  async fetch(firstIndex: number): Promise<void> {
    const { transport, stateMachine, logger } = this.#dependencies;
    const leaderId = this.#dependencies.leaderId();
    if (leaderId === '' || leaderId === this.#dependencies.config.nodeId)
      throw new ServiceError('NO_LEADER', 'behind the compacted log and no leader to copy the database from');
    logger.warn(
      { event: 'etcd-catch-up', firstIndex, appliedIndex: stateMachine.appliedIndex, from: leaderId },
      'behind the compacted etcd log: copying the leader\u2019s database',
    );
    await transport.call({ id: leaderId }, catchUpMethod, {}, { timeoutMs: catchUpTimeoutMs });
    if (stateMachine.appliedIndex < firstIndex - 1)
      throw new ServiceError('UNAVAILABLE', `the copy restored reaches ${stateMachine.appliedIndex}, before ${firstIndex - 1}`);
  }
}
