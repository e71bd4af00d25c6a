/**
 * The etcd client a node of `--consensus etcd` talks to etcd with: every endpoint in one
 * pool, etcd's require-leader metadata on every call and stream, a deadline on every call
 * that is not a stream, per-member circuit breakers that never make a call wait on
 * another (etcd-host-breaker.ts), and retries on another member. Together they keep a
 * member that hangs — cut off from the others, SIGSTOPped, starved — from costing more
 * than one short attempt per call (FINDINGS J7, J8, J10, J11).
 */
import { ExponentialBackoff, handleWhen, isBrokenCircuitError, retry } from 'cockatiel';
import { Etcd3, GRPCDeadlineExceededError, isRecoverableError, type CallContext } from 'etcd3';
import { smallFetchEntryCountMax } from '../node/etcd-apply.js';
import { silentLogger, type NodeLogger } from '../node/logger.js';
import { EtcdHostBreaker, EtcdHostGroup, type BreakerChange } from './etcd-host-breaker.js';

/**
 * etcd calls that are not streams give up after this long on one member; the client's
 * pool then retries on another. Short, because a member cut off from the others hangs the
 * calls it accepted until it notices it has no leader (an election timeout, 1-2 s by
 * etcd's default) and after that refuses them (require-leader, below).
 */
export const etcdCallTimeoutMs = 2_000;
/**
 * Calls that may move many keys' values (a catch-up page of entries, compaction's delete)
 * keep a longer deadline: slow is not hung for them. A page of keys alone (the log's end
 * read forward, etcd-reads.ts) is small, and every read barrier and every new leader's
 * preparation waits on it: it keeps the short deadline (J10).
 */
export const etcdBulkCallTimeoutMs = 5_000;

/** How long the client skips an etcd member that failed three calls in a row. */
const etcdHostBreakMs = 1_000;
/** How long connecting to etcd may take before the first call fails. */
const etcdDialTimeoutMs = 5_000;

export type Etcd3Credentials = NonNullable<ConstructorParameters<typeof Etcd3>[0]>['credentials'];

interface EtcdClientOptions {
  /** Where the members' breakers say when a member starts being skipped and when it answers again. */
  readonly logger?: NodeLogger;
  /** The breakers' monotonic clock in milliseconds (tests pass their own). */
  readonly now?: () => number;
}

/**
 * Every call and stream carries etcd's require-leader metadata (Go's
 * clientv3.WithRequireLeader): a member that has no leader — cut off from the others —
 * refuses it with `etcdserver: no leader` (UNAVAILABLE) instead of hanging, so the pool
 * retries on another member and the member's circuit breaker opens; watches on it are
 * ended after a few election timeouts and reopened elsewhere (FINDINGS J7).
 */
export function createEtcdClient(endpoints: readonly string[], credentials: Etcd3Credentials | undefined, options: EtcdClientOptions = {}): Etcd3 {
  const logger = options.logger ?? silentLogger;
  const group = new EtcdHostGroup();
  return new Etcd3({
    hosts: [...endpoints],
    ...(credentials === undefined ? {} : { credentials }),
    dialTimeout: etcdDialTimeoutMs,
    faultHandling: {
      // A member that fails three calls in a row is skipped for a second (etcd3's default: five). A member without a
      // leader refuses at once, so it costs little to try it again soon; and while etcd elects a leader every member
      // refuses, and a long break would outlast the election. One call that ran to its deadline is enough while another
      // member is closed (J11). No call waits on another's trial (etcd-host-breaker.ts).
      host: (host) =>
        new EtcdHostBreaker({
          failureCountMax: 3,
          breakMs: etcdHostBreakMs,
          isFailure: (error) => error instanceof Error && isRecoverableError(error),
          isHang: (error) => error instanceof GRPCDeadlineExceededError,
          group,
          ...(options.now === undefined ? {} : { now: options.now }),
          onChange: (change) => logBreakerChange(logger, host, change),
        }),
      // Each retry goes to another member; the pauses let an election in etcd (1-2 s) finish within the attempts. A
      // call that found every member skipped is retried too: a skip lasts etcdHostBreakMs, less than the pauses add up
      // to, so a later attempt tries a member again instead of the call failing at once (J11).
      global: retry(
        handleWhen((error) => isRecoverableError(error) || isBrokenCircuitError(error)),
        { maxAttempts: 5, backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 800 }) },
      ),
    },
    defaultCallOptions: (context) => ({
      interceptors: [requireLeader],
      ...(context.isStream ? {} : { deadline: Date.now() + etcdCallDeadlineMs(context) }),
    }),
  });
}

function logBreakerChange(logger: NodeLogger, member: string, change: BreakerChange): void {
  if (change.skipped)
    logger.warn({ event: 'etcd-member-skipped', member, reason: change.reason, skipMs: etcdHostBreakMs }, 'etcd member skipped: calls go to the others');
  else logger.info({ event: 'etcd-member-answers', member }, 'etcd member answers again');
}

/**
 * The deadline of one attempt of a call that is not a stream: the bulk one only for calls
 * that may move many keys' values. A small page of entries (etcd-apply.ts: the few a
 * follower's watch has not delivered yet, after a read barrier) keeps the short one.
 */
export function etcdCallDeadlineMs(context: CallContext): number {
  if (context.method === 'range') {
    const { limit, keys_only: keysOnly, count_only: countOnly } = context.params;
    return Number(limit ?? 0) > smallFetchEntryCountMax && keysOnly !== true && countOnly !== true ? etcdBulkCallTimeoutMs : etcdCallTimeoutMs;
  }
  if (context.method === 'deleteRange') return etcdBulkCallTimeoutMs;
  if (context.method === 'txn' && context.params.success?.some((operation) => operation.request_delete_range !== undefined)) return etcdBulkCallTimeoutMs;
  return etcdCallTimeoutMs;
}

type EtcdCallOptions = Exclude<NonNullable<ConstructorParameters<typeof Etcd3>[0]>['defaultCallOptions'], ((...args: never) => unknown) | undefined>;
type EtcdCallInterceptor = NonNullable<EtcdCallOptions['interceptors']>[number];

/** Adds `hasleader: true` to the call's metadata (etcd's rpctypes.MetadataRequireLeaderKey). */
const requireLeader: EtcdCallInterceptor = (options, nextCall) => {
  const call = nextCall(options);
  const start = call.start.bind(call);
  call.start = (metadata, listener) => {
    metadata.set('hasleader', 'true');
    start(metadata, listener);
  };
  // grpc-js's next call is an InterceptingCall; its types only promise the interface.
  return call as ReturnType<EtcdCallInterceptor>;
};
