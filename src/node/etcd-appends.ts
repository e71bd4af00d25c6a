/**
 * The leader's appends to the etcd log. Proposals queue here; one transaction at a time
 * carries everything queued (group commit: while one is in flight the next batch fills).
 * The transaction's comparisons are the fencing: it succeeds only if the batch's first
 * index is still absent AND the leader key's create revision is still this leadership's
 * term. A node whose lease expired — paused, partitioned — finds the key gone or another
 * node's, and its append fails; it can never write behind a newer leader's back.
 *
 * A proposal resolves once its entry applied here (matched by index and term); a batch
 * whose transaction failed or whose outcome is unknown (etcd unreachable) rejects with
 * UNAVAILABLE, and the leader reads the log's end again before its next append.
 */
import type { Etcd3 } from 'etcd3';
import { ServiceError } from '../service/service.js';
import { bytesEqual } from '../raft/read-index.js';
import type { Entry } from '../raft/types.js';
import type { StatementResult } from '../state-machine/types.js';
import { encodeEntryValue, logKey, type EtcdKeys } from './etcd-keys.js';
import type { ApplyOutcome } from './replicated-log.js';
import type { NodeLogger } from './logger.js';

/** etcd refuses requests over 1.5 MiB by default (--max-request-bytes): a batch stays under 1 MiB of entries. */
export const batchBytesMax = 1024 * 1024;
/** Entries in one append transaction at most (etcd's --max-txn-ops defaults to 128; one op is the comparison's partner). */
export const batchEntryCountMax = 120;

interface Queued {
  readonly data: Uint8Array;
  readonly resolve: (outcome: ApplyOutcome) => void;
  readonly reject: (error: Error) => void;
  cancelled: boolean;
}

interface Waiting {
  readonly term: number;
  /** The command proposed at this index: the entry that applies there must be this one (see applied()). */
  readonly data: Uint8Array;
  readonly resolve: (outcome: ApplyOutcome) => void;
  readonly reject: (error: Error) => void;
}

interface AppendDependencies {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  readonly logger: NodeLogger;
  /** The entries a successful append wrote (the leader applies them without reading them back). */
  readonly onAppended: (entries: readonly Entry[]) => void;
  /** The append failed: this node must read the log's end (and its leadership) again before the next. */
  readonly onAppendFailed: () => void;
}

export class EtcdAppends {
  readonly #dependencies: AppendDependencies;
  #queue: Queued[] = [];
  readonly #waiting = new Map<number, Waiting>();
  #appending = false;
  /** The leadership appends are for, and the index the next goes to; 0 while not leading (or not ready). */
  #term = 0;
  #nextIndex = 0;

  constructor(dependencies: AppendDependencies) {
    this.#dependencies = dependencies;
  }

  get queuedCount(): number {
    return this.#queue.length + this.#waiting.size;
  }

  /** This node leads `term` and the log ends at `lastIndex`: appends may start. */
  lead(term: number, lastIndex: number): void {
    this.#term = term;
    this.#nextIndex = lastIndex + 1;
    this.#flush();
  }

  /** Leadership ended: queued proposals (not in etcd) reject; those appended still resolve when they apply. */
  abandon(error: ServiceError): void {
    this.#term = 0;
    const queue = this.#queue;
    this.#queue = [];
    for (const queued of queue) queued.reject(error);
  }

  enqueue(data: Uint8Array): { promise: Promise<ApplyOutcome>; cancel: () => void } {
    let queued: Queued | undefined;
    const promise = new Promise<ApplyOutcome>((resolve, reject) => {
      queued = { data, resolve, reject, cancelled: false };
      this.#queue.push(queued);
    });
    this.#flush();
    const cancel = (): void => {
      if (queued !== undefined) queued.cancelled = true;
    };
    return { promise, cancel };
  }

  /**
   * An entry applied here: settles the proposal waiting at its index. Unlike Raft's (index,
   * term), the pair does not name one proposal here: after an append whose outcome was
   * unknown (etcd did not answer in time) this leader appends its next batch at the same
   * index in the same term, and the unanswered transaction may still land there first (its
   * comparisons hold: the index was free, the term is this one). So the entry must also be
   * the very command proposed; another one there is not this write's (UNAVAILABLE: retry).
   * A byte-identical command applied in its place has the same effect and answers it.
   */
  applied(entry: Entry, results: readonly StatementResult[]): void {
    const waiting = this.#waiting.get(entry.index);
    if (waiting === undefined) return;
    this.#waiting.delete(entry.index);
    if (waiting.term !== entry.term)
      waiting.reject(new ServiceError('UNAVAILABLE', 'leadership changed: another leader wrote at the write\u2019s index; retry'));
    // The leader applies its own appends from the very arrays it proposed: compare bytes only for an entry read from etcd.
    else if (waiting.data !== entry.data && !bytesEqual(waiting.data, entry.data))
      waiting.reject(new ServiceError('UNAVAILABLE', 'another write of this leader (one whose outcome was unknown) landed at the write\u2019s index; retry'));
    else waiting.resolve({ results, index: entry.index });
  }

  failAll(error: Error): void {
    this.abandon(error instanceof ServiceError ? error : new ServiceError('UNAVAILABLE', error.message));
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
  }

  #flush(): void {
    if (this.#appending || this.#term === 0) return;
    this.#queue = this.#queue.filter((queued) => !queued.cancelled);
    if (this.#queue.length === 0) return;
    const batch = this.#takeBatch();
    this.#appending = true;
    void this.#append(batch).finally(() => {
      this.#appending = false;
      this.#flush();
    });
  }

  #takeBatch(): Queued[] {
    let bytes = 0;
    let count = 0;
    while (count < this.#queue.length && count < batchEntryCountMax) {
      const size = (this.#queue[count] as Queued).data.byteLength;
      if (count > 0 && bytes + size > batchBytesMax) break;
      bytes += size;
      count += 1;
    }
    return this.#queue.splice(0, count);
  }

  async #append(batch: readonly Queued[]): Promise<void> {
    const { client, keys } = this.#dependencies;
    const term = this.#term;
    const first = this.#nextIndex;
    const entries: Entry[] = batch.map((queued, offset) => ({ index: first + offset, term, type: 'normal', data: queued.data }));
    const puts = entries.map((entry) => client.put(logKey(keys, entry.index)).value(encodeEntryValue(term, entry.data)));
    // Waiting before the transaction: the watch may deliver the entries (and apply them) before its answer arrives.
    for (const [offset, queued] of batch.entries())
      this.#waiting.set(first + offset, { term, data: queued.data, resolve: queued.resolve, reject: queued.reject });
    let succeeded: boolean;
    try {
      const result = await client
        .if(logKey(keys, first), 'Create', '==', 0)
        .and(keys.leader, 'Create', '==', term)
        .then(...puts)
        .commit();
      succeeded = result.succeeded;
    } catch (error) {
      this.#failBatch(
        batch,
        first,
        new ServiceError('UNAVAILABLE', `write outcome unknown: etcd did not answer the append (${String(error)}); retry with an idempotency key`),
      );
      return;
    }
    if (!succeeded) {
      this.#failBatch(
        batch,
        first,
        new ServiceError('UNAVAILABLE', 'leadership lost: the etcd leader key is no longer this node\u2019s (or the log moved); retry'),
      );
      return;
    }
    if (this.#term === term) this.#nextIndex = first + entries.length;
    this.#dependencies.onAppended(entries);
  }

  #failBatch(batch: readonly Queued[], first: number, error: ServiceError): void {
    this.#dependencies.logger.warn({ event: 'etcd-append-failed', entries: batch.length, error: error.message }, 'append to etcd failed');
    batch.forEach((queued, offset) => {
      if (this.#waiting.get(first + offset)?.reject === queued.reject) this.#waiting.delete(first + offset);
      queued.reject(error);
    });
    this.#term = 0;
    this.#dependencies.onAppendFailed();
  }
}
