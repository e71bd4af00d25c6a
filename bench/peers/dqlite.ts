/**
 * dqlite through `dqlite-demo` as docs/TESTING.md ("The peers we compare against") runs it: 3 nodes on 127.0.0.1, node 1 first,
 * the others joining it; `PUT /key` (body = value) answers `done`, `GET /key` reads.
 * It answers 200 with a body starting `Error:` on failure, so only `done` counts.
 * The leader comes from the dqlite shell (`dqlite -s … demo .leader`).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpOrigin } from '../lib/http.js';
import { ReplyTally } from '../lib/measure.js';
import { freePort } from '../lib/ports.js';
import { ManagedProcess } from '../lib/processes.js';
import { waitFor } from '../lib/waiting.js';
import { clusterSize, clusterWaitMs, type ReadMode, type ReplicatedSystem } from './system.js';

const host = '127.0.0.1';
const shellTimeoutMs = 5_000;

interface DqliteNode {
  readonly apiPort: number;
  readonly databasePort: number;
  readonly directory: string;
  readonly process: ManagedProcess;
  readonly http: HttpOrigin;
}

function runShell(executable: string, argumentList: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(executable, [...argumentList], { timeout: shellTimeoutMs, maxBuffer: 64 * 1024 }, (error, standardOutput) => {
      if (error !== null) reject(error);
      else resolve(standardOutput);
    });
  });
}

export class DqliteSystem implements ReplicatedSystem {
  readonly name = 'dqlite';
  readonly durability = 'libraft log fsynced per append on a quorum';
  readonly nodeCount = clusterSize;
  readonly rootDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-dqlite-'));
  readonly writeBatch = undefined;
  readonly #demoExecutable: string;
  readonly #shellExecutable: string;
  readonly #nodes: DqliteNode[] = [];
  #leader = 0;
  readonly #replies = new ReplyTally();
  readonly failedReplies = (): ReturnType<ReplyTally['entries']> => this.#replies.entries();

  /** dqlite-demo reads through the dqlite client, which always reads on the leader: its only level is strong. */
  readonly readModes: readonly ReadMode[] = [
    { kind: 'fast', label: 'GET /key', read: (key) => this.#get(this.#leader, key), readAt: (index, key) => this.#get(index, key) },
  ];

  constructor(demoExecutable: string, shellExecutable: string) {
    this.#demoExecutable = demoExecutable;
    this.#shellExecutable = shellExecutable;
  }

  async start(): Promise<void> {
    for (let index = 0; index < clusterSize; index += 1) {
      const apiPort = await freePort(host);
      const databasePort = await freePort(host);
      const directory = join(this.rootDirectory, `n${index + 1}`);
      mkdirSync(directory);
      const process = new ManagedProcess(this.#demoExecutable, [], join(this.rootDirectory, `n${index + 1}.log`));
      this.#nodes.push({ apiPort, databasePort, directory, process, http: new HttpOrigin(`http://${host}:${apiPort}`) });
    }
    this.#startNode(0, undefined);
    await waitFor('dqlite node 1 accepts a write', async () => ((await this.writeThrough(0, 'health-check', 'ok', 2_000)) ? true : undefined), clusterWaitMs);
    for (let index = 1; index < clusterSize; index += 1) this.#startNode(index, 0);
    await this.#waitForWholeCluster();
  }

  #startNode(index: number, joinIndex: number | undefined): void {
    const node = this.#node(index);
    const join = joinIndex === undefined ? [] : ['--join', `${host}:${this.#node(joinIndex).databasePort}`];
    node.process.start(['--api', `${host}:${node.apiPort}`, '--db', `${host}:${node.databasePort}`, '--dir', node.directory, ...join]);
  }

  #node(index: number): DqliteNode {
    const node = this.#nodes[index];
    if (node === undefined) throw new Error(`no dqlite node ${index}`);
    return node;
  }

  #servers(): string {
    return this.#nodes
      .filter((node) => node.process.running)
      .map((node) => `${host}:${node.databasePort}`)
      .join(',');
  }

  async #waitForWholeCluster(): Promise<void> {
    await waitFor(
      `${clusterSize} dqlite voters`,
      async () => {
        const text = await runShell(this.#shellExecutable, ['-s', this.#servers(), 'demo', '.cluster']);
        return text.split('\n').filter((line) => line.endsWith('|voter')).length === clusterSize ? true : undefined;
      },
      clusterWaitMs,
    );
    for (let index = 0; index < clusterSize; index += 1) {
      await waitFor(
        `dqlite node ${index + 1} accepts a write`,
        async () => ((await this.writeThrough(index, 'health-check', 'ok', 2_000)) ? true : undefined),
        clusterWaitMs,
      );
    }
    await this.refreshLeader();
  }

  async prepare(): Promise<void> {
    // dqlite-demo creates its own table
  }

  async write(key: string, value: string): Promise<boolean> {
    return this.writeThrough(this.#leader, key, value, 10_000);
  }

  async #get(index: number, key: string): Promise<boolean> {
    const answer = await this.#node(index).http.request({ method: 'GET', path: `/${key}` });
    return answer.status === 200 && !answer.text.startsWith('Error:');
  }

  async leaderIndex(): Promise<number> {
    return waitFor(
      'a dqlite leader',
      async () => {
        const address = (await runShell(this.#shellExecutable, ['-s', this.#servers(), 'demo', '.leader'])).trim();
        const index = this.#nodes.findIndex((node) => `${host}:${node.databasePort}` === address);
        return index >= 0 && this.#node(index).process.running ? index : undefined;
      },
      clusterWaitMs,
    );
  }

  async refreshLeader(): Promise<void> {
    this.#leader = await this.leaderIndex();
  }

  async killNode(index: number): Promise<void> {
    await this.#node(index).process.kill();
  }

  async writeThrough(index: number, key: string, value: string, timeoutMs: number): Promise<boolean> {
    const answer = await this.#node(index).http.request({ method: 'PUT', path: `/${key}`, body: value, contentType: 'text/plain', timeoutMs });
    const done = answer.status === 200 && answer.text.trim() === 'done';
    if (!done) this.#replies.record(`${answer.status} ${answer.text}`);
    return done;
  }

  pauseNode(index: number): void {
    this.#node(index).process.pause();
  }

  async resumeNode(index: number): Promise<void> {
    this.#node(index).process.resume();
    await this.#waitForWholeCluster();
  }

  /** No Go client in this bench: trials write through the survivors (an ideal client that knows which node hung). */
  readonly openClient = undefined;

  async restartNode(index: number): Promise<void> {
    const survivor = this.#nodes.findIndex((node) => node.process.running);
    this.#startNode(index, survivor >= 0 ? survivor : undefined);
    await this.#waitForWholeCluster();
  }

  pids(): ReadonlyArray<number | undefined> {
    return this.#nodes.map((node) => node.process.pid);
  }

  logs(): string {
    return this.#nodes.map((node, index) => `--- dqlite-demo n${index + 1} ---\n${node.process.logTail()}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => node.process.kill().catch(() => undefined)));
    await Promise.all(this.#nodes.map((node) => node.http.close()));
    rmSync(this.rootDirectory, { recursive: true, force: true });
  }
}
