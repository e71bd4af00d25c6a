/**
 * A real etcd cluster for tests: N members of Debian's `etcd` (package etcd-server, which
 * `.ci/run` installs), member i on 127.0.2.i with free ports and its own temp data dir, so
 * a test can partition etcd members by address apart from quorumlite nodes (127.0.0.N).
 * Members are killed, paused and restarted by PID; `close()` kills every member this
 * cluster started and removes its directory, also after a failed start. With `tls`, the
 * client URLs are https:// and demand a client certificate the CA signed. Members run
 * with `--pre-vote`, as etcd 3.5 does by default and as the docs ask of etcd 3.4.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withinMs } from '../../src/common/within.js';
import { freePort, http, waitFor, waitTimeoutMsDefault, type ClientTls } from '../cluster/harness.js';
import { killOnExit, reportOnSignal } from '../cluster/process-exit.js';

const executableCandidates = ['/usr/bin/etcd', '/usr/local/bin/etcd'];
/** Bound on the wait for a member to exit after SIGKILL. */
const exitWaitMs = 10_000;

/** The etcd binary, or a clear error naming the package that provides it. */
export function etcdExecutable(): string {
  const found = executableCandidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(`etcd not found at ${executableCandidates.join(' or ')}: install Debian's etcd-server package (.ci/run does)`);
  }
  return found;
}

export interface EtcdMemberSpec {
  readonly name: string;
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

export interface EtcdClusterOptions {
  /** Members: 1 or 3 (or 5). Default 3. */
  readonly size?: number;
  /** Third octet of the members' 127.0.X.i addresses. Default 2. */
  readonly subnet?: number;
  /** TLS on the client URLs (etcd's --cert-file, --key-file, --trusted-ca-file, --client-cert-auth); plain without. */
  readonly tls?: EtcdTlsSetting;
  /**
   * Member i runs with group id memberGroupIds[i] (needs root): iptables' owner match then
   * tells its connections apart, which addresses cannot, since etcd dials its peers from
   * 127.0.0.1 (test/jepsen/etcd-packet-filter.ts). Default: the test's own group.
   */
  readonly memberGroupIds?: readonly number[];
}

export interface EtcdTlsSetting {
  readonly caPath: string;
  /** The members' certificate: it must name every member's address. */
  readonly certPath: string;
  readonly keyPath: string;
  /** What the health checks trust and present. */
  readonly client: ClientTls;
}

export class EtcdCluster {
  readonly directory = mkdtempSync(join(tmpdir(), 'quorumlite-etcd-'));
  readonly members: EtcdMemberSpec[] = [];
  readonly #children = new Map<number, ChildProcess>();
  readonly #executable = etcdExecutable();
  readonly #token = `test-${process.pid}-${Date.now()}`;
  #tls: EtcdTlsSetting | undefined;
  #memberGroupIds: readonly number[] = [];
  readonly #stopReporting = reportOnSignal(() => this.members.map((_, index) => `--- etcd member ${index + 1} ---\n${this.logTail(index, 10)}`).join('\n'));

  /** Starts every member and waits until each answers /health. */
  static async start(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    const cluster = new EtcdCluster();
    cluster.#tls = options.tls;
    cluster.#memberGroupIds = options.memberGroupIds ?? [];
    try {
      const size = options.size ?? 3;
      const subnet = options.subnet ?? 2;
      for (let index = 0; index < size; index += 1) {
        const host = `127.0.${subnet}.${index + 1}`;
        cluster.members.push({ name: `etcd${index + 1}`, host, clientPort: await freePort(host), peerPort: await freePort(host) });
      }
      for (let index = 0; index < size; index += 1) cluster.#spawn(index, 'new');
      for (let index = 0; index < size; index += 1) await cluster.waitHealthy(index);
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /** Client URLs of every member, for `--etcd-endpoints` or a disco config. */
  get endpoints(): string[] {
    return this.members.map((member) => this.endpoint(this.members.indexOf(member)));
  }

  endpoint(index: number): string {
    const member = this.#member(index);
    return `${this.#tls === undefined ? 'http' : 'https'}://${member.host}:${member.clientPort}`;
  }

  running(index: number): boolean {
    const child = this.#children.get(index);
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** SIGKILL, then waits for the exit. */
  async kill(index: number): Promise<void> {
    const child = this.#children.get(index);
    if (child === undefined || !this.running(index)) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    await withinMs(exited, exitWaitMs);
    this.#children.delete(index);
  }

  pause(index: number): void {
    const pid = this.#children.get(index)?.pid;
    if (pid !== undefined) process.kill(pid, 'SIGSTOP');
  }

  resume(index: number): void {
    const pid = this.#children.get(index)?.pid;
    if (pid !== undefined) process.kill(pid, 'SIGCONT');
  }

  /** Starts a killed member again on its data dir, and waits until it answers /health. */
  async restart(index: number): Promise<void> {
    if (this.running(index)) throw new Error(`etcd member ${index + 1} is running`);
    this.#spawn(index, 'existing');
    await this.waitHealthy(index);
  }

  async waitHealthy(index: number, timeoutMs = waitTimeoutMsDefault): Promise<void> {
    await waitFor(
      `etcd member ${index + 1} healthy`,
      async () => {
        if (!this.running(index)) throw new Error(`etcd member ${index + 1} exited: ${this.logTail(index)}`);
        const answer = await http(`${this.endpoint(index)}/health`, this.#tls === undefined ? {} : { tls: this.#tls.client });
        const body = answer.body as { health?: unknown };
        return answer.status === 200 && body.health === 'true' ? true : undefined;
      },
      timeoutMs,
    );
  }

  /** The last lines of a member's log, for failure messages. */
  logTail(index: number, lineCount = 20): string {
    const path = join(this.directory, `${this.#member(index).name}.log`);
    if (!existsSync(path)) return '(no log)';
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lineCount).join('\n');
  }

  /** A member's last elections and leader changes (etcd's raft log lines, to the second), for a fault test's diagnostics. */
  raftEvents(index: number, lineCount = 8): string[] {
    return this.logTail(index, 2_000)
      .split('\n')
      .filter((line) => /became (leader|candidate|follower)|elected leader|lost leader|starting a new election|timed out/.test(line))
      .slice(-lineCount);
  }

  async close(): Promise<void> {
    this.#stopReporting();
    for (const index of [...this.#children.keys()]) {
      this.resume(index);
      await this.kill(index);
    }
    rmSync(this.directory, { recursive: true, force: true });
  }

  #member(index: number): EtcdMemberSpec {
    const member = this.members[index];
    if (member === undefined) throw new Error(`no etcd member ${index + 1}`);
    return member;
  }

  #spawn(index: number, clusterState: 'new' | 'existing'): void {
    const member = this.#member(index);
    const initialCluster = this.members.map((other) => `${other.name}=http://${other.host}:${other.peerPort}`).join(',');
    const clientUrl = this.endpoint(index);
    const tls = this.#tls;
    const tlsFlags = tls === undefined ? [] : ['--cert-file', tls.certPath, '--key-file', tls.keyPath, '--trusted-ca-file', tls.caPath, '--client-cert-auth'];
    const peerUrl = `http://${member.host}:${member.peerPort}`;
    const log = openSync(join(this.directory, `${member.name}.log`), 'a');
    const groupId = this.#memberGroupIds[index];
    try {
      const child = spawn(
        this.#executable,
        [
          ...['--name', member.name, '--data-dir', join(this.directory, member.name)],
          ...['--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl],
          ...['--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl],
          ...['--initial-cluster', initialCluster, '--initial-cluster-state', clusterState, '--initial-cluster-token', this.#token],
          // As docs/ARCHITECTURE.md tells operators of etcd 3.4 to run it (3.5 does by default):
          // without pre-vote a member starved of CPU or cut off deposes a healthy leader (J11).
          '--pre-vote',
          ...tlsFlags,
        ],
        { stdio: ['ignore', log, log], ...(groupId === undefined ? {} : { gid: groupId }) },
      );
      child.on('error', () => undefined);
      // Last resort if the test process exits without close(): no member outlives it.
      killOnExit(child);
      this.#children.set(index, child);
    } finally {
      closeSync(log);
    }
  }
}
