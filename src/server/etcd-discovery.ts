/**
 * -disco-mode etcd-kv: the leader's addresses live in etcd under `/<disco-key>/leader`, as
 * rqlite keeps them: a JSON object `{"id", "api_addr", "addr"}` (the node id, its HTTP API
 * URL and its Raft address). A new node reads the key: empty, it tries to create it with a
 * compare-and-set (the key must not exist), and only the node that succeeds bootstraps a
 * cluster; set, the node joins through the Raft address it names. The leader rewrites the
 * key when it becomes leader and every `leaderReportIntervalMs` while it leads.
 *
 * The key has no lease, as in rqlite, and that is deliberate: a lease would let a dead
 * leader's record expire before the surviving nodes elect and record a new leader, and a
 * node starting in that gap would find the key empty and bootstrap a second cluster. A
 * stale record only costs a failed join attempt; the joiner reads the key again each round.
 * Every call is bounded by `etcdCallTimeoutMs`.
 */
import { Etcd3 } from 'etcd3';
import { timedOut, withinMs } from '../common/within.js';
import type { NodeLogger } from '../node/logger.js';
import type { Scheduler } from '../node/scheduler.js';
import { etcdLeaderKey, type EtcdDiscoveryConfig } from './discovery-config.js';

/** What the key holds: rqlite's field names. */
export interface LeaderRecord {
  readonly id: string;
  readonly apiUrl: string;
  readonly raftAddress: string;
}

/** One etcd call (its retries over the endpoints included) gives up after this long. */
const etcdCallTimeoutMs = 5_000;
/** rqlite's report interval: the leader rewrites the key this often while it leads. */
const leaderReportIntervalMs = 10_000;
const recordBytesMax = 4096;

function encodeRecord(record: LeaderRecord): string {
  return JSON.stringify({ id: record.id, api_addr: record.apiUrl, addr: record.raftAddress });
}

/** The key's value, or undefined if it holds no usable record (a node then treats it as set but unusable). */
export function decodeLeaderRecord(value: string): LeaderRecord | undefined {
  if (value.length > recordBytesMax) return undefined;
  try {
    const parsed = JSON.parse(value) as { id?: unknown; api_addr?: unknown; addr?: unknown } | null;
    if (typeof parsed?.addr !== 'string' || parsed.addr === '') return undefined;
    return { id: typeof parsed.id === 'string' ? parsed.id : '', apiUrl: typeof parsed.api_addr === 'string' ? parsed.api_addr : '', raftAddress: parsed.addr };
  } catch {
    return undefined;
  }
}

async function withTimeout<Value>(what: string, operation: Promise<Value>, timeoutMs: number): Promise<Value> {
  const answer = await withinMs(operation, timeoutMs);
  if (answer === timedOut) throw new Error(`etcd ${what}: no answer within ${timeoutMs}ms`);
  return answer;
}

export class EtcdDiscovery {
  readonly key: string;
  readonly endpoints: readonly string[];
  readonly #client: Etcd3;

  constructor(discoKey: string, config: EtcdDiscoveryConfig) {
    this.key = etcdLeaderKey(discoKey);
    this.endpoints = config.endpoints;
    this.#client = new Etcd3({
      hosts: [...config.endpoints],
      dialTimeout: config.dialTimeoutMs,
      ...(config.username === undefined ? {} : { auth: { username: config.username, password: config.password ?? '' } }),
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + etcdCallTimeoutMs }),
    });
  }

  /** The recorded leader; undefined if the key is absent. A value that is not a record reads as absent too, but cannot be claimed (see claim). */
  async leader(): Promise<LeaderRecord | undefined> {
    const value = await withTimeout('get', this.#client.get(this.key).string(), etcdCallTimeoutMs);
    return value === null ? undefined : decodeLeaderRecord(value);
  }

  /** Creates the key with this node's record if it does not exist; true if this node won. */
  async claim(record: LeaderRecord): Promise<boolean> {
    const transaction = this.#client
      .if(this.key, 'Version', '==', 0)
      .then(this.#client.put(this.key).value(encodeRecord(record)))
      .commit();
    return (await withTimeout('claim', transaction, etcdCallTimeoutMs)).succeeded;
  }

  /** Records this node as the leader (it leads now). */
  async record(record: LeaderRecord): Promise<void> {
    await withTimeout('put', this.#client.put(this.key).value(encodeRecord(record)).exec(), etcdCallTimeoutMs);
  }

  close(): void {
    this.#client.close();
  }
}

interface ReporterParts {
  readonly etcd: EtcdDiscovery;
  readonly self: LeaderRecord;
  readonly isLeader: () => boolean;
  readonly subscribeLeaderChanges: (listener: () => void) => () => void;
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
}

/**
 * While this node leads, keeps its record in etcd: at once when it becomes leader, then
 * every leaderReportIntervalMs (rqlite's StartReporting). One write at a time.
 */
export class EtcdLeaderReporter {
  readonly #parts: ReporterParts;
  #writing = false;
  #stopped = false;
  #unsubscribe: () => void = () => undefined;
  #timer: { cancel(): void } | undefined;

  constructor(parts: ReporterParts) {
    this.#parts = parts;
  }

  start(): void {
    this.#unsubscribe = this.#parts.subscribeLeaderChanges(() => void this.#report('leader-change'));
    this.#timer = this.#parts.scheduler.setInterval(() => void this.#report('interval'), leaderReportIntervalMs);
    void this.#report('start');
  }

  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
    this.#timer?.cancel();
  }

  async #report(reason: string): Promise<void> {
    const { etcd, self, isLeader, logger } = this.#parts;
    if (this.#stopped || this.#writing || !isLeader()) return;
    this.#writing = true;
    try {
      await etcd.record(self);
      const level = reason === 'interval' ? 'debug' : 'info';
      logger[level]({ event: 'disco-leader-recorded', key: etcd.key, reason }, 'recorded this node as the leader in etcd');
    } catch (error) {
      logger.warn({ event: 'disco-leader-record-failed', key: etcd.key, error: String(error) }, 'could not record this node as the leader in etcd');
    } finally {
      this.#writing = false;
    }
  }
}
