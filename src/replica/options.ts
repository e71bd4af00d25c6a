/** The `replica` option of the replica's createClient (docs/REPLICA.md), its defaults and bounds. */
import { QuorumliteError } from '../client/errors.js';
import type { ClientTlsOptions } from '../client/options.js';

export interface ReplicaOptions {
  /** The local SQLite file (created if missing; `-wal` and `.internal` files beside it). */
  readonly path: string;
  /** Must equal the cluster's `-fk` (a node refuses to feed a replica that differs). Default false, as the nodes'. */
  readonly foreignKeys?: boolean;
  /** How long a local read waits for the client's last write to arrive before reading from the cluster. Default 5 s. */
  readonly readYourWritesTimeoutMs?: number;
  /** A stream that brings nothing (not even a heartbeat, every second) for this long is dropped for another node. Default 5 s. */
  readonly silenceMsMax?: number;
  /** Backoff between attempts after failures: full jitter, doubling from the first to the second. Defaults 50 ms, 1 s. */
  readonly reconnectDelayMsMin?: number;
  readonly reconnectDelayMsMax?: number;
  /** The largest full copy (`/db/copy`) the replica downloads. Default 16 GiB. */
  readonly copyBytesMax?: number;
}

export interface ResolvedReplicaOptions {
  readonly path: string;
  readonly foreignKeys: boolean;
  readonly readYourWritesTimeoutMs: number;
  readonly silenceMsMax: number;
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  readonly copyBytesMax: number;
  readonly tls: ClientTlsOptions | undefined;
  /** The database followed (the client's `database`); undefined for the default one. */
  readonly database: string | undefined;
}

export function resolveReplicaOptions(options: ReplicaOptions, tls: ClientTlsOptions | undefined, database: string | undefined): ResolvedReplicaOptions {
  if (options === null || typeof options !== 'object' || typeof options.path !== 'string' || options.path === '') {
    throw new QuorumliteError('INVALID_ARGUMENT', 'replica.path must name the local SQLite file');
  }
  return {
    path: options.path,
    foreignKeys: options.foreignKeys ?? false,
    readYourWritesTimeoutMs: positive(options.readYourWritesTimeoutMs ?? 5000, 'readYourWritesTimeoutMs'),
    silenceMsMax: positive(options.silenceMsMax ?? 5000, 'silenceMsMax'),
    reconnectDelayMsMin: positive(options.reconnectDelayMsMin ?? 50, 'reconnectDelayMsMin'),
    reconnectDelayMsMax: positive(options.reconnectDelayMsMax ?? 1000, 'reconnectDelayMsMax'),
    copyBytesMax: positive(options.copyBytesMax ?? 16 * 1024 ** 3, 'copyBytesMax'),
    tls,
    database: database === 'main' ? undefined : database,
  };
}

function positive(value: number, name: string): number {
  if (!(Number.isSafeInteger(value) && value >= 1)) throw new QuorumliteError('INVALID_ARGUMENT', `replica.${name} must be an integer ≥ 1; got ${value}`);
  return value;
}
