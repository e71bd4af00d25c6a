/**
 * Change data capture on a node (rqlited's -cdc-config): the state machine's capture
 * (src/state-machine/change-capture.ts) records into this node's queue (cdc-queue.ts)
 * on every node; the leader's sender (cdc-sender.ts) delivers it. docs/ARCHITECTURE.md,
 * "Change data capture".
 */
import { join } from 'node:path';
import type { CdcConfig } from '../node/cdc-config.js';

export type { CdcConfig } from '../node/cdc-config.js';
import { CdcQueue, cdcQueueEntryCountMax } from '../node/cdc-queue.js';
import { CdcSender } from '../node/cdc-sender.js';
import type { NodeLogger } from '../node/logger.js';
import type { PeerTransport } from '../node/peer-calls.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import type { MetricFamily } from '../service/service.js';
import { ChangeCapture, entryChangeCountMaxDefault } from '../state-machine/change-capture.js';

export class NodeCdc {
  readonly capture: ChangeCapture;
  readonly #queue: CdcQueue;
  readonly #config: CdcConfig;
  #sender: CdcSender | undefined;

  private constructor(config: CdcConfig, dataDirectory: string) {
    this.#config = config;
    this.#queue = new CdcQueue({ path: join(dataDirectory, 'cdc-queue.sqlite'), entryCountMax: cdcQueueEntryCountMax });
    const settings = { tableFilter: config.tableFilter, rowIdsOnly: config.rowIdsOnly, entryChangeCountMax: entryChangeCountMaxDefault };
    this.capture = new ChangeCapture(settings, this.#queue);
  }

  /** Undefined without -cdc-config. */
  static open(config: CdcConfig | undefined, dataDirectory: string): NodeCdc | undefined {
    return config === undefined ? undefined : new NodeCdc(config, dataDirectory);
  }

  /** The sender, before the transport starts: followers answer the leader's high-water mark; the leader sends. */
  start(parts: { log: Pick<ReplicatedLog, 'isLeader' | 'confState' | 'appliedIndex'>; peers: PeerTransport; nodeId: string; logger: NodeLogger }): void {
    this.#queue.resolvePendingRestore(parts.log.appliedIndex);
    this.#sender = new CdcSender({ ...parts, config: this.#config, queue: this.#queue });
    this.#sender.registerPeerHandlers();
    this.#sender.start();
  }

  async stop(): Promise<void> {
    await this.#sender?.stop();
    this.#queue.close();
  }

  metrics(): MetricFamily[] {
    const family = (type: 'gauge' | 'counter', name: string, help: string, value: number): MetricFamily => ({
      name,
      help,
      type,
      samples: [{ labels: {}, value }],
    });
    return [
      family('gauge', 'quorumlite_cdc_queue_depth', 'Log entries with row changes queued for the CDC endpoint (above the high-water mark).', this.#queue.depth),
      family('gauge', 'quorumlite_cdc_high_water_mark', 'Highest log index the CDC endpoint acknowledged, as this node knows it.', this.#queue.highWaterMark),
      family('counter', 'quorumlite_cdc_dropped_entries_total', 'Queued entries dropped at the queue bound.', this.#queue.droppedEntryCount),
      family(
        'counter',
        'quorumlite_cdc_skipped_gap_indexes_total',
        'Log indexes skipped by the CDC sender: covered by a snapshot this node installed, and no member still had their events.',
        this.#sender?.skippedGapIndexCount ?? 0,
      ),
      family('counter', 'quorumlite_cdc_failed_sends_total', 'Batches the CDC endpoint refused or did not answer.', this.#sender?.failedSendCount ?? 0),
    ];
  }
}
