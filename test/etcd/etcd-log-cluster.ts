/**
 * A quorumlite cluster on the etcd log, for a test file: a fresh etcd cluster, a client on
 * it, and three nodes started with `--consensus etcd` under the file's key prefix (their
 * logs in the error if they do not form). `close()` tears all three down, after a SIGCONT
 * to every node, so that one a test left paused exits too; a failed start closes what it
 * started before it throws.
 */
import { Etcd3 } from 'etcd3';
import { etcdKeys } from '../../src/node/etcd-keys.js';
import { type ClusterOptions, TestCluster } from '../cluster/harness.js';
import { EtcdCluster } from './etcd-cluster.js';

export interface EtcdLogClusterOptions extends Pick<ClusterOptions, 'flags' | 'firstHostIndex'> {
  /** The etcd key prefix, one per test file. */
  readonly prefix: string;
  /** etcd members. Default 1. */
  readonly etcdSize?: number;
}

export class EtcdLogCluster {
  private constructor(
    readonly etcd: EtcdCluster,
    readonly client: Etcd3,
    readonly cluster: TestCluster,
    readonly prefix: string,
  ) {}

  static async start(options: EtcdLogClusterOptions): Promise<EtcdLogCluster> {
    const { prefix, flags, firstHostIndex } = options;
    const etcd = await EtcdCluster.start({ size: options.etcdSize ?? 1 });
    const client = new Etcd3({ hosts: etcd.endpoints });
    let cluster: TestCluster | undefined;
    try {
      const created = await TestCluster.create({ size: 3, formation: 'etcd', etcd: { endpoints: etcd.endpoints, prefix }, flags, firstHostIndex });
      cluster = created;
      await created.start().catch((error: unknown) => {
        throw new Error(`${String(error)}\n${created.logs()}`);
      });
      return new EtcdLogCluster(etcd, client, created, prefix);
    } catch (error) {
      await cluster?.close();
      client.close();
      await etcd.close();
      throw error;
    }
  }

  /** The first index still in etcd's log (its `first` key; 1 before any compaction). */
  async firstIndex(): Promise<number> {
    return Number((await this.client.get(etcdKeys(this.prefix).first).string()) ?? '1');
  }

  async close(): Promise<void> {
    for (const node of this.cluster.nodes) if (node.process?.pid !== undefined && node.running) process.kill(node.process.pid, 'SIGCONT');
    await this.cluster.close();
    this.client.close();
    await this.etcd.close();
  }
}
