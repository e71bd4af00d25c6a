/**
 * quorumlite on the etcd log (`serve --consensus etcd`): three quorumlite nodes on
 * 127.0.0.1/.2/.3 keeping their log in a 3-member etcd cluster (etcd.ts's, on 127.0.0.1),
 * measured beside quorumlite on its embedded Raft and etcd alone. Its processes (pids())
 * are the quorumlite nodes and then the etcd members: the memory columns count what the
 * deployment runs.
 */
import type { EtcdSystem } from './etcd.js';
import { QuorumliteSystem } from './quorumlite.js';

export class QuorumliteOnEtcd extends QuorumliteSystem {
  readonly #etcd: EtcdSystem;

  constructor(etcd: EtcdSystem, profileDirectory: string | undefined) {
    super({ profileDirectory, etcdEndpoints: () => etcd.clientUrls() });
    this.#etcd = etcd;
  }

  override async start(): Promise<void> {
    await this.#etcd.start();
    await super.start();
  }

  override async stop(): Promise<void> {
    await super.stop();
    await this.#etcd.stop();
  }

  override pids(): ReadonlyArray<number | undefined> {
    return [...super.pids(), ...this.#etcd.pids()];
  }

  override logs(): string {
    return `${super.logs()}\n${this.#etcd.logs()}`;
  }
}
