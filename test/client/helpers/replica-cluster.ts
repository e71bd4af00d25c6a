/**
 * The setup replica.test.ts and replica-database.test.ts share: a real cluster (built CLI,
 * real processes, formed by joining) that snapshots every 20 entries, a temp directory for
 * the replica's file, the replica client opened on it (one at a time: `client` is the one
 * open), a transport that counts the reads reaching a node, and whether a node's log is
 * compacted past index 1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UndiciTransport, type HttpTransport } from '../../../src/client/index.js';
import { createClient, type ReplicaClient } from '../../../src/replica/index.js';
import { TestCluster, type TestNode } from '../../cluster/harness.js';

export interface ReplicaClusterOptions {
  /** Nodes in the cluster. */
  readonly size: number;
  /** --raft-trailing-logs: entries each node keeps past a snapshot. */
  readonly trailingLogCount: number;
  /** The temp directory's name starts with this. */
  readonly directoryPrefix: string;
  /** The replica's file, in the temp directory. */
  readonly fileName: string;
  /** The database the replica holds; the default one without. */
  readonly database?: string;
}

export class ReplicaCluster {
  /** The replica client last opened, until a test closes it and clears this. */
  client: ReplicaClient | undefined;

  private constructor(
    readonly cluster: TestCluster,
    readonly directory: string,
    readonly replicaPath: string,
    readonly database: string | undefined,
  ) {}

  static async start(options: ReplicaClusterOptions): Promise<ReplicaCluster> {
    const directory = mkdtempSync(join(tmpdir(), options.directoryPrefix));
    let cluster: TestCluster | undefined;
    try {
      cluster = await TestCluster.create({
        size: options.size,
        formation: 'join',
        flags: ['--log-level', 'warn', '--raft-snap', '20', '--raft-snap-int', '200ms', '--raft-trailing-logs', String(options.trailingLogCount)],
      });
      await cluster.start();
      return new ReplicaCluster(cluster, directory, join(directory, options.fileName), options.database);
    } catch (error) {
      await cluster?.close();
      rmSync(directory, { recursive: true, force: true });
      throw error;
    }
  }

  /** Opens the replica client on the file, through the running nodes (and `transport`, if given); it becomes `client`. */
  openReplica(transport?: HttpTransport): ReplicaClient {
    this.client = createClient({
      nodes: this.cluster.running().map((node) => node.url),
      ...(this.database === undefined ? {} : { database: this.database }),
      deadlineMs: 60_000,
      ...(transport === undefined ? {} : { transport }),
      replica: { path: this.replicaPath, silenceMsMax: 3000 },
    });
    return this.client;
  }

  /** Whether `node` answers /db/stream?from=0 (of the replica's database) with 410 LOG_COMPACTED (the stream is cancelled if it opens). */
  async compacted(node: TestNode): Promise<boolean> {
    const controller = new AbortController();
    const database = this.database === undefined ? '' : `&db=${this.database}`;
    const response = await fetch(`${node.url}/db/stream?from=0${database}`, { signal: controller.signal });
    const code = response.headers.get('x-quorumlite-error');
    controller.abort();
    return response.status === 410 && code === 'LOG_COMPACTED';
  }

  /** Closes the open client, the cluster, and removes the directory. */
  async close(): Promise<void> {
    await this.client?.close();
    await this.cluster.close();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/** The client's HTTP, counting the reads that reach a node (a local read sends none). */
export function countingTransport(): { transport: HttpTransport; remoteReads: () => number } {
  const inner = new UndiciTransport();
  let reads = 0;
  return {
    transport: {
      send: (request) => {
        if (request.url.includes('/db/query')) reads += 1;
        return inner.send(request);
      },
      close: () => inner.close(),
    },
    remoteReads: () => reads,
  };
}
