/**
 * Read barriers on the etcd log. A barrier asks etcd, with a linearizable (quorum) range
 * read, for the log's last index: every write acknowledged before the barrier started
 * is at or below it, so once this node applied it a local read is linearizable — on any
 * node, leader or not. Barriers share rounds as the embedded Raft's ReadIndex does: one
 * that arrives while a round is in flight joins the next round (the one in flight may
 * have read etcd before the caller's preceding write was acknowledged).
 */
import type { Etcd3 } from 'etcd3';
import type { EtcdKeys } from './etcd-keys.js';
import { indexOfLogKey } from './etcd-keys.js';
import type { ReadBarrierCounts } from './replicated-log.js';
import type { Scheduler } from './scheduler.js';

/** The log's last index in etcd (a quorum read); with no entry left, the index before the first kept one. */
export async function readLastIndex(client: Etcd3, keys: EtcdKeys): Promise<number> {
  const lastKeys = await client.getAll().prefix(keys.logPrefix).sort('Key', 'Descend').limit(1).keys();
  const last = lastKeys[0];
  if (last !== undefined) return indexOfLogKey(keys, last);
  const first = await client.get(keys.first).string();
  return first === null ? 0 : Number(first) - 1;
}

interface ReadDependencies {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  readonly scheduler: Scheduler;
}

export class EtcdReadRounds {
  readonly #dependencies: ReadDependencies;
  #inFlight: Promise<number> | undefined;
  #next: Promise<number> | undefined;
  #readCount = 0;
  #roundCount = 0;

  constructor(dependencies: ReadDependencies) {
    this.#dependencies = dependencies;
  }

  get counts(): ReadBarrierCounts {
    return { readCount: this.#readCount, roundCount: this.#roundCount };
  }

  /** Resolves with a last index read after this call. */
  join(): Promise<number> {
    this.#readCount += 1;
    if (this.#inFlight === undefined) return this.#startRound();
    this.#next ??= this.#inFlight
      .catch(() => 0)
      .then(() => {
        this.#next = undefined;
        return this.#startRound();
      });
    return this.#next;
  }

  #startRound(): Promise<number> {
    this.#roundCount += 1;
    const round = readLastIndex(this.#dependencies.client, this.#dependencies.keys).finally(() => {
      if (this.#inFlight === round) this.#inFlight = undefined;
    });
    this.#inFlight = round;
    return round;
  }
}
