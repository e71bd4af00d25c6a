/**
 * Read barriers on the etcd log. A barrier asks etcd, with a linearizable (quorum) range
 * read, for the log's last index: every write acknowledged before the barrier started
 * is at or below it, so once this node applied it a local read is linearizable — on any
 * node, leader or not. Barriers share rounds as the embedded Raft's ReadIndex does: one
 * that arrives while a round is in flight joins the next round (the one in flight may
 * have read etcd before the caller's preceding write was acknowledged).
 */
import { Range, type Etcd3 } from 'etcd3';
import type { EtcdKeys } from './etcd-keys.js';
import { indexOfLogKey, logKey } from './etcd-keys.js';
import type { ReadBarrierCounts } from './replicated-log.js';
import type { Scheduler } from './scheduler.js';

/** Keys one page of the forward scan reads, and the pages it reads before it leaves the end to the sorted read. */
export const lastIndexScan = { pageKeysMax: 1_000, pagesMax: 20 } as const;

/**
 * The log's last index in etcd (quorum reads); with no entry left, the index before the
 * first kept one. `from`: an index this node knows is in the log or below its end (its
 * applied index; compaction never removes what a member has not applied). The keys from
 * there are read in pages in etcd's own key order, which is index order. A sorted query
 * over the whole prefix is the fallback: etcd answers a descending sort by reading and
 * sorting every key of the range, whatever the limit, so it costs the whole log in etcd.
 */
export async function readLastIndex(
  client: Etcd3,
  keys: EtcdKeys,
  from = 0,
  scan: { readonly pageKeysMax: number; readonly pagesMax: number } = lastIndexScan,
): Promise<number> {
  if (from > 0) {
    const end = Range.prefix(keys.logPrefix).end;
    let start = logKey(keys, from);
    let last: string | undefined;
    for (let page = 0; page < scan.pagesMax; page++) {
      const found = await client.getAll().inRange({ start, end }).limit(scan.pageKeysMax).keys();
      last = found.at(-1) ?? last;
      if (found.length < scan.pageKeysMax) return last === undefined ? readLastIndexSorted(client, keys) : indexOfLogKey(keys, last);
      start = `${last}\u0000`;
    }
  }
  return readLastIndexSorted(client, keys);
}

async function readLastIndexSorted(client: Etcd3, keys: EtcdKeys): Promise<number> {
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
  /** Where the scan for the log's end may start: this node's applied index. */
  readonly knownIndex: () => number;
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
    const { client, keys, knownIndex } = this.#dependencies;
    const round = readLastIndex(client, keys, knownIndex()).finally(() => {
      if (this.#inFlight === round) this.#inFlight = undefined;
    });
    this.#inFlight = round;
    return round;
  }
}
