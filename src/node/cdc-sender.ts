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
import type { Agent } from 'undici';
import type { CdcConfig } from './cdc-config.js';
import type { CdcQueue, QueuedChanges, QueueGap, ServedRange } from './cdc-queue.js';
import type { NodeLogger } from './logger.js';
import { callPeer, handleEnvelope, type PeerTransport } from './peer-calls.js';
import type { ReplicatedLog } from './replicated-log.js';

const cdcHighWaterMarkMethod = 'quorumlite.cdc-high-water-mark';
/** A leader with a gap (cdc-queue.ts) asks the members for their queued entries in it. */
const cdcQueuedRangeMethod = 'quorumlite.cdc-queued-range';

/** A peer's answer for a gap holds at most this much (one larger entry goes alone). */
const gapReplyBytesMax = 1024 * 1024;
/** Rounds of asking every member before a gap is skipped (a member behind may catch up meanwhile). */
const gapFillRoundsMax = 5;
const gapFillRetryMs = 500;

/** A POST body holds at most this much (one entry larger than it goes alone). */
const cdcBodyBytesMax = 8 * 1024 * 1024;

interface CdcSenderDependencies {
  readonly config: CdcConfig;
  readonly queue: CdcQueue;
  readonly log: Pick<ReplicatedLog, 'isLeader' | 'confState' | 'appliedIndex'>;
  readonly peers: PeerTransport;
  readonly nodeId: string;
  readonly logger: NodeLogger;
  /** Where `stdout` mode writes (a test may capture it). */
  readonly writeLine?: (line: string) => void;
}

export class CdcSender {
  readonly #dependencies: CdcSenderDependencies;
  /**
   * undici is loaded only here, by a node with -cdc-config: loading it costs a process
   * about 18 MiB of memory (bench/README.md, "Where a node's memory goes").
   */
  readonly #undici: Promise<typeof import('undici')>;
  /** The TLS agent once the first batch goes out (the files are read at construction, so a bad one fails the start). */
  readonly #agent: Promise<Agent | undefined>;
  #stopped = false;
  /** Ends a backoff wait and a POST in flight when the node stops. */
  readonly #stopping = new AbortController();
  #running: Promise<void> | undefined;
  #lastToldMark = 0;
  #toldAtMs = 0;
  /** Batches the endpoint refused or did not answer (each retry counts). */
  failedSendCount = 0;
  /** Log indexes of gaps no member could fill, skipped (their events, if any, never sent). */
  skippedGapIndexCount = 0;

  constructor(dependencies: CdcSenderDependencies) {
    this.#dependencies = dependencies;
    const tls = dependencies.config.tls;
    this.#undici = import('undici');
    const connect =
      tls === undefined
        ? undefined
        : {
            rejectUnauthorized: !tls.insecureSkipVerify,
            ...(tls.caCertFile === undefined ? {} : { ca: readFileSync(tls.caCertFile) }),
            ...(tls.certFile === undefined ? {} : { cert: readFileSync(tls.certFile) }),
            ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile) }),
            ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
          };
    this.#agent = connect === undefined ? Promise.resolve(undefined) : this.#undici.then((undici) => new undici.Agent({ connect }));
  }

  /** Followers persist the mark the leader tells them. */
  registerPeerHandlers(): void {
    handleEnvelope(this.#dependencies.peers, cdcHighWaterMarkMethod, async (payload) => {
      const index = (payload as { index?: unknown }).index;
      if (typeof index === 'number' && Number.isSafeInteger(index)) this.#dependencies.queue.advanceHighWaterMark(index);
      return null;
    });
    handleEnvelope(this.#dependencies.peers, cdcQueuedRangeMethod, async (payload) => {
      const { afterIndex, throughIndex } = payload as { afterIndex?: unknown; throughIndex?: unknown };
      if (!Number.isSafeInteger(afterIndex) || !Number.isSafeInteger(throughIndex)) throw new Error('afterIndex and throughIndex must be integers');
      const { queue, log } = this.#dependencies;
      return queue.serveRange(afterIndex as number, throughIndex as number, log.appliedIndex, gapReplyBytesMax);
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
    await (await this.#agent)?.close();
  }

  async #run(): Promise<void> {
    const { queue, config, log } = this.#dependencies;
    while (!this.#stopped) {
      if (!log.isLeader) {
        await sleep(50, this.#stopping.signal);
        continue;
      }
      const batch = queue.read(queue.highWaterMark, config.batchEntryCountMax, cdcBodyBytesMax);
      const gap = batch.length === 0 ? queue.firstGap() : undefined;
      if (gap !== undefined) {
        // Everything before the gap is sent: its entries come from the members before anything after it.
        await this.#fillGap(gap);
        continue;
      }
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
      const [{ request }, agent] = await Promise.all([this.#undici, this.#agent]);
      const response = await request(config.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        headersTimeout: config.transmitTimeoutMs,
        bodyTimeout: config.transmitTimeoutMs,
        signal: AbortSignal.any([AbortSignal.timeout(config.transmitTimeoutMs), this.#stopping.signal]),
        ...(agent === undefined ? {} : { dispatcher: agent }),
      });
      await response.body.dump();
      return response.statusCode >= 200 && response.statusCode < 300 ? undefined : `HTTP ${response.statusCode}`;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  }

  /**
   * Asks the members for the gap's entries (a member that applied them queued them, and
   * keeps them until the mark passes); what one gives is queued and the gap shrinks. Only
   * when no member can fill it after some rounds is it skipped: logged as an error and
   * counted, never silently.
   */
  async #fillGap(gap: QueueGap): Promise<void> {
    const { queue, log, nodeId, logger } = this.#dependencies;
    for (let round = 0; round < gapFillRoundsMax; round++) {
      const confState = log.confState();
      for (const id of [...confState.voters, ...confState.learners].filter((member) => member !== nodeId)) {
        if (this.#stopped || !log.isLeader) return;
        const served = await this.#askForRange(id, gap);
        if (served === undefined || served.completeThrough < gap.firstIndex) continue;
        queue.fillGap(gap, served.entries, Math.min(served.completeThrough, gap.lastIndex));
        logger.info(
          { event: 'cdc-gap-filled', from: id, firstIndex: gap.firstIndex, throughIndex: served.completeThrough },
          'CDC queue gap filled from a member',
        );
        return;
      }
      await sleep(gapFillRetryMs, this.#stopping.signal);
      if (this.#stopped || !log.isLeader) return;
    }
    this.skippedGapIndexCount += gap.lastIndex - gap.firstIndex + 1;
    logger.error(
      { event: 'cdc-gap-skipped', firstIndex: gap.firstIndex, lastIndex: gap.lastIndex },
      'CDC events lost: this node installed a snapshot over these entries and no member still has their events',
    );
    queue.skipGap(gap);
  }

  async #askForRange(id: string, gap: QueueGap): Promise<ServedRange | undefined> {
    const payload = { afterIndex: gap.firstIndex - 1, throughIndex: gap.lastIndex };
    try {
      return (await callPeer(this.#dependencies.peers, { id }, cdcQueuedRangeMethod, payload, {
        timeoutMs: 10_000,
        signal: this.#stopping.signal,
      })) as ServedRange;
    } catch (error) {
      this.#dependencies.logger.warn(
        { event: 'cdc-gap-ask-failed', from: id, failure: error instanceof Error ? error.message : String(error) },
        'a member did not answer for a CDC gap',
      );
      return undefined;
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
