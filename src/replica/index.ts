/**
 * quorumlite/replica — the client with an embedded replica (docs/REPLICA.md): the same
 * API as quorumlite/client, plus a local SQLite file kept in sync with the cluster that
 * serves `query()` in this process, with read-your-writes. Node only (SQLite), and the
 * process must run with TZ=UTC, as every node does.
 *
 * ```ts
 * import { createClient } from 'quorumlite/replica';
 * const db = createClient({ nodes: ['http://127.0.0.1:4001'], replica: { path: 'local.db' } });
 * await db.execute('INSERT INTO people (name) VALUES (?)', …); // forwarded to the leader
 * await db.query('SELECT * FROM people');                      // read here, sees the insert
 * ```
 */
import { Client } from '../client/client.js';
import type { ClientConfig } from '../client/options.js';
import { pickTransport } from '../client/transport-choice.js';
import { EmbeddedReplica } from './embedded-replica.js';
import { resolveReplicaOptions, type ReplicaOptions } from './options.js';

export interface ReplicaClientConfig extends ClientConfig {
  readonly replica: ReplicaOptions;
}

/** A client whose reads come from its embedded replica; `replica` tells how far it is. */
export class ReplicaClient extends Client {
  readonly replica: EmbeddedReplica;

  constructor(config: ReplicaClientConfig) {
    const { replica: replicaOptions, ...clientConfig } = config;
    const options = resolveReplicaOptions(replicaOptions, config.tls, config.database);
    const modes = { bigint: config.bigint ?? 'auto', rowMode: config.rowMode ?? 'object', sqlErrors: config.sqlErrors ?? 'throw' } as const;
    let replica: EmbeddedReplica | undefined;
    super(clientConfig, pickTransport(clientConfig), (cluster) => {
      replica = new EmbeddedReplica(options, cluster, modes);
      return replica;
    });
    if (replica === undefined) throw new Error('assertion: the client made its local reads');
    this.replica = replica;
  }
}

export function createClient(config: ReplicaClientConfig): ReplicaClient {
  return new ReplicaClient(config);
}

export * from '../client/index.js';
export type { EmbeddedReplica, ReplicaProgress } from './embedded-replica.js';
export type { ReplicaOptions } from './options.js';
