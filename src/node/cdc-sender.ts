/**
 * The leader's CDC sender: reads the queue (cdc-queue.ts) in index order after the last
 * acknowledged index, POSTs batches in rqlite's envelope (`{"service_id", "node_id",
 * "payload": [...]}`) or prints them as JSON lines (`stdout`), retries with backoff, and
 * moves the high-water mark on an acknowledgement (HTTP 2xx). Every
 * `highWaterMarkIntervalMs` it tells the other members the mark, which they persist and
 * prune to, so a new leader starts from it. Only the leader sends; a node that loses the
 * leadership stops before its next batch.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { CdcConfig } from './cdc-config.js';
import type { CdcQueue, QueuedChanges } from './cdc-queue.js';
import type { NodeLogger } from './logger.js';
import { callPeer, handleEnvelope, type PeerTransport } from './peer-calls.js';
import type { ReplicatedLog } from './replicated-log.js';

const cdcHighWaterMarkMethod = 'quorumlite.cdc-high-water-mark';

/** A POST body holds at most this much (one entry larger than it goes alone). */
const cdcBodyBytesMax = 8 * 1024 * 1024;

interface CdcSenderDependencies {
  readonly config: CdcConfig;
  readonly queue: CdcQueue;
  readonly log: Pick<ReplicatedLog, 'isLeader' | 'confState'>;
  readonly peers: PeerTransport;
  readonly nodeId: string;
  readonly logger: NodeLogger;
  /** Where `stdout` mode writes (a test may capture it). */
  readonly writeLine?: (line: string) => void;
}

export class CdcSender {
  readonly #dependencies: CdcSenderDependencies;
  readonly #agent: Agent | undefined;
  #stopped = false;
  /** Ends a backoff wait and a POST in flight when the node stops. */
  readonly #stopping = new AbortController();
  #running: Promise<void> | undefined;
  #lastToldMark = 0;
  #toldAtMs = 0;
  /** Batches the endpoint refused or did not answer (each retry counts). */
  failedSendCount = 0;

  constructor(dependencies: CdcSenderDependencies) {
    this.#dependencies = dependencies;
    const tls = dependencies.config.tls;
    this.#agent =
      tls === undefined
        ? undefined
        : new Agent({
            connect: {
              rejectUnauthorized: !tls.insecureSkipVerify,
              ...(tls.caCertFile === undefined ? {} : { ca: readFileSync(tls.caCertFile) }),
              ...(tls.certFile === undefined ? {} : { cert: readFileSync(tls.certFile) }),
              ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile) }),
              ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
            },
          });
  }

  /** Followers persist the mark the leader tells them. */
  registerPeerHandlers(): void {
    handleEnvelope(this.#dependencies.peers, cdcHighWaterMarkMethod, async (payload) => {
      const index = (payload as { index?: unknown }).index;
      if (typeof index === 'number' && Number.isSafeInteger(index)) this.#dependencies.queue.advanceHighWaterMark(index);
      return null;
    });
  }

  start(): void {
    this.#running = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    this.#dependencies.queue.wakeWaiters();
    await this.#running;
    await this.#agent?.close();
  }

  async #run(): Promise<void> {
    const { queue, config, log } = this.#dependencies;
    while (!this.#stopped) {
      if (!log.isLeader) {
        await sleep(50, this.#stopping.signal);
        continue;
      }
      const batch = queue.read(queue.highWaterMark, config.batchEntryCountMax, cdcBodyBytesMax);
      if (batch.length === 0) {
        await this.#tellMark();
        await queue.waitForRecord(Math.min(config.batchDelayMs, config.highWaterMarkIntervalMs));
        continue;
      }
      const delivered = await this.#sendWithRetries(batch);
      if (!delivered) continue;
      queue.advanceHighWaterMark((batch[batch.length - 1] as QueuedChanges).index);
      await this.#tellMark();
    }
  }

  /** True once delivered; false when leadership was lost or the node stops (the next leader sends it), or the retries ran out (dropped, as rqlite). */
  async #sendWithRetries(batch: readonly QueuedChanges[]): Promise<boolean> {
    const { config, logger, log } = this.#dependencies;
    const body = this.#envelope(batch);
    for (let attempt = 0; !this.#stopped && log.isLeader; attempt++) {
      const failure = await this.#send(body);
      if (failure === undefined) return true;
      this.failedSendCount += 1;
      if (config.transmitRetryCountMax !== undefined && attempt >= config.transmitRetryCountMax) {
        logger.error({ event: 'cdc-dropped', firstIndex: batch[0]?.index, lastIndex: batch.at(-1)?.index, failure }, 'CDC batch dropped after its retries');
        return true;
      }
      if (attempt === 0) logger.warn({ event: 'cdc-send-failed', failure }, 'CDC endpoint failed; retrying');
      const backoffMs = config.exponentialBackoff ? config.backoffMinMs * 2 ** Math.min(attempt, 30) : config.backoffMinMs;
      await sleep(Math.min(backoffMs, config.backoffMaxMs), this.#stopping.signal);
    }
    return false;
  }

  #envelope(batch: readonly QueuedChanges[]): string {
    const { config, nodeId } = this.#dependencies;
    const service = config.serviceId === undefined || config.serviceId === '' ? '' : `"service_id":${JSON.stringify(config.serviceId)},`;
    return `{${service}"node_id":${JSON.stringify(nodeId)},"payload":[${batch.map((entry) => entry.json).join(',')}]}`;
  }

  /** Undefined when delivered, else why not. */
  async #send(body: string): Promise<string | undefined> {
    const { config } = this.#dependencies;
    if (config.endpoint === 'stdout') {
      (this.#dependencies.writeLine ?? ((line) => process.stdout.write(`${line}\n`)))(body);
      return undefined;
    }
    try {
      const response = await request(config.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        headersTimeout: config.transmitTimeoutMs,
        bodyTimeout: config.transmitTimeoutMs,
        signal: AbortSignal.any([AbortSignal.timeout(config.transmitTimeoutMs), this.#stopping.signal]),
        ...(this.#agent === undefined ? {} : { dispatcher: this.#agent }),
      });
      await response.body.dump();
      return response.statusCode >= 200 && response.statusCode < 300 ? undefined : `HTTP ${response.statusCode}`;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /** Every highWaterMarkIntervalMs, the members learn the mark (best effort: a member that misses it sends more again, never less). */
  async #tellMark(): Promise<void> {
    const { queue, config, log, peers, nodeId } = this.#dependencies;
    const mark = queue.highWaterMark;
    if (mark === this.#lastToldMark || Date.now() - this.#toldAtMs < config.highWaterMarkIntervalMs) return;
    this.#toldAtMs = Date.now();
    const confState = log.confState();
    const members = [...confState.voters, ...confState.learners].filter((id) => id !== nodeId);
    const results = await Promise.allSettled(members.map((id) => callPeer(peers, { id }, cdcHighWaterMarkMethod, { index: mark }, { timeoutMs: 2_000 })));
    if (results.every((result) => result.status === 'fulfilled')) this.#lastToldMark = mark;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
