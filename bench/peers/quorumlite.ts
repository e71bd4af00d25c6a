/**
 * quorumlite as a cluster of real processes (`node dist/cli/main.js serve`), 3 nodes
 * unless told otherwise, on 127.0.0.1/.2/.3…, node 1 bootstrapping and the others joining
 * it. Every commit is fsynced on a quorum before it is acknowledged (the storage's
 * group-committed fsync).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpOrigin, parseJson } from '../lib/http.js';
import { ReplyTally } from '../lib/measure.js';
import { freePort } from '../lib/ports.js';
import { ManagedProcess } from '../lib/processes.js';
import { waitFor } from '../lib/waiting.js';
import { createClient } from '../../src/client/index.js';
import { clusterSize, clusterWaitMs, type ReadMode, type ReplicatedSystem, type SystemClient } from './system.js';

export const repositoryRoot = new URL('../../', import.meta.url).pathname;
export const quorumliteCliPath = join(repositoryRoot, 'dist', 'cli', 'main.js');

/**
 * Copies the built package (dist/ and package.json, node_modules linked) into `directory`
 * and returns the copy's CLI path, so every node of one run, restarts included, runs the
 * same build even if someone rebuilds dist/ meanwhile.
 */
export function snapshotBuild(directory: string): string {
  const buildDirectory = join(directory, 'build');
  mkdirSync(buildDirectory, { recursive: true });
  cpSync(join(repositoryRoot, 'dist'), join(buildDirectory, 'dist'), { recursive: true });
  cpSync(join(repositoryRoot, 'package.json'), join(buildDirectory, 'package.json'));
  symlinkSync(join(repositoryRoot, 'node_modules'), join(buildDirectory, 'node_modules'), 'dir');
  return join(buildDirectory, 'dist', 'cli', 'main.js');
}
const insertSql = 'INSERT OR REPLACE INTO kv(k, v) VALUES(?, ?)';
const selectSql = 'SELECT v FROM kv WHERE k = ?';

interface QuorumliteNode {
  readonly host: string;
  readonly httpPort: number;
  readonly raftPort: number;
  readonly process: ManagedProcess;
  readonly http: HttpOrigin;
}

interface ExecuteAnswer {
  results?: { error?: string; values?: unknown[][] }[];
  error?: string;
}

function acknowledged(status: number, text: string, rowsWanted?: number): boolean {
  if (status !== 200) return false;
  const body = parseJson(text) as ExecuteAnswer | undefined;
  if (body === undefined || body.error !== undefined || body.results === undefined || body.results.length === 0) return false;
  if (!body.results.every((result) => result.error === undefined)) return false;
  return rowsWanted === undefined || (body.results[0]?.values?.length ?? 0) === rowsWanted;
}

export interface QuorumliteSystemOptions {
  /** When set, every node runs with `--cpu-prof` into this directory. */
  readonly profileDirectory?: string | undefined;
  /** Node flags every node runs with (before the script), e.g. `--perf-basic-prof` for bench/on-cpu.ts. */
  readonly nodeFlags?: readonly string[];
  /** Voters in the cluster (default clusterSize); node n listens on 127.0.0.n. */
  readonly nodeCount?: number;
  /** `--consensus etcd` on these client URLs (every node starts at once), instead of the embedded Raft (node 1 bootstraps, the others join). */
  readonly etcdEndpoints?: () => readonly string[];
}

/** Loopback hosts 127.0.0.1 to 127.0.0.nodeCountMax: the bound on a cluster here. */
export const nodeCountMax = 9;

export class QuorumliteSystem implements ReplicatedSystem {
  readonly name: 'quorumlite' | 'quorumlite-etcd';
  readonly durability: string;
  readonly nodeCount: number;
  readonly rootDirectory: string;
  readonly #nodes: QuorumliteNode[] = [];
  #leader = 0;
  readonly #replies = new ReplyTally();
  readonly failedReplies = (): ReturnType<ReplyTally['entries']> => this.#replies.entries();
  #cliPath = quorumliteCliPath;
  /** Node flags that go before the script (`--cpu-prof …`), when profiling. */
  readonly #nodeOptions: readonly string[];
  readonly #etcdEndpoints: (() => readonly string[]) | undefined;

  constructor(options: QuorumliteSystemOptions = {}) {
    this.#etcdEndpoints = options.etcdEndpoints;
    this.name = options.etcdEndpoints === undefined ? 'quorumlite' : 'quorumlite-etcd';
    this.durability =
      options.etcdEndpoints === undefined ? 'fsync per commit on a quorum (group commit)' : 'the log in etcd: fsync per commit on an etcd quorum';
    const nodeCount = options.nodeCount ?? clusterSize;
    if (!(Number.isInteger(nodeCount) && nodeCount >= 1 && nodeCount <= nodeCountMax)) {
      throw new RangeError(`nodeCount ${nodeCount} must be a whole number from 1 to ${nodeCountMax}`);
    }
    this.nodeCount = nodeCount;
    this.rootDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-'));
    const profileDirectory = options.profileDirectory;
    this.#nodeOptions = [...(options.nodeFlags ?? []), ...(profileDirectory === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDirectory])];
  }

  readonly readModes: readonly ReadMode[] = [
    { kind: 'fast', label: 'level=none', read: (key) => this.#read(this.#leader, key, 'none'), readAt: (index, key) => this.#read(index, key, 'none') },
    {
      kind: 'linearizable',
      label: 'level=linearizable',
      read: (key) => this.#read(this.#leader, key, 'linearizable'),
      readAt: (index, key) => this.#read(index, key, 'linearizable'),
    },
  ];

  readonly writeBatch = async (rows: ReadonlyArray<readonly [string, string]>): Promise<boolean> => {
    const answer = await this.#leaderNode().http.postJson(
      '/db/execute',
      rows.map(([key, value]) => [insertSql, key, value]),
    );
    return this.#tallied(answer.status, answer.text);
  };

  async start(): Promise<void> {
    if (!existsSync(quorumliteCliPath)) throw new Error(`${quorumliteCliPath} is missing: run \`npm run build\` first`);
    this.#cliPath = snapshotBuild(this.rootDirectory);
    for (let index = 0; index < this.nodeCount; index += 1) {
      const host = `127.0.0.${index + 1}`;
      const httpPort = await freePort(host);
      const raftPort = await freePort(host);
      const process = new ManagedProcess(globalThis.process.execPath, [], join(this.rootDirectory, `node${index + 1}.log`));
      this.#nodes.push({ host, httpPort, raftPort, process, http: new HttpOrigin(`http://${host}:${httpPort}`) });
    }
    if (this.#etcdEndpoints === undefined) {
      this.#startNode(0);
      await this.#waitForLeader([0]);
    }
    for (let index = this.#etcdEndpoints === undefined ? 1 : 0; index < this.nodeCount; index += 1) this.#startNode(index);
    await this.#waitForWholeCluster();
  }

  #arguments(index: number): string[] {
    const node = this.#node(index);
    const others = this.#nodes.filter((other) => other !== node).map((other) => `${other.host}:${other.raftPort}`);
    return [
      ...this.#nodeOptions,
      this.#cliPath,
      'serve',
      '--data-dir',
      join(this.rootDirectory, `node${index + 1}`),
      '--http-addr',
      `${node.host}:${node.httpPort}`,
      '--raft-addr',
      `${node.host}:${node.raftPort}`,
      '--log-level',
      'warn',
      ...this.#formationArguments(index, others),
    ];
  }

  #formationArguments(index: number, others: readonly string[]): string[] {
    const endpoints = this.#etcdEndpoints?.();
    if (endpoints !== undefined) return ['--consensus', 'etcd', '--etcd-endpoints', endpoints.join(','), '--etcd-prefix', '/quorumlite-bench'];
    return index === 0 ? [] : ['--join', others.join(',')];
  }

  #startNode(index: number): void {
    this.#node(index).process.start(this.#arguments(index));
  }

  #node(index: number): QuorumliteNode {
    const node = this.#nodes[index];
    if (node === undefined) throw new Error(`no quorumlite node ${index}`);
    return node;
  }

  #leaderNode(): QuorumliteNode {
    return this.#node(this.#leader);
  }

  async #status(index: number): Promise<{ state: string; leaderId: string }> {
    const answer = await this.#node(index).http.request({ method: 'GET', path: '/status', timeoutMs: 2_000 });
    const body = parseJson(answer.text) as { store?: { raft?: { state?: string }; leader?: { node_id?: string } } } | undefined;
    return { state: body?.store?.raft?.state ?? '', leaderId: body?.store?.leader?.node_id ?? '' };
  }

  async #waitForLeader(among: readonly number[]): Promise<number> {
    return waitFor(
      'a quorumlite leader agreed by every running node',
      async () => {
        const statuses = await Promise.all(among.map((index) => this.#status(index)));
        const leaderIds = new Set(statuses.map((status) => status.leaderId));
        const leader = among.find((_, position) => statuses[position]?.state === 'Leader');
        return leaderIds.size === 1 && leader !== undefined ? leader : undefined;
      },
      clusterWaitMs,
    );
  }

  async #waitForWholeCluster(): Promise<void> {
    const all = this.#nodes.map((_, index) => index);
    this.#leader = await this.#waitForLeader(all);
    await waitFor(
      `${this.nodeCount} reachable voters`,
      async () => {
        const answer = await this.#leaderNode().http.request({ method: 'GET', path: '/nodes?ver=2', timeoutMs: 2_000 });
        const nodes = (parseJson(answer.text) as { nodes?: { voter: boolean; reachable: boolean }[] } | undefined)?.nodes ?? [];
        return nodes.length === this.nodeCount && nodes.every((node) => node.voter && node.reachable) ? true : undefined;
      },
      clusterWaitMs,
    );
    await Promise.all(
      all.map((index) =>
        waitFor(
          `node ${index + 1} in sync`,
          async () => {
            const answer = await this.#node(index).http.request({ method: 'GET', path: '/readyz?sync&timeout=2s', timeoutMs: 3_000 });
            return answer.status === 200 ? true : undefined;
          },
          clusterWaitMs,
        ),
      ),
    );
  }

  async prepare(): Promise<void> {
    const answer = await this.#leaderNode().http.postJson('/db/execute', ['CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)']);
    if (!acknowledged(answer.status, answer.text)) throw new Error(`quorumlite: creating the table failed: ${answer.status} ${answer.text}`);
  }

  async write(key: string, value: string): Promise<boolean> {
    const answer = await this.#leaderNode().http.postJson('/db/execute', [[insertSql, key, value]]);
    return this.#tallied(answer.status, answer.text);
  }

  /** A write's reply: acknowledged, or tallied by its text. */
  #tallied(status: number, text: string): boolean {
    const done = acknowledged(status, text);
    if (!done) this.#replies.record(`${status} ${text}`);
    return done;
  }

  async #read(index: number, key: string, level: string): Promise<boolean> {
    return (await this.readServedBy(index, key, level)) !== undefined;
  }

  /**
   * A point read sent to node `index`: the Raft address of the node that ran it (its
   * X-RQLITE-SERVED-BY header; '' when the answer has none), or undefined when the read was
   * not acknowledged with its one row.
   */
  async readServedBy(index: number, key: string, level: string): Promise<string | undefined> {
    const answer = await this.#node(index).http.postJson(`/db/query?level=${level}`, [[selectSql, key]]);
    if (!acknowledged(answer.status, answer.text, 1)) return undefined;
    const servedBy = answer.headers['x-rqlite-served-by'];
    return typeof servedBy === 'string' ? servedBy : '';
  }

  /** Each node's Raft address, by node index: what X-RQLITE-SERVED-BY names. */
  raftAddresses(): string[] {
    return this.#nodes.map((node) => `${node.host}:${node.raftPort}`);
  }

  async leaderIndex(): Promise<number> {
    return this.#waitForLeader(this.#runningIndexes());
  }

  async refreshLeader(): Promise<void> {
    this.#leader = await this.leaderIndex();
  }

  #runningIndexes(): number[] {
    return this.#nodes.flatMap((node, index) => (node.process.running ? [index] : []));
  }

  async killNode(index: number): Promise<void> {
    await this.#node(index).process.kill();
  }

  async writeThrough(index: number, key: string, value: string, timeoutMs: number): Promise<boolean> {
    const answer = await this.#node(index).http.postJson('/db/execute', [[insertSql, key, value]], timeoutMs);
    return this.#tallied(answer.status, answer.text);
  }

  pauseNode(index: number): void {
    this.#node(index).process.pause();
  }

  async resumeNode(index: number): Promise<void> {
    this.#node(index).process.resume();
    await this.#waitForWholeCluster();
  }

  /** quorumlite's TypeScript client (src/client) over every node, as an application would use it. */
  readonly openClient = async (deadlineMs: number): Promise<SystemClient> => {
    const client = createClient({ nodes: this.#nodes.map((node) => node.http.origin), deadlineMs });
    return {
      write: async (key, value) => {
        const reply = await client.execute({ sql: insertSql, args: [key, value] });
        return reply.results[0]?.rowsAffected === 1;
      },
      close: () => client.close(),
    };
  };

  async restartNode(index: number): Promise<void> {
    this.#startNode(index);
    await this.#waitForWholeCluster();
  }

  pids(): ReadonlyArray<number | undefined> {
    return this.#nodes.map((node) => node.process.pid);
  }

  logs(): string {
    return this.#nodes.map((node, index) => `--- quorumlite node ${index + 1} ---\n${node.process.logTail()}`).join('\n');
  }

  /** SIGTERM first (a graceful stop writes CPU profiles), kill -9 after a bounded wait. */
  async stop(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => node.process.terminate().catch(() => node.process.kill())));
    await Promise.all(this.#nodes.map((node) => node.http.close()));
    rmSync(this.rootDirectory, { recursive: true, force: true });
  }
}
