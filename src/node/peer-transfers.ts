/**
 * Backups and loads forwarded from a follower to the leader, in bounded chunks over peer
 * calls (as rqlite's follower fetches the leader's backup and sends it the load): the
 * leader keeps each as a session under a random id, a follower pulls a backup's chunks
 * and pushes a load's. A session nobody touches for `sessionIdleMsMax` is closed (a
 * load aborted), and at most `sessionCountMax` are open, so a vanished follower costs a
 * bounded amount of disk for a bounded time.
 */
import { randomBytes } from 'node:crypto';
import { ServiceError, type CallContext } from '../service/service.js';
import type { BackupRequest, ByteStream } from '../service/transfer-service.js';
import type { StatementResult } from '../state-machine/types.js';
import type { LoadKind, LoadSession } from './leader-load.js';
import { callPeer, handleEnvelope, type PeerTransport } from './peer-calls.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';

const transferMethods = {
  loadBegin: 'quorumlite.load-begin',
  loadWrite: 'quorumlite.load-write',
  loadFinish: 'quorumlite.load-finish',
  loadAbort: 'quorumlite.load-abort',
  backupOpen: 'quorumlite.backup-open',
  backupRead: 'quorumlite.backup-read',
  backupClose: 'quorumlite.backup-close',
} as const;

/** Open sessions on a leader, loads and backups together. */
const sessionCountMax = 8;
/** A session untouched this long is closed. */
const sessionIdleMsMax = 60_000;
/** Bytes a follower gathers before it sends them on (fewer, larger calls). */
const forwardedWriteBytesMin = 1024 * 1024;

type Session = { readonly kind: 'load'; readonly load: LoadSession } | { readonly kind: 'backup'; readonly stream: ByteStream };

interface SessionSources {
  beginLoad(kind: LoadKind, timeoutMs: number, database: string | null | undefined): LoadSession;
  openBackup(request: Pick<BackupRequest, 'format' | 'vacuum' | 'tables' | 'database'>, context: CallContext): Promise<ByteStream>;
}

/** The leader's side: sessions followers drive. */
export class TransferSessions {
  readonly #sessions = new Map<string, { session: Session; timer: ScheduledTimer }>();
  readonly #scheduler: Scheduler;

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  register(transport: PeerTransport, sources: SessionSources): void {
    const payloadOf = (payload: unknown): Record<string, unknown> =>
      typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
    handleEnvelope(transport, transferMethods.loadBegin, async (payload) => {
      const { kind, timeoutMs, database } = payloadOf(payload) as { kind: LoadKind; timeoutMs: number; database?: string | null };
      return { sessionId: this.#add({ kind: 'load', load: sources.beginLoad(kind, timeoutMs, database) }) };
    });
    handleEnvelope(transport, transferMethods.loadWrite, async (payload) => {
      const { sessionId, bytes } = payloadOf(payload) as { sessionId: string; bytes: Uint8Array };
      await this.#load(sessionId).write(bytes);
      return true;
    });
    handleEnvelope(transport, transferMethods.loadFinish, async (payload) => {
      const { sessionId } = payloadOf(payload) as { sessionId: string };
      const load = this.#load(sessionId);
      this.#remove(sessionId);
      try {
        return { results: await load.finish() };
      } catch (error) {
        await load.abort().catch(() => undefined);
        throw error;
      }
    });
    handleEnvelope(transport, transferMethods.loadAbort, async (payload) => {
      await this.#end(String(payloadOf(payload).sessionId));
      return true;
    });
    handleEnvelope(transport, transferMethods.backupOpen, async (payload, signal) => {
      const request = payloadOf(payload) as Pick<BackupRequest, 'format' | 'vacuum' | 'tables' | 'database'>;
      const stream = await sources.openBackup(request, { signal });
      return { sessionId: this.#add({ kind: 'backup', stream }), bytes: stream.bytes, servedBy: stream.servedBy };
    });
    handleEnvelope(transport, transferMethods.backupRead, async (payload) => {
      const sessionId = String(payloadOf(payload).sessionId);
      const entry = this.#touch(sessionId);
      if (entry.kind !== 'backup') throw new ServiceError('NOT_FOUND', `no backup session ${sessionId}`);
      return { bytes: await entry.stream.next() };
    });
    handleEnvelope(transport, transferMethods.backupClose, async (payload) => {
      await this.#end(String(payloadOf(payload).sessionId));
      return true;
    });
  }

  #add(session: Session): string {
    if (this.#sessions.size >= sessionCountMax) {
      void closeSession(session);
      throw new ServiceError('UNAVAILABLE', `too many backups and loads in progress (${sessionCountMax})`);
    }
    const sessionId = randomBytes(16).toString('hex');
    this.#sessions.set(sessionId, { session, timer: this.#idleTimer(sessionId) });
    return sessionId;
  }

  #idleTimer(sessionId: string): ScheduledTimer {
    return this.#scheduler.setTimeout(() => void this.#end(sessionId), sessionIdleMsMax);
  }

  #touch(sessionId: string): Session {
    const entry = this.#sessions.get(sessionId);
    if (entry === undefined) throw new ServiceError('NOT_FOUND', `no transfer session ${sessionId} (it ended, or sat idle for ${sessionIdleMsMax}ms)`);
    entry.timer.cancel();
    entry.timer = this.#idleTimer(sessionId);
    return entry.session;
  }

  #load(sessionId: string): LoadSession {
    const session = this.#touch(sessionId);
    if (session.kind !== 'load') throw new ServiceError('NOT_FOUND', `no load session ${sessionId}`);
    return session.load;
  }

  #remove(sessionId: string): Session | undefined {
    const entry = this.#sessions.get(sessionId);
    if (entry === undefined) return undefined;
    entry.timer.cancel();
    this.#sessions.delete(sessionId);
    return entry.session;
  }

  async #end(sessionId: string): Promise<void> {
    const session = this.#remove(sessionId);
    if (session !== undefined) await closeSession(session);
  }

  /** On stop: every session ends (loads are aborted). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#sessions.keys()].map((sessionId) => this.#end(sessionId)));
  }
}

async function closeSession(session: Session): Promise<void> {
  if (session.kind === 'load') await session.load.abort().catch(() => undefined);
  else await session.stream.close().catch(() => undefined);
}

/** The follower's side of a forwarded load: its bytes gathered into calls of about a mebibyte. */
export async function remoteLoad(peers: PeerTransport, leaderId: string, kind: LoadKind, timeoutMs: number, database?: string): Promise<LoadSession> {
  const call = (method: string, payload: unknown): Promise<unknown> => callPeer(peers, { id: leaderId }, method, payload, { timeoutMs });
  const begin = database === undefined ? { kind, timeoutMs } : { kind, timeoutMs, database };
  const { sessionId } = (await call(transferMethods.loadBegin, begin)) as { sessionId: string };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const bytes = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await call(transferMethods.loadWrite, { sessionId, bytes });
  };
  return {
    async write(bytes) {
      pending.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      pendingBytes += bytes.byteLength;
      if (pendingBytes >= forwardedWriteBytesMin) await flush();
    },
    async finish() {
      await flush();
      const { results } = (await call(transferMethods.loadFinish, { sessionId })) as { results: StatementResult[] };
      return results;
    },
    async abort() {
      await call(transferMethods.loadAbort, { sessionId }).catch(() => undefined);
    },
  };
}

/** The follower's side of a forwarded backup: chunks pulled from the leader as they are read. */
export async function remoteBackup(
  peers: PeerTransport,
  leaderId: string,
  request: Pick<BackupRequest, 'format' | 'vacuum' | 'tables' | 'timeoutMs' | 'database'>,
): Promise<ByteStream> {
  const call = (method: string, payload: unknown): Promise<unknown> => callPeer(peers, { id: leaderId }, method, payload, { timeoutMs: request.timeoutMs });
  const opened = (await call(transferMethods.backupOpen, {
    format: request.format,
    vacuum: request.vacuum,
    tables: request.tables,
    database: request.database ?? null,
  })) as {
    sessionId: string;
    bytes: number | null;
    servedBy: string;
  };
  let closed = false;
  return {
    bytes: opened.bytes,
    servedBy: opened.servedBy,
    async next() {
      const { bytes } = (await call(transferMethods.backupRead, { sessionId: opened.sessionId })) as { bytes: Uint8Array | null };
      return bytes;
    },
    async close() {
      if (closed) return;
      closed = true;
      await call(transferMethods.backupClose, { sessionId: opened.sessionId }).catch(() => undefined);
    },
  };
}
