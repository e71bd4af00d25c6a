/**
 * Queued writes (`?queue`, rqlite's Queued Writes) on this node. A request is checked and
 * measured, then held in this node's write queue (write-queue.ts), which answers at once
 * with a sequence number; the queue sends its requests on in batches, each batch one log
 * entry: proposed here when this node leads, otherwise forwarded (one hop) to the leader,
 * which encodes and proposes it. Every request in a batch keeps its own `?transaction`
 * and `Idempotency-Key`; with the node's `writeQueueTransaction` (rqlite's -write-queue-tx)
 * the whole batch is one transaction. The queue's bounds are the node's `writeQueue*`
 * settings (rqlited's -write-queue-* flags). Results of queued writes are not returned
 * (as in rqlite).
 *
 * Exactly once: a batch carries an id made of this node's id, a random number drawn when
 * the process started and the batch's first sequence number. A batch sent again after an
 * unknown outcome carries the same id, and the state machine's request dedup applies it
 * once. No client can send that id: it holds spaces, which `Idempotency-Key` may not.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ServiceError, type CallContext, type DataResponse, type ExecuteRequest, type StatusValue } from '../service/service.js';
import { commandLimits, encodeCommand } from '../state-machine/command-codec.js';
import { validateForWrite } from '../state-machine/sql-policy.js';
import type { QueuedRequest, Statement } from '../state-machine/types.js';
import { formatDurationNs } from '../common/duration.js';
import { encodeTargetedEntry } from '../state-machine/database-entries.js';
import type { NodeConfig } from './config.js';
import { checkedDatabase, NodeDatabaseCatalog } from './database-catalog-service.js';
import { callPeer, handleEnvelope, peerMethods, type PeerTransport } from './peer-calls.js';
import { haltedError, type ReplicatedLog } from './replicated-log.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';
import { WriteQueue, type QueuedWrite, type WriteBatch } from './write-queue.js';

/** Digits of a sequence number at most (a u64 in decimal). */
const sequenceNumberDigitsMax = 20;
/** Encoded bytes the queue holds at most (requests may be megabytes each; the count bound alone would not bound memory). */
const writeQueueHeldBytesMax = 256 * 1024 * 1024;
/** The wait before a batch is sent again doubles from the first to the last. */
const retryDelayMsMin = 50;
const retryDelayMsMax = 1000;

/** A batch as it crosses to the leader: plain data. */
interface QueuedBatchRequest {
  readonly id: string;
  /** The batch's database (absent, or null across the peer codec: the default one). */
  readonly database?: string | null;
  readonly transaction: boolean;
  readonly requests: readonly { readonly statements: readonly Statement[]; readonly transaction: boolean; readonly idempotencyKey: string | null }[];
  readonly timeoutMs: number;
}

interface QueuedWritesDependencies {
  readonly config: NodeConfig;
  readonly log: ReplicatedLog;
  readonly peers: PeerTransport;
  readonly scheduler: Scheduler;
  /** A batch's entry data, with the leader's clock and a fresh seed. */
  readonly encodeBatch: (requests: readonly QueuedRequest[], transaction: boolean, batchId: string) => Uint8Array;
  /**
   * On the node that takes a queued write to another database: NOT_FOUND unless it has
   * applied that database's create (there is no answer later: queued results are not returned).
   */
  readonly assertDatabaseExists: (database: string | undefined) => void;
}

/** Whether a batch whose send failed so should be sent again: everything but a refusal that will not change. */
function isRetryable(error: unknown): boolean {
  return error instanceof ServiceError && error.code !== 'BAD_REQUEST' && error.code !== 'UNAUTHORIZED';
}

/** This node's part of a batch id: its id, or a digest of it when too long for a request id. */
function batchIdPrefix(nodeId: string): string {
  const nonce = randomBytes(8).toString('hex');
  const node = Buffer.byteLength(nodeId) <= 128 ? nodeId : createHash('sha256').update(nodeId).digest('hex');
  return `queue ${node} ${nonce}`;
}

export class QueuedWrites {
  readonly #dependencies: QueuedWritesDependencies;
  readonly #config: NodeConfig;
  readonly #queue: WriteQueue;
  readonly #batchBytesMax: number;

  constructor(dependencies: QueuedWritesDependencies) {
    const config = dependencies.config;
    this.#dependencies = dependencies;
    this.#config = config;
    const prefix = batchIdPrefix(config.nodeId);
    // A batch's own header: magic, version, flags, time, seed, its id, the request count. Each
    // request measured alone carries a larger header than it does inside a batch.
    const batchHeaderBytes = 3 + 8 + 8 + 4 + Buffer.byteLength(prefix) + 1 + sequenceNumberDigitsMax + 4;
    // At least 1 (the queue's own bound): with an entry bound that small, every queued write is refused as too large.
    this.#batchBytesMax = Math.max(1, config.entryDataBytesMax - batchHeaderBytes);
    this.#queue = new WriteQueue(
      {
        capacity: config.writeQueueCountMax,
        heldBytesMax: Math.max(writeQueueHeldBytesMax, this.#batchBytesMax),
        batchSize: config.writeQueueBatchCountMax,
        timeoutMs: config.writeQueueTimeoutMs,
        batchBytesMax: this.#batchBytesMax,
        batchStatementCountMax: commandLimits.statementCountMax,
        retryDelayMsMin,
        retryDelayMsMax,
      },
      {
        scheduler: dependencies.scheduler,
        send: (batch) => this.#send(batch),
        isRetryable,
        batchId: (firstSequenceNumber) => `${prefix} ${firstSequenceNumber}`,
        sequenceStart: BigInt(Math.floor(dependencies.scheduler.nowMs())) * 1_000_000n,
      },
    );
  }

  /** Registers the handler through which other nodes' queues send their batches to this node (when it leads). */
  registerPeerHandler(): void {
    handleEnvelope(this.#dependencies.peers, peerMethods.queuedBatch, async (payload) => ({ index: await this.#proposeBatch(payload as QueuedBatchRequest) }));
  }

  /**
   * Queues a checked write and answers with its sequence number; with `wait`, once the
   * batch carrying it applied (`raftIndex`: that batch's entry). Refused at once with
   * NO_LEADER while no leader is known, as rqlite does: writes queued on a node cut off
   * from its cluster would pile up unsent.
   */
  async enqueue(request: ExecuteRequest, context: CallContext, servedBy: string): Promise<DataResponse> {
    const log = this.#dependencies.log;
    if (log.leaderId === '') throw log.haltError === undefined ? new ServiceError('NO_LEADER', 'leader not found') : haltedError(log.haltError);
    const scheduler = this.#dependencies.scheduler;
    const startedMs = scheduler.monotonicMs();
    this.#dependencies.assertDatabaseExists(checkedDatabase(request.database));
    const ticket = await this.#queue.enqueue(this.#measure(request), request.timeoutMs, context.signal);
    if (!request.wait) return { results: [], raftIndex: null, sequenceNumber: ticket.sequenceNumber, servedBy };
    const remainingMs = Math.max(0, request.timeoutMs - (scheduler.monotonicMs() - startedMs));
    const index = await waitWithin(scheduler, ticket.applied, remainingMs, context.signal);
    return { results: [], raftIndex: index, sequenceNumber: ticket.sequenceNumber, servedBy };
  }

  /** The request's size encoded alone; refused if it could never be sent (too large for a batch, or for any entry). */
  #measure(request: ExecuteRequest): QueuedWrite {
    const database = checkedDatabase(request.database);
    let bytes: number;
    try {
      const requestId = request.idempotencyKey === null ? {} : { requestId: request.idempotencyKey };
      bytes = encodeCommand({ statements: request.statements, transaction: request.transaction, timestampMs: 0, seed: 0n, ...requestId }).byteLength;
    } catch (error) {
      throw new ServiceError('BAD_REQUEST', error instanceof Error ? error.message : String(error), { cause: error });
    }
    // Another database's batch is wrapped in the targeted envelope: each of its writes counts it (more than enough).
    if (database !== undefined) bytes += encodeTargetedEntry(database, new Uint8Array(0)).byteLength;
    if (bytes > this.#batchBytesMax) {
      throw new ServiceError('BAD_REQUEST', `queued write of ${bytes} bytes exceeds the batch bound of ${this.#batchBytesMax} bytes`);
    }
    return { database, statements: request.statements, transaction: request.transaction, idempotencyKey: request.idempotencyKey, bytes };
  }

  /** Proposes the batch here when this node leads; otherwise forwards it to the leader. */
  async #send(batch: WriteBatch): Promise<number> {
    const request: QueuedBatchRequest = {
      id: batch.id,
      ...(batch.database === undefined ? {} : { database: batch.database }),
      transaction: this.#config.writeQueueTransaction,
      requests: batch.writes.map((write) => ({ statements: write.statements, transaction: write.transaction, idempotencyKey: write.idempotencyKey })),
      timeoutMs: this.#config.requestTimeoutMs,
    };
    const log = this.#dependencies.log;
    if (log.isLeader) return this.#proposeBatch(request);
    const leaderId = log.leaderId;
    if (leaderId === '') throw new ServiceError('NO_LEADER', 'leader not found');
    // Abandoned as soon as this node stops seeing that leader: the batch goes again, to the next one.
    const leaderLost = new AbortController();
    const unsubscribe = log.subscribeLeaderChanges(() => {
      if (log.leaderId !== leaderId) leaderLost.abort();
    });
    try {
      const answer = (await callPeer(this.#dependencies.peers, { id: leaderId }, peerMethods.queuedBatch, request, {
        timeoutMs: request.timeoutMs,
        signal: leaderLost.signal,
      })) as { index: number };
      return answer.index;
    } finally {
      unsubscribe();
    }
  }

  /** On the leader: checks, encodes and proposes a batch; resolves with its index once applied here. */
  async #proposeBatch(request: QueuedBatchRequest): Promise<number> {
    const log = this.#dependencies.log;
    if (!log.isLeader) throw new ServiceError('NOT_LEADER', 'not the leader');
    let data: Uint8Array;
    try {
      for (const queued of request.requests) validateForWrite(queued.statements);
      const requests: QueuedRequest[] = request.requests.map((queued) => ({
        statements: queued.statements,
        transaction: queued.transaction,
        ...(queued.idempotencyKey === null ? {} : { requestId: queued.idempotencyKey }),
      }));
      // Not checked against the catalog here: a database dropped since the write was queued
      // answers "does not exist" as the entry's result, as any write the drop overtook.
      data = NodeDatabaseCatalog.wrap(checkedDatabase(request.database), this.#dependencies.encodeBatch(requests, request.transaction, request.id));
    } catch (error) {
      throw new ServiceError('BAD_REQUEST', error instanceof Error ? error.message : String(error), { cause: error });
    }
    // rqlited's -raft-apply-timeout bounds the wait for the entry, as for any write; a batch
    // that timed out is sent again under its id, so it still applies once.
    return (await log.propose(data, Math.min(request.timeoutMs, this.#config.applyTimeoutMs))).index;
  }

  /** `/status` `http.queue`, with rqlite's keys (Go sorts a map's keys) and ours beside them. */
  status(): StatusValue {
    const stats = this.#queue.stats();
    const config = this.#config;
    return {
      _default: {
        batch_size: config.writeQueueBatchCountMax,
        batches: stats.batchesSent,
        blocked: stats.blocked,
        depth: stats.depth,
        failed_batches: stats.batchesFailed,
        max_size: config.writeQueueCountMax,
        num_timeout: stats.timeoutFlushes,
        objects_rx: stats.statementsReceived,
        objects_tx: stats.statementsSent,
        retries: stats.retries,
        sequence_number: stats.lastAppliedSequenceNumber,
        timeout: formatDurationNs(BigInt(config.writeQueueTimeoutMs) * 1_000_000n),
        tx: config.writeQueueTransaction,
      },
    };
  }

  /** Sends what is held now and waits (at most `timeoutMs`) for it to apply: a graceful stop loses nothing queued. */
  drain(timeoutMs: number): Promise<void> {
    return this.#queue.drain(timeoutMs);
  }

  close(): void {
    this.#queue.close(new ServiceError('UNAVAILABLE', 'node is shutting down'));
  }
}

/** Resolves with `promise`'s value, or rejects with TIMEOUT after `timeoutMs` or once `signal` aborts. */
function waitWithin<Value>(scheduler: Scheduler, promise: Promise<Value>, timeoutMs: number, signal: AbortSignal): Promise<Value> {
  let timer: ScheduledTimer | undefined;
  let onAbort: (() => void) | undefined;
  const expired = new Promise<never>((_, reject) => {
    const fail = (): void => reject(new ServiceError('TIMEOUT', `queued write not applied within ${timeoutMs}ms`));
    timer = scheduler.setTimeout(fail, timeoutMs);
    onAbort = fail;
    signal.addEventListener('abort', fail, { once: true });
    if (signal.aborted) fail();
  });
  return Promise.race([promise, expired]).finally(() => {
    timer?.cancel();
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  });
}
