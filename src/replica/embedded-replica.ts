/**
 * An embedded replica (docs/REPLICA.md): a SQLite file in the application's process kept
 * identical to the cluster's database by applying the cluster's log with the nodes' own
 * state machine, and reads served from it.
 *
 * - Sync. One loop: stream `/db/stream?from=<applied index>` from a node and apply what
 *   arrives; a node whose log no longer holds those entries (LOG_COMPACTED) gives a full
 *   copy (`/db/copy`) first, restored in place, and the stream resumes from its index. On
 *   any failure (a refused or cut connection, a stream silent past `silenceMsMax`) the
 *   next node the client knows is tried after a full-jitter backoff.
 * - Durability. The state machine commits each batch's applied index in the same SQLite
 *   transaction as its data (src/state-machine/applied-marker.ts), so a restart resumes
 *   where the file stopped and a crash mid-batch applies nothing twice.
 * - Reads. `query()` waits until the file has applied the client's last write (bounded by
 *   `readYourWritesTimeoutMs`, else the client reads from the cluster), then runs the
 *   statements on the state machine's read-only connection.
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ResultOptions } from '../client/call-options.js';
import { QuorumliteError } from '../client/errors.js';
import type { ClusterAccess, LocalReads } from '../client/local-reads.js';
import type { InStatement, Reply } from '../client/types.js';
import type { LogStreamFrame } from '../common/log-stream-frames.js';
import { SqliteStateMachine, type BatchEntry } from '../state-machine/state-machine.js';
import { applyStreamEntries } from './entry-runs.js';
import { FeedError, FeedRequests, type OpenedStream } from './feed-requests.js';
import { localResultSets, localStatements, type ResultModes } from './local-results.js';
import { AppliedWaits } from './applied-waits.js';
import type { ResolvedReplicaOptions } from './options.js';

/** What a test or an operator may read of a replica's progress. */
export interface ReplicaProgress {
  /** The index the local file has applied. */
  readonly appliedIndex: number;
  /** The highest applied index a node reported (a heartbeat): the replica is current when equal. */
  readonly clusterAppliedIndex: number;
  /** Full copies fetched since the replica opened (each one a `/db/copy`). */
  readonly copyCount: number;
  /** The node the stream comes from now, if connected. */
  readonly streamingFrom: string | undefined;
  /** The last failure of the sync loop (it keeps trying). */
  readonly lastError: Error | undefined;
}

/** The files replicas in this process have open: a second state machine on the same file would corrupt it. */
const openPaths = new Set<string>();

export class EmbeddedReplica implements LocalReads {
  readonly #options: ResolvedReplicaOptions;
  readonly #cluster: ClusterAccess;
  readonly #modes: ResultModes;
  readonly #machine: SqliteStateMachine;
  readonly #feed: FeedRequests;
  readonly #waits = new AppliedWaits();
  /** The applied index of the first node that answered: local reads wait until the file reached it (a fresh file is empty). */
  #startIndex: number | undefined;
  /** Released (at 1) by that first heartbeat. */
  readonly #firstHeartbeat = new AppliedWaits();
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;
  readonly #path: string;
  #nodeCursor = 0;
  #clusterAppliedIndex = 0;
  #copyCount = 0;
  #streamingFrom: string | undefined;
  #lastError: Error | undefined;
  #closed = false;

  constructor(options: ResolvedReplicaOptions, cluster: ClusterAccess, modes: ResultModes) {
    this.#options = options;
    this.#cluster = cluster;
    this.#modes = modes;
    const path = resolve(options.path);
    if (openPaths.has(path)) throw new QuorumliteError('INVALID_ARGUMENT', `replica.path ${path} is open in another client of this process: close it first`);
    // Another database's copy marks its own last entry, below the index it is served at: its file then
    // moves to that index with one no-op (#restoreCopy), which needs sparse indexes, as on a node.
    this.#machine = new SqliteStateMachine({ path: options.path, foreignKeys: options.foreignKeys, sparseEntries: options.database !== undefined });
    openPaths.add(path);
    this.#path = path;
    this.#feed = new FeedRequests({ tls: options.tls, silenceMsMax: options.silenceMsMax, headers: () => cluster.headers, database: options.database });
    this.#loop = this.#syncLoop();
  }

  get progress(): ReplicaProgress {
    return {
      appliedIndex: this.#machine.appliedIndex,
      clusterAppliedIndex: this.#clusterAppliedIndex,
      copyCount: this.#copyCount,
      streamingFrom: this.#streamingFrom,
      lastError: this.#lastError,
    };
  }

  /** The local file's content checksum and its index (the same as a node's `/status` `store.sqlite3.checksum` at that index). */
  checksum(): { readonly checksum: string; readonly appliedIndex: number } {
    return this.#machine.checksum();
  }

  /** Resolves true once the file applied `index`, false after `timeoutMs`. */
  waitForApplied(index: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#machine.appliedIndex >= index) return Promise.resolve(true);
    return this.#waits.wait(index, timeoutMs, signal);
  }

  async query<Row>(statements: InStatement | readonly InStatement[], options: ResultOptions, appliedIndexMin: number): Promise<Reply<Row> | undefined> {
    if (this.#closed) throw new QuorumliteError('CLIENT_CLOSED', 'the client was closed');
    const local = localStatements(statements);
    const deadlineMs = performance.now() + this.#options.readYourWritesTimeoutMs;
    // Until the file has caught up with the cluster as the first node found it, it may be empty or far behind: wait for that too.
    if (this.#startIndex === undefined) await this.#firstHeartbeat.wait(1, this.#options.readYourWritesTimeoutMs, options.signal);
    const startIndex = this.#startIndex;
    if (startIndex === undefined) return undefined;
    const remainingMs = Math.max(1, deadlineMs - performance.now());
    if (!(await this.waitForApplied(Math.max(appliedIndexMin, startIndex), remainingMs, options.signal))) return undefined;
    const modes = {
      bigint: options.bigint ?? this.#modes.bigint,
      rowMode: options.rowMode ?? this.#modes.rowMode,
      sqlErrors: options.sqlErrors ?? this.#modes.sqlErrors,
    };
    return { results: localResultSets<Row>(this.#machine.query(local), modes), raftIndex: undefined };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort(new QuorumliteError('CLIENT_CLOSED', 'the client was closed'));
    this.#waits.failAll();
    this.#firstHeartbeat.failAll();
    await this.#loop;
    await this.#feed.close();
    this.#machine.close();
    openPaths.delete(this.#path);
  }

  async #syncLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      failures = (await this.#syncOnce()) ? 0 : failures + 1;
      if (failures > 0) await this.#backOff(failures);
    }
  }

  /** One attempt on the next node: a stream, or a full copy when the node's log no longer reaches this file. Resolves whether it made progress. */
  async #syncOnce(): Promise<boolean> {
    const nodeUrl = this.#nextNode();
    try {
      return await this.#syncFrom(nodeUrl);
    } catch (error) {
      if (this.#stop.signal.aborted) return true;
      if (error instanceof FeedError && error.code === 'LOG_COMPACTED') return this.#restoreCopy(nodeUrl);
      this.#lastError = error instanceof Error ? error : new Error(String(error));
      return false;
    } finally {
      this.#streamingFrom = undefined;
    }
  }

  /** Streams from one node until the stream ends or fails; resolves whether anything arrived. */
  async #syncFrom(nodeUrl: string): Promise<boolean> {
    const stream = await this.#feed.openStream(nodeUrl, this.#machine.appliedIndex, this.#stop.signal);
    this.#checkSettings(stream);
    this.#streamingFrom = nodeUrl;
    let progressed = false;
    for await (const frames of stream.frames) {
      await this.#applyFrames(frames);
      progressed = true;
    }
    return progressed;
  }

  #checkSettings(stream: OpenedStream): void {
    if (stream.foreignKeys === this.#options.foreignKeys) return;
    // Different constraints would make the same entries give a different database: never apply them.
    throw new FeedError(
      'SETTINGS_DIFFER',
      `${stream.nodeUrl} enforces foreign keys ${stream.foreignKeys ? 'on' : 'off'}; this replica has foreignKeys: ${this.#options.foreignKeys}`,
    );
  }

  async #applyFrames(frames: readonly LogStreamFrame[]): Promise<void> {
    const entries: BatchEntry[] = [];
    let ended: FeedError | undefined;
    for (const frame of frames) {
      if (frame.kind === 'entry') entries.push({ index: frame.index, data: frame.data });
      else if (frame.kind === 'heartbeat') this.#heartbeat(frame.index);
      else ended ??= new FeedError(frame.code, `the stream ended: ${frame.message}`);
    }
    // An error frame ends the stream: the entries before it still apply.
    if (entries.length > 0) {
      await applyStreamEntries(this.#machine, entries);
      this.#clusterAppliedIndex = Math.max(this.#clusterAppliedIndex, this.#machine.appliedIndex);
      this.#waits.advance(this.#machine.appliedIndex);
    }
    if (ended !== undefined) throw ended;
  }

  #heartbeat(nodeAppliedIndex: number): void {
    this.#clusterAppliedIndex = Math.max(this.#clusterAppliedIndex, nodeAppliedIndex);
    if (this.#startIndex !== undefined) return;
    this.#startIndex = nodeAppliedIndex;
    this.#firstHeartbeat.advance(1);
  }

  /** A full copy from `nodeUrl`, restored in place of the file (atomically: the state machine's restore). */
  async #restoreCopy(nodeUrl: string): Promise<boolean> {
    const copyPath = `${this.#options.path}.copy`;
    try {
      const copyIndex = await this.#feed.downloadCopy(nodeUrl, copyPath, this.#options.copyBytesMax, this.#stop.signal);
      if (copyIndex <= this.#machine.appliedIndex) return false;
      const restored = await this.#machine.restore(copyPath);
      // The default database's copy holds its index; another's may hold its own last entry, below (options.database).
      const expected = this.#options.database === undefined ? restored.appliedIndex === copyIndex : restored.appliedIndex <= copyIndex;
      if (!expected) throw new FeedError('SERVER_ERROR', `${nodeUrl}/db/copy said index ${copyIndex}, the file holds ${restored.appliedIndex}`);
      if (restored.appliedIndex < copyIndex) this.#machine.applyNoop(copyIndex);
      this.#copyCount += 1;
      this.#waits.advance(this.#machine.appliedIndex);
      return true;
    } catch (error) {
      if (!this.#stop.signal.aborted) this.#lastError = error instanceof Error ? error : new Error(String(error));
      return false;
    } finally {
      await rm(copyPath, { force: true });
    }
  }

  #nextNode(): string {
    const nodes = this.#cluster.nodes();
    const node = nodes[this.#nodeCursor % nodes.length];
    this.#nodeCursor += 1;
    if (node === undefined) throw new QuorumliteError('INVALID_ARGUMENT', 'the client knows no node to replicate from');
    return node;
  }

  /** Full jitter, doubling from `reconnectDelayMsMin` to `reconnectDelayMsMax`. */
  async #backOff(failures: number): Promise<void> {
    const capMs = Math.min(this.#options.reconnectDelayMsMax, this.#options.reconnectDelayMsMin * 2 ** Math.min(failures - 1, 16));
    const signal = this.#stop.signal;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.random() * capMs);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
