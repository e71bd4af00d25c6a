/**
 * `DatabaseTransfers` on the node: rqlite's `/db/backup`, `/db/load`, `/boot`,
 * `/snapshot` and `/reap`, each routed as rqlite routes it:
 * - a backup comes from the leader (a follower fetches it and passes it on; `noleader`
 *   serves this node's own copy; `redirect` answers NOT_LEADER instead);
 * - a load runs on the leader (a follower forwards its bytes as they arrive);
 * - a boot, a snapshot and a reap act on the node that received them.
 */
import { ServiceError, type CallContext, type DataResponse } from '../service/service.js';
import type { BackupRequest, ByteStream, DatabaseTransfers, LoadRequest, ReapResponse, SnapshotRequest } from '../service/transfer-service.js';
import { StateMachineError } from '../state-machine/errors.js';
import type { OpenLoad } from '../state-machine/load-staging.js';
import { unknownDatabaseMessage } from '../state-machine/database-entries.js';
import { checkedDatabase } from './database-catalog-service.js';
import { hasSqliteMagic } from '../state-machine/sqlite-header.js';
import { openLocalBackup, type BackupDatabase, type BackupSettings } from './backup-source.js';
import type { NodeConfig } from './config.js';
import type { LoadKind, LoadSession, LoadTarget } from './leader-load.js';
import { LoadCoordinator } from './load-coordinator.js';
import type { LoadGate } from './load-gate.js';
import type { NodeLogger } from './logger.js';
import type { PeerTransport } from './peer-calls.js';
import { remoteBackup, remoteLoad, TransferSessions } from './peer-transfers.js';
import type { ReplicatedLog } from './replicated-log.js';
import type { Scheduler } from './scheduler.js';
import { TransferFiles } from './transfer-files.js';

/** The state machine as transfers use it. */
interface TransferDatabase extends BackupDatabase {
  readonly appliedIndex: number;
  /** Another database of the cluster's (MultiDatabaseMachine.database); absent: the default one only. */
  database?(name: string): BackupDatabase;
  readonly loads: {
    readonly openLoad: OpenLoad | undefined;
    openLoadOf?(database: string | undefined): OpenLoad | undefined;
    adopt(path: string, loadId: string, beginIndex: number, database?: string): void;
  };
}

interface TransferDependencies {
  readonly config: NodeConfig;
  /** The plain log (a load's own entries never wait at its gate), with the runtime's snapshot controls. */
  readonly log: ReplicatedLog & {
    snapshotNow(trailingEntries: number): Promise<boolean>;
    reapSnapshots(): Promise<{ readonly snapshotsReaped: number; readonly walsCheckpointed: number }>;
  };
  readonly database: TransferDatabase;
  readonly settings: BackupSettings;
  readonly peers: PeerTransport;
  readonly gate: LoadGate;
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
}

/** Bytes read before a load decides what its body is: the SQLite header's magic. */
const magicBytes = 16;

export class NodeDatabaseTransfers implements DatabaseTransfers {
  readonly #dependencies: TransferDependencies;
  readonly #files: TransferFiles;
  readonly #coordinator: LoadCoordinator;
  readonly #sessions: TransferSessions;
  #unsubscribe: (() => void) | undefined;

  constructor(dependencies: TransferDependencies) {
    this.#dependencies = dependencies;
    this.#files = new TransferFiles(dependencies.config.dataDirectory);
    this.#sessions = new TransferSessions(dependencies.scheduler);
    this.#coordinator = new LoadCoordinator({
      log: dependencies.log,
      database: dependencies.database,
      files: this.#files,
      settings: dependencies.settings,
      entryDataBytesMax: dependencies.config.entryDataBytesMax,
      gate: dependencies.gate,
      nodeId: dependencies.config.nodeId,
      snapshotNow: (trailingEntries) => dependencies.log.snapshotNow(trailingEntries),
      logger: dependencies.logger,
    });
  }

  /** Registers the peer methods followers forward to, and watches leadership (for loads a previous leader left). */
  start(): void {
    this.#sessions.register(this.#dependencies.peers, {
      beginLoad: (kind, timeoutMs, database) => this.#coordinator.begin(kind, timeoutMs, this.#loadTarget(database)),
      openBackup: (request) => this.#openLocalBackup(request),
    });
    this.#unsubscribe = this.#dependencies.log.subscribeLeaderChanges(() => this.#coordinator.onLeaderChange());
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#sessions.closeAll();
  }

  get #servedBy(): string {
    return this.#dependencies.config.raftAdvertisedAddress;
  }

  /** Undefined when this node leads; the leader otherwise (NOT_LEADER with its address when `forward` is false). */
  #leaderOrRefuse(forward: boolean): string | undefined {
    const log = this.#dependencies.log;
    if (log.isLeader) return undefined;
    const leader = log.leaderId === '' ? undefined : log.members.get(log.leaderId);
    if (leader === undefined) throw new ServiceError('NO_LEADER', 'leader not found');
    if (!forward) throw new ServiceError('NOT_LEADER', 'not the leader', { leaderApiAddress: `http://${leader.apiAddress}` });
    return log.leaderId;
  }

  #openLocalBackup(request: Pick<BackupRequest, 'format' | 'vacuum' | 'tables' | 'database'>): Promise<ByteStream> {
    return openLocalBackup(this.#backupDatabase(request.database), request, this.#files, this.#dependencies.settings, this.#servedBy);
  }

  /** `?db=`: the database a backup copies (ours: several databases); NOT_FOUND for one that does not exist. */
  #backupDatabase(name: string | null | undefined): BackupDatabase {
    const database = this.#dependencies.database;
    const checked = checkedDatabase(name);
    if (checked === undefined) return database;
    if (database.database === undefined) throw new ServiceError('NOT_FOUND', unknownDatabaseMessage(checked));
    try {
      return database.database(checked);
    } catch (error) {
      if (error instanceof StateMachineError && error.code === 'NO_DATABASE') throw new ServiceError('NOT_FOUND', error.message, { cause: error });
      throw error;
    }
  }

  /** `?db=` on a load or boot: the database it replaces (NOT_FOUND for one that does not exist here). */
  #loadTarget(name: string | null | undefined): LoadTarget {
    const checked = checkedDatabase(name);
    return { name: checked, path: this.#backupDatabase(checked).path };
  }

  async backup(request: BackupRequest): Promise<ByteStream> {
    if (request.vacuum && request.format === 'sql') throw new ServiceError('BAD_REQUEST', 'invalid vacuum');
    const leaderId = request.local ? undefined : this.#leaderOrRefuse(request.forward);
    if (leaderId !== undefined) return remoteBackup(this.#dependencies.peers, leaderId, request);
    return this.#openLocalBackup(request);
  }

  /** The request's signal (the client left, or the HTTP deadline passed) aborts the load between chunks. */
  async load(request: LoadRequest, body: AsyncIterable<Uint8Array>, context: CallContext): Promise<DataResponse> {
    const { first, rest } = await peek(body, magicBytes);
    if (first.byteLength === 0) throw new ServiceError('BAD_REQUEST', 'no statements');
    const kind: LoadKind = hasSqliteMagic(first) ? 'sqlite' : 'sql';
    const leaderId = this.#leaderOrRefuse(request.forward);
    const servedBy = leaderId === undefined ? this.#servedBy : (this.#dependencies.log.members.get(leaderId)?.raftAddress ?? '');
    const database = checkedDatabase(request.database);
    const session: LoadSession =
      leaderId === undefined
        ? this.#coordinator.begin(kind, request.timeoutMs, this.#loadTarget(database))
        : await remoteLoad(this.#dependencies.peers, leaderId, kind, request.timeoutMs, database);
    try {
      await session.write(first);
      for await (const chunk of rest) {
        context.signal.throwIfAborted();
        await session.write(chunk);
      }
      context.signal.throwIfAborted();
      const results = await session.finish();
      const failure = results.find((result) => result.kind === 'error');
      if (failure === undefined) this.#dependencies.logger.info({ event: 'loaded', kind, servedBy, database: database ?? 'main' }, 'database loaded');
      else this.#dependencies.logger.info({ event: 'load-refused', kind, error: failure.error }, 'SQL load failed: nothing was applied');
      return { results, raftIndex: null, sequenceNumber: null, servedBy };
    } catch (error) {
      await session.abort().catch(() => undefined);
      throw error;
    }
  }

  async boot(request: LoadRequest, body: AsyncIterable<Uint8Array>): Promise<void> {
    const target = this.#loadTarget(request.database);
    await this.#coordinator.boot(body, request.timeoutMs, target.name);
  }

  async snapshot(request: SnapshotRequest): Promise<boolean> {
    if (this.#coordinator.busy || this.#dependencies.database.loads.openLoad !== undefined) throw new ServiceError('UNAVAILABLE', 'load in progress');
    try {
      return await this.#dependencies.log.snapshotNow(request.trailingEntries);
    } catch (error) {
      // Both are "not now": a load is staged, or readers kept the capture's checkpoint from completing.
      if (error instanceof StateMachineError && error.code === 'LOAD_IN_PROGRESS') throw new ServiceError('UNAVAILABLE', 'load in progress', { cause: error });
      if (error instanceof StateMachineError && error.code === 'BUSY') throw new ServiceError('UNAVAILABLE', error.message, { cause: error });
      throw error;
    }
  }

  async reap(_context: CallContext): Promise<ReapResponse> {
    return this.#dependencies.log.reapSnapshots();
  }
}

/** The first `byteCount` bytes of `body` (fewer if it is shorter), and an iterable of the rest. */
async function peek(body: AsyncIterable<Uint8Array>, byteCount: number): Promise<{ first: Uint8Array; rest: AsyncIterable<Uint8Array> }> {
  const iterator = body[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  let collected = 0;
  while (collected < byteCount) {
    const next = await iterator.next();
    if (next.done === true) break;
    parts.push(next.value);
    collected += next.value.byteLength;
  }
  const rest: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => iterator };
  return { first: Buffer.concat(parts), rest };
}
