/**
 * The cluster a fault-suite run works on: `quorumlite serve` processes on the test's own
 * loopback addresses (127.0.0.2 and up, so partition rules never name 127.0.0.1), with
 * what the nemeses need around them: every node started under libfaketime with its own
 * clock file when clocks are faulted, every data directory on its own small tmpfs when
 * disks are, membership that grows and shrinks, and paused processes kept track of so
 * that nothing is left stopped. close() undoes all of it, also after a failure.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { http, sleep, TestCluster, type TestNode, waitFor } from '../cluster/harness.js';
import { processAlive } from '../cluster/packet-filter.js';
import { fillerFileName } from './nemesis/disk.js';

/** Where Debian's libfaketime lives; the multi-threaded build, since Node runs threads. */
export const fakeTimeLibraryPath = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';
/** Size of each node's tmpfs when disks are faulted: room for a run, small to fill. */
export const diskBytes = 256 * 1024 * 1024;
/** Nodes a run may add over its life (each gets a fresh address). */
export const addedNodeCountMax = 8;
const statusTimeoutMs = 1_500;
/** How often waitForJoin asks whether a new node is in the configuration. */
const joinPollIntervalMs = 250;
const ownerFileName = 'jepsen-owner.pid';

export interface ClusterSetup {
  readonly nodeCount: number;
  readonly clock: boolean;
  readonly disk: boolean;
  readonly flags: readonly string[];
  /** `--consensus etcd` on this etcd cluster's endpoints and prefix, instead of the embedded Raft. */
  readonly etcd?: { readonly endpoints: readonly string[]; readonly prefix: string };
  /** The group id each node's process runs with, when etcd partitions tell processes apart by it (test/jepsen/etcd-packet-filter.ts). */
  readonly groupIdOf?: (node: TestNode) => number;
}

export interface NodeView {
  readonly state: string;
  readonly leaderId: string;
  readonly term: number;
  readonly halted: string | null;
  readonly appliedIndex: number;
  readonly checksum: string;
  /** Where the node's log stands: for a failed convergence's report. */
  readonly commitIndex: number;
  readonly lastLogIndex: number;
  readonly lastSnapshotIndex: number;
  readonly voters: readonly string[];
}

export class JepsenCluster {
  readonly cluster: TestCluster;
  readonly setup: ClusterSetup;
  /** Current members, in the order they joined. */
  members: TestNode[] = [];
  readonly paused = new Set<TestNode>();
  /** Nodes the membership nemesis removed, or added but whose process exited before joining: the only ones meant to stay down. */
  readonly removed = new Set<TestNode>();
  #addedCount = 0;

  private constructor(cluster: TestCluster, setup: ClusterSetup) {
    this.cluster = cluster;
    this.setup = setup;
  }

  static async create(setup: ClusterSetup): Promise<JepsenCluster> {
    if (setup.clock && !existsSync(fakeTimeLibraryPath)) throw new Error(`clock faults need libfaketime (${fakeTimeLibraryPath}): apt-get install faketime`);
    unmountLeftovers();
    const formation = setup.etcd === undefined ? ({ formation: 'join' } as const) : ({ formation: 'etcd', etcd: setup.etcd } as const);
    const cluster = await TestCluster.create({ size: setup.nodeCount, ...formation, firstHostIndex: 2, flags: setup.flags });
    writeFileSync(join(cluster.rootDirectory, ownerFileName), String(process.pid));
    const jepsen = new JepsenCluster(cluster, setup);
    jepsen.members = [...cluster.nodes];
    return jepsen;
  }

  /** Every address a run may use, for the packet filter. */
  hosts(): string[] {
    const count = this.setup.nodeCount + addedNodeCountMax;
    return Array.from({ length: count }, (_, index) => `127.0.0.${2 + index}`);
  }

  name(node: TestNode): string {
    return `n${node.spec.index}`;
  }

  clockFile(node: TestNode): string {
    return join(this.cluster.rootDirectory, `clock-n${node.spec.index}`);
  }

  #environment(node: TestNode): Record<string, string> {
    if (!this.setup.clock) return {};
    if (!existsSync(this.clockFile(node))) writeFileSync(this.clockFile(node), '+0\n');
    // The file is re-read at most once a second (re-reading on every call would cost a file open per clock read).
    return { LD_PRELOAD: fakeTimeLibraryPath, FAKETIME_TIMESTAMP_FILE: this.clockFile(node), FAKETIME_CACHE_DURATION: '1' };
  }

  #prepareDirectory(node: TestNode): void {
    if (!this.setup.disk || existsSync(node.dataDirectory)) return;
    mkdirSync(node.dataDirectory, { recursive: true });
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${diskBytes},mode=0700`, 'tmpfs', node.dataDirectory], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    if (mounted.status !== 0) throw new Error(`cannot mount a tmpfs for ${this.name(node)}: ${mounted.stderr}`);
  }

  /** Starts (or restarts) a node with its flags, clock and disk. */
  startNode(node: TestNode): void {
    this.#prepareDirectory(node);
    if (this.setup.groupIdOf !== undefined) node.groupId = this.setup.groupIdOf(node);
    node.start(this.cluster.flagsFor(node), this.#environment(node));
  }

  /** Forms the cluster: node 1 bootstraps, the others join it. */
  async start(): Promise<void> {
    const [first, ...others] = this.members;
    if (first === undefined) throw new Error('no nodes');
    this.startNode(first);
    await this.cluster.waitForLeader([first]);
    for (const node of others) this.startNode(node);
    await this.cluster.waitForMembers(this.members.length);
  }

  async view(node: TestNode): Promise<NodeView | undefined> {
    if (!node.running || this.paused.has(node)) return undefined;
    try {
      const answer = await http(`${node.url}/status`, { signal: AbortSignal.timeout(statusTimeoutMs) });
      const store = (answer.body as { store: Record<string, unknown> }).store;
      const raft = store.raft as { state: string; term: number; commit_index: number; last_log_index: number; last_snapshot_index: number; voters: string[] };
      const leader = store.leader as { node_id: string };
      const sqlite = store.sqlite3 as { checksum: string };
      return {
        state: raft.state,
        term: raft.term,
        leaderId: leader.node_id,
        halted: (store.halted as string | null) ?? null,
        appliedIndex: store.fsm_index as number,
        checksum: sqlite.checksum,
        commitIndex: raft.commit_index,
        lastLogIndex: raft.last_log_index,
        lastSnapshotIndex: raft.last_snapshot_index,
        voters: raft.voters,
      };
    } catch {
      return undefined;
    }
  }

  /** The node (a member, or `among`) that says it leads, at the highest term; undefined when none answers so. */
  async leader(among: readonly TestNode[] = this.members): Promise<TestNode | undefined> {
    const views = await Promise.all(among.map(async (node) => ({ node, view: await this.view(node) })));
    const leaders = views.filter(({ view }) => view?.state === 'Leader').sort((left, right) => (right.view?.term ?? 0) - (left.view?.term ?? 0));
    return leaders[0]?.node;
  }

  pause(node: TestNode): void {
    if (!node.running || node.process?.pid === undefined || this.paused.has(node)) return;
    process.kill(node.process.pid, 'SIGSTOP');
    this.paused.add(node);
  }

  resume(node: TestNode): void {
    if (!this.paused.has(node)) return;
    this.paused.delete(node);
    if (node.running && node.process?.pid !== undefined) process.kill(node.process.pid, 'SIGCONT');
  }

  async kill(node: TestNode): Promise<void> {
    this.paused.delete(node);
    await node.kill();
  }

  /** Adds a brand-new node (fresh address and directory) through --join; false when the budget is spent. */
  async addMember(): Promise<TestNode | undefined> {
    if (this.#addedCount >= addedNodeCountMax) return undefined;
    this.#addedCount += 1;
    const node = await this.cluster.addNodeSpec();
    this.members.push(node);
    this.startNode(node);
    return node;
  }

  /** The ids of the configuration's voters and learners as the leader among `among` lists them; undefined when no leader answers. */
  async configuredIds(among: readonly TestNode[] = this.members): Promise<Set<string> | undefined> {
    const leader = await this.leader(among);
    if (leader === undefined) return undefined;
    const answer = await http(`${leader.url}/nodes?nonvoters&ver=2`, { signal: AbortSignal.timeout(statusTimeoutMs) }).catch(() => undefined);
    const listed = (answer?.body as { nodes?: { id: string }[] } | undefined)?.nodes;
    return Array.isArray(listed) ? new Set(listed.map((entry) => entry.id)) : undefined;
  }

  /**
   * Waits, up to `timeoutMs`, until a leader lists `node` in the configuration (as a voter
   * or a learner): 'joined'; 'exited' once its process is gone (it is then no member: a
   * node that exits at start, on a full disk, never joins); 'pending' at the bound.
   */
  async waitForJoin(node: TestNode, timeoutMs: number): Promise<'joined' | 'exited' | 'pending'> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (!node.running) {
        this.members = this.members.filter((member) => member !== node);
        this.removed.add(node);
        return 'exited';
      }
      if ((await this.configuredIds())?.has(node.id) === true) return 'joined';
      await sleep(joinPollIntervalMs);
    }
    return 'pending';
  }

  /**
   * Asks the leader to remove `node`, then kills it. An attempt whose answer was lost (a
   * timeout, a leader change) may still have removed it: a later attempt's "no member with
   * that id" (404) means it is done. Throws when no leader accepts within the bound, with
   * the last answer.
   */
  async removeMember(node: TestNode, timeoutMs: number): Promise<void> {
    let lastAnswer = 'no leader answered';
    try {
      await waitFor(
        `the leader to remove ${this.name(node)}`,
        async () => {
          const leader = await this.leader();
          if (leader === undefined) return undefined;
          const answer = await http(`${leader.url}/remove`, { method: 'DELETE', json: { id: node.id } });
          lastAnswer = `${answer.status} ${answer.text.trim().slice(0, 120)}`;
          return answer.status === 200 || (answer.status === 404 && answer.headers.get('x-quorumlite-error') === 'NOT_FOUND') ? true : undefined;
        },
        timeoutMs,
      );
    } catch (error) {
      throw new Error(`${String(error)} (last answer: ${lastAnswer})`);
    }
    this.members = this.members.filter((member) => member !== node);
    this.removed.add(node);
    await this.kill(node);
  }

  /** Waits until every member runs, one leads, all have applied the same index with the same checksum. */
  async waitForConvergence(timeoutMs: number): Promise<NodeView[]> {
    return waitFor(
      'every member running, one leader, equal applied index and checksum',
      async () => {
        const views = await Promise.all(this.members.map((node) => this.view(node)));
        if (views.some((view) => view === undefined)) return undefined;
        const known = views as NodeView[];
        const first = known[0];
        if (first === undefined || known.filter((view) => view.state === 'Leader').length !== 1) return undefined;
        return known.every((view) => view.appliedIndex === first.appliedIndex && view.checksum === first.checksum) ? known : undefined;
      },
      timeoutMs,
    );
  }

  /** Copies every node's log into `directory` (logs/nN.log), for the report's reader. */
  copyLogs(directory: string): void {
    const logs = join(directory, 'logs');
    mkdirSync(logs, { recursive: true });
    for (const node of this.cluster.nodes) if (existsSync(node.logPath)) copyFileSync(node.logPath, join(logs, `${this.name(node)}.log`));
  }

  /**
   * Resumes, kills, unmounts and removes everything; `keepDirectory` keeps the data
   * directories for inspection after a failed run (a node's tmpfs is copied out first, to
   * `nodeN.kept`, without the disk nemesis's filler). Safe to call twice.
   */
  async close(keepDirectory = false): Promise<void> {
    for (const node of [...this.paused]) this.resume(node);
    await Promise.all(this.cluster.nodes.map((node) => node.kill().catch(() => undefined)));
    await sleep(50);
    for (const node of this.cluster.nodes) {
      if (keepDirectory && mountedTmpfsPaths().includes(node.dataDirectory)) keepCopy(node.dataDirectory);
      unmount(node.dataDirectory);
    }
    await this.cluster.close(keepDirectory || undefined);
  }
}

function mountedTmpfsPaths(): string[] {
  if (!existsSync('/proc/mounts')) return [];
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[2] === 'tmpfs' && fields[1] !== undefined)
    .map((fields) => (fields[1] as string).replace(/\\040/g, ' '));
}

/** A copy of a node's tmpfs beside it (`<dir>.kept`), without the disk nemesis's filler; a failed copy is said, not thrown. */
function keepCopy(path: string): void {
  try {
    cpSync(path, `${path}.kept`, { recursive: true, filter: (source) => basename(source) !== fillerFileName });
  } catch (error) {
    process.stderr.write(`could not keep a copy of ${path}: ${String(error)}\n`);
  }
}

function unmount(path: string): void {
  if (!mountedTmpfsPaths().includes(path)) return;
  spawnSync('umount', ['--lazy', path], { timeout: 10_000 });
}

/** Unmounts node disks left by runs whose process is gone (a crash or kill of the suite). */
function unmountLeftovers(): void {
  for (const path of mountedTmpfsPaths()) {
    const match = /^(.*\/quorumlite-cluster-[^/]+)\/node\d+$/.exec(path);
    if (match === null) continue;
    const ownerFile = join(match[1] as string, ownerFileName);
    const owner = existsSync(ownerFile) ? Number(readFileSync(ownerFile, 'utf8')) : Number.NaN;
    if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) continue;
    unmount(path);
  }
}
