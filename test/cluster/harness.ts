/**
 * Real-process cluster harness: starts `node dist/cli/main.js serve …` per node on
 * 127.0.0.N with its own temp data dir and free ports, polls for conditions with
 * generous bounded timeouts (never asserts on speed), and always kills its children by
 * PID and removes its dirs in close(). Build first (`npm run build`; `npm test` does).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { timedOut, withinMs } from '../../src/common/within.js';
import { freePort } from '../../bench/lib/ports.js';
import { waitFor as waitForBounded } from '../../bench/lib/waiting.js';
import { killOnExit, reportOnSignal } from './process-exit.js';

export const repositoryRoot = new URL('../../', import.meta.url).pathname;
/**
 * The built CLI. tsconfig.json (rootDir src, outDir dist) emits dist/cli/main.js while
 * package.json's bin names dist/src/cli/main.js; take whichever build exists, the newer if both.
 */
export const cliPath =
  [join(repositoryRoot, 'dist', 'src', 'cli', 'main.js'), join(repositoryRoot, 'dist', 'cli', 'main.js')]
    .filter((path) => existsSync(path))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0] ?? join(repositoryRoot, 'dist', 'cli', 'main.js');
/** Bound on every poll: generous for a loaded 2-core machine. */
export const waitTimeoutMsDefault = 60_000;
export const httpTimeoutMs = 15_000;

export { sleep } from '../../bench/lib/waiting.js';

/** Polls `probe` until it returns a value other than undefined; throws after timeoutMs (60 s unless given) naming `what`. */
export function waitFor<Value>(what: string, probe: () => Promise<Value | undefined> | Value | undefined, timeoutMs = waitTimeoutMsDefault): Promise<Value> {
  return waitForBounded(what, probe, timeoutMs);
}

export { freePort, portHigh as testPortHigh, portLow as testPortLow } from '../../bench/lib/ports.js';

/** A node's HTTP and Raft ports: two different free ports on `host`. */
async function freeNodePorts(host: string): Promise<{ httpPort: number; raftPort: number }> {
  return { httpPort: await freePort(host), raftPort: await freePort(host) };
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
  readonly headers: Headers;
}

/** What the test trusts and presents when it talks to HTTPS nodes (PEM). */
export interface ClientTls {
  readonly ca?: Buffer | string;
  readonly cert?: Buffer | string;
  readonly key?: Buffer | string;
}

/** One keep-alive pool per TLS setting, shared by every request that uses it. */
const tlsAgents = new Map<ClientTls, Agent>();

function agentFor(tls: ClientTls): Agent {
  let agent = tlsAgents.get(tls);
  if (agent === undefined) {
    agent = new Agent({ connect: { ...tls } });
    tlsAgents.set(tls, agent);
  }
  return agent;
}

/** Closes the pools of `http(…, { tls })` (a test process would otherwise keep their sockets). */
export async function closeTlsAgents(): Promise<void> {
  const agents = [...tlsAgents.values()];
  tlsAgents.clear();
  await Promise.all(agents.map((agent) => agent.close()));
}

export async function http(url: string, init: RequestInit & { json?: unknown; tls?: ClientTls } = {}): Promise<HttpAnswer> {
  const { json, tls, ...rest } = init;
  const request = {
    ...rest,
    redirect: 'manual' as const,
    signal: AbortSignal.timeout(httpTimeoutMs),
    ...(json === undefined ? {} : { method: rest.method ?? 'POST', body: JSON.stringify(json), headers: { 'content-type': 'application/json' } }),
  };
  const response =
    tls === undefined
      ? await fetch(url, request)
      : ((await undiciFetch(url, { ...(request as Parameters<typeof undiciFetch>[1]), dispatcher: agentFor(tls) })) as unknown as Response);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // plain-text answers (readyz, errors) stay text
  }
  return { status: response.status, body, text, headers: response.headers };
}

export interface NodeSpec {
  readonly index: number;
  readonly host: string;
  readonly httpPort: number;
  readonly raftPort: number;
}

export class TestNode {
  /** Its address and ports; `moveToFreshPorts` changes the ports between runs. */
  spec: NodeSpec;
  readonly dataDirectory: string;
  readonly logPath: string;
  /** Given with --node-id when set; otherwise the node's id is its Raft address (the CLI's default). */
  readonly nodeId: string | undefined;
  /** Set when the node serves HTTPS: its URL says https, and the harness's requests trust (and present) this. */
  readonly tls: ClientTls | undefined;
  process: ChildProcess | undefined;
  /** The group id the node's process runs with (root only), so iptables' owner match can tell its connections apart. */
  groupId: number | undefined;
  #exited: Promise<number | null> | undefined;

  constructor(spec: NodeSpec, rootDirectory: string, nodeId?: string, tls?: ClientTls) {
    this.spec = spec;
    this.dataDirectory = join(rootDirectory, `node${spec.index}`);
    this.logPath = join(rootDirectory, `node${spec.index}.log`);
    this.nodeId = nodeId;
    this.tls = tls;
  }

  get id(): string {
    return this.nodeId ?? this.raftAddress;
  }

  /** New free HTTP and Raft ports on the same host: the next start runs the same data directory on new addresses. */
  async moveToFreshPorts(): Promise<void> {
    if (this.running) throw new Error(`node ${this.spec.index} is running: stop it before moving it`);
    const host = this.spec.host;
    this.spec = { ...this.spec, ...(await freeNodePorts(host)) };
  }

  get raftAddress(): string {
    return `${this.spec.host}:${this.spec.raftPort}`;
  }

  get url(): string {
    return `${this.tls === undefined ? 'http' : 'https'}://${this.spec.host}:${this.spec.httpPort}`;
  }

  get running(): boolean {
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  /**
   * `environment` adds to (or overrides) the test process's own, e.g. LD_PRELOAD for libfaketime;
   * `nodeFlags` go to Node itself, before the CLI (V8's `--trace-gc-nvp`, say).
   */
  start(extraArguments: readonly string[], environment: Readonly<Record<string, string>> = {}, nodeFlags: readonly string[] = []): void {
    this.startCommandLine(
      [
        '--data-dir',
        this.dataDirectory,
        '--http-addr',
        `${this.spec.host}:${this.spec.httpPort}`,
        '--raft-addr',
        this.raftAddress,
        ...(this.nodeId === undefined ? [] : ['--node-id', this.nodeId]),
        ...(extraArguments.includes('--log-level') ? [] : ['--log-level', 'debug']),
        ...extraArguments,
      ],
      environment,
      nodeFlags,
    );
  }

  /** `quorumlite serve` with exactly these arguments (an rqlited-style command line, say); nothing added but `nodeFlags` for Node. */
  startCommandLine(serveArguments: readonly string[], environment: Readonly<Record<string, string>> = {}, nodeFlags: readonly string[] = []): void {
    this.startProgram([process.execPath, ...nodeFlags, cliPath, 'serve', ...serveArguments], environment);
  }

  /** Any program that runs a node (the rqlited command, the image's entrypoint script), with exactly this command line. */
  startProgram(command: readonly string[], environment: Readonly<Record<string, string>> = {}): void {
    if (this.running) throw new Error(`node ${this.spec.index} already running`);
    const [program, ...programArguments] = command;
    if (program === undefined) throw new Error('no program to start');
    const log = openSync(this.logPath, 'a');
    const child = spawn(program, programArguments, {
      stdio: ['pipe', log, log],
      env: { ...process.env, TZ: 'UTC', ...environment },
      ...(this.groupId === undefined ? {} : { gid: this.groupId }),
    });
    closeSync(log);
    // Last resort if the test process exits without close(): no node outlives it.
    killOnExit(child);
    this.process = child;
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Sends a line to the node's stdin (test fault commands). */
  control(line: string): void {
    this.process?.stdin?.write(`${line}\n`);
  }

  /** kill -9: no cleanup, no handover. */
  async kill(): Promise<void> {
    if (!this.running || this.process?.pid === undefined) return;
    process.kill(this.process.pid, 'SIGKILL');
    await this.#exited;
  }

  /** SIGTERM and wait for a bounded, graceful exit; returns the exit code. */
  async terminate(timeoutMs = waitTimeoutMsDefault): Promise<number | null> {
    if (!this.running || this.process?.pid === undefined) return null;
    process.kill(this.process.pid, 'SIGTERM');
    const outcome = await withinMs(this.#exited ?? Promise.resolve(null), timeoutMs);
    if (outcome === timedOut) {
      await this.kill();
      throw new Error(`node ${this.spec.index} did not exit within ${timeoutMs}ms of SIGTERM`);
    }
    return outcome ?? null;
  }

  async status(): Promise<Record<string, unknown>> {
    const answer = await http(`${this.url}/status`, this.#tlsInit());
    if (answer.status !== 200) throw new Error(`status ${answer.status}: ${answer.text}`);
    return answer.body as Record<string, unknown>;
  }

  async raftStatus(): Promise<{ state: string; commit_index: number; applied_index: number; term: number; voter: boolean }> {
    const status = await this.status();
    const store = status.store as { raft: { state: string; commit_index: number; applied_index: number; term: number; voter: boolean } };
    return store.raft;
  }

  async checksum(): Promise<{ checksum: string; appliedIndex: number }> {
    const status = await this.status();
    const store = status.store as { sqlite3: { checksum: string }; fsm_index: number };
    return { checksum: store.sqlite3.checksum, appliedIndex: store.fsm_index };
  }

  execute(statements: unknown, query = ''): Promise<HttpAnswer> {
    return http(`${this.url}/db/execute${query}`, { json: statements, ...this.#tlsInit() });
  }

  query(sql: string, query = ''): Promise<HttpAnswer> {
    const separator = query === '' ? '?' : `${query}&`;
    return http(`${this.url}/db/query${separator}q=${encodeURIComponent(sql)}`, this.#tlsInit());
  }

  /** `http()`'s options for this node: its TLS, if it serves HTTPS. */
  #tlsInit(): { tls?: ClientTls } {
    return this.tls === undefined ? {} : { tls: this.tls };
  }

  /** GET or POST on this node with its TLS. */
  request(path: string, init: RequestInit & { json?: unknown } = {}): Promise<HttpAnswer> {
    return http(`${this.url}${path}`, { ...init, ...this.#tlsInit() });
  }

  log(): string {
    return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : '';
  }
}

export interface ClusterOptions {
  readonly size: number;
  /**
   * 'join': node 1 bootstraps, the others --join it; 'bootstrap-expect': all start together;
   * 'etcd': all start together with `--consensus etcd` on `etcd` (test/etcd/etcd-cluster.ts).
   */
  readonly formation: 'join' | 'bootstrap-expect' | 'etcd';
  /** With formation 'etcd': the etcd cluster's client URLs, and the key prefix (one per test file). */
  readonly etcd?: { readonly endpoints: readonly string[]; readonly prefix: string };
  /** Extra flags for every node. */
  readonly flags?: readonly string[];
  /** Extra flags per node index (1-based). */
  readonly nodeFlags?: Readonly<Record<number, readonly string[]>>;
  /**
   * Node N listens on 127.0.0.(firstHostIndex + N - 1); default 1. A test that filters
   * packets by address starts at 2, so its rules never name 127.0.0.1.
   */
  readonly firstHostIndex?: number;
  /** Node N runs with `--node-id nodeN`, so it keeps its identity when it moves to new addresses. */
  readonly explicitNodeIds?: boolean;
  /** The nodes serve HTTPS (their flags say how): the harness talks to them with this. */
  readonly clientTls?: ClientTls;
}

export class TestCluster {
  readonly rootDirectory: string;
  readonly nodes: TestNode[] = [];
  readonly #options: ClusterOptions;
  readonly #stopReporting: () => void;

  private constructor(options: ClusterOptions) {
    this.#options = options;
    this.rootDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-cluster-'));
    this.#stopReporting = reportOnSignal(() => `--- a cluster in ${this.rootDirectory} ---\n${this.logs(20)}`);
  }

  static async create(options: ClusterOptions): Promise<TestCluster> {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first`);
    const cluster = new TestCluster(options);
    for (let index = 1; index <= options.size; index += 1) await cluster.addNodeSpec();
    return cluster;
  }

  /** Allocates a node (address 127.0.0.N, shifted by firstHostIndex; free ports) without starting it. */
  async addNodeSpec(): Promise<TestNode> {
    const index = this.nodes.length + 1;
    const hostIndex = (this.#options.firstHostIndex ?? 1) + index - 1;
    if (!Number.isInteger(hostIndex) || hostIndex < 1 || hostIndex > 254) throw new RangeError(`no loopback host 127.0.0.${hostIndex}`);
    const host = `127.0.0.${hostIndex}`;
    const spec = { index, host, ...(await freeNodePorts(host)) };
    const node = new TestNode(spec, this.rootDirectory, this.#options.explicitNodeIds === true ? `node${index}` : undefined, this.#options.clientTls);
    this.nodes.push(node);
    return node;
  }

  node(index: number): TestNode {
    const node = this.nodes[index - 1];
    if (node === undefined) throw new Error(`no node ${index}`);
    return node;
  }

  flagsFor(node: TestNode): string[] {
    const flags = [...(this.#options.flags ?? []), ...(this.#options.nodeFlags?.[node.spec.index] ?? [])];
    const others = this.nodes.filter((other) => other !== node).map((other) => other.raftAddress);
    const etcd = this.#options.etcd;
    if (this.#options.formation === 'etcd') {
      if (etcd === undefined) throw new Error("formation 'etcd' needs the etcd option");
      return [...flags, '--consensus', 'etcd', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', etcd.prefix];
    }
    if (this.#options.formation === 'bootstrap-expect') {
      return [...flags, '--bootstrap-expect', String(this.#options.size), '--join', [node.raftAddress, ...others].join(',')];
    }
    if (node.spec.index === 1) return flags;
    return [...flags, '--join', others.join(',')];
  }

  /** Starts every node and waits until all agree on one leader and every voter is in. */
  async start(): Promise<void> {
    if (this.#options.formation === 'join') {
      this.node(1).start(this.flagsFor(this.node(1)));
      await this.waitForLeader([this.node(1)]);
      for (const node of this.nodes.slice(1)) node.start(this.flagsFor(node));
    } else {
      for (const node of this.nodes) node.start(this.flagsFor(node));
    }
    await this.waitForMembers(this.nodes.length);
  }

  running(): TestNode[] {
    return this.nodes.filter((node) => node.running);
  }

  /** Waits until every given node reports the same leader, one of them; returns that leader. */
  async waitForLeader(among: readonly TestNode[] = this.running(), timeoutMs = waitTimeoutMsDefault): Promise<TestNode> {
    return waitFor(
      'one leader agreed by every running node',
      async () => {
        const leaders = new Set<string>();
        for (const node of among) {
          const status = await node.status();
          const store = status.store as { leader: { node_id: string } };
          leaders.add(store.leader.node_id);
        }
        const [leaderId] = [...leaders];
        if (leaders.size !== 1 || leaderId === undefined || leaderId === '') return undefined;
        const leader = among.find((node) => node.id === leaderId);
        if (leader === undefined || !leader.running) return undefined;
        return (await leader.raftStatus()).state === 'Leader' ? leader : undefined;
      },
      timeoutMs,
    );
  }

  /** Waits until the leader lists `count` members (voters and non-voters). */
  async waitForMembers(count: number, voters = count): Promise<void> {
    await waitFor(`${count} members (${voters} voters)`, async () => {
      const leader = await this.waitForLeader();
      const nodes = await leader.request('/nodes?nonvoters&ver=2');
      const list = (nodes.body as { nodes?: { voter: boolean; reachable: boolean }[] }).nodes ?? [];
      const voterCount = list.filter((node) => node.voter).length;
      return list.length === count && voterCount === voters && list.every((node) => node.reachable) ? true : undefined;
    });
  }

  /** Waits until every running node applied at least `index`; returns their checksums. */
  async waitForApplied(index: number, among: readonly TestNode[] = this.running()): Promise<string[]> {
    return waitFor(`every node applied ${index}`, async () => {
      const sums: string[] = [];
      for (const node of among) {
        const { checksum, appliedIndex } = await node.checksum();
        if (appliedIndex < index) return undefined;
        sums.push(checksum);
      }
      return sums;
    });
  }

  /** Waits until every running node has the same applied index and content checksum. */
  async waitForConvergence(among: readonly TestNode[] = this.running()): Promise<{ checksum: string; appliedIndex: number }> {
    return waitFor('identical checksums at one applied index on every node', async () => {
      const states = await Promise.all(among.map((node) => node.checksum()));
      const first = states[0];
      if (first === undefined) return undefined;
      return states.every((state) => state.checksum === first.checksum && state.appliedIndex === first.appliedIndex) ? first : undefined;
    });
  }

  /** Creates `table` with one row through the leader, then checks every running node applied it with the same content. */
  async writeTableEverywhere(table: string): Promise<void> {
    const leader = await this.waitForLeader();
    const written = await leader.execute([`CREATE TABLE ${table} (id INTEGER PRIMARY KEY)`, `INSERT INTO ${table} VALUES (1)`], '?raft_index');
    assert.equal(written.status, 200, written.text);
    const sums = await this.waitForApplied((written.body as { raft_index: number }).raft_index);
    assert.equal(new Set(sums).size, 1, 'every node has the same content');
  }

  /** Kills every child by PID and removes the temp dirs (unless kept, for inspection). Safe to call twice. */
  async close(keepDirectory = process.env.QUORUMLITE_KEEP_TEST_DIRS !== undefined): Promise<void> {
    this.#stopReporting();
    await Promise.all(this.nodes.map((node) => node.kill().catch(() => undefined)));
    if (this.#options.clientTls !== undefined) await closeTlsAgents();
    if (!keepDirectory) rmSync(this.rootDirectory, { recursive: true, force: true });
  }

  /** Runs a test body; on failure prints every node's log tail, then rethrows. */
  async withLogs(body: () => Promise<void>, lineCount = 80): Promise<void> {
    try {
      await body();
    } catch (error) {
      console.error(this.logs(lineCount));
      throw error;
    }
  }

  /** The tail of every node's log, for a failing test's message. */
  logs(lineCount = 40): string {
    return this.nodes.map((node) => `--- node ${node.spec.index} (${node.id}) ---\n${node.log().split('\n').slice(-lineCount).join('\n')}`).join('\n');
  }
}
