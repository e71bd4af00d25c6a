/**
 * etcd 3.4 as docs/TESTING.md ("The peers we compare against") runs it: 3 members on 127.0.0.1, default heartbeat 100 ms and
 * election timeout 1000 ms, fsync on every commit (etcd's default), driven over its
 * JSON gateway (`/v3/kv/put`, `/v3/kv/txn`, `/v3/kv/range`, `/v3/maintenance/status`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpOrigin, parseJson } from '../lib/http.js';
import { freePort } from '../lib/ports.js';
import { ManagedProcess } from '../lib/processes.js';
import { waitFor } from '../lib/waiting.js';
import { clusterSize, clusterWaitMs, type ReadMode, type ReplicatedSystem } from './system.js';

const host = '127.0.0.1';
/** etcd's own bound on operations in one txn is 128 (`--max-txn-ops`). */
export const etcdTxnOperationCountMax = 128;

interface EtcdMember {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly process: ManagedProcess;
  readonly http: HttpOrigin;
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function answeredWithHeader(status: number, text: string): boolean {
  if (status !== 200) return false;
  const body = parseJson(text) as { header?: unknown; error?: unknown } | undefined;
  return body !== undefined && body.header !== undefined && body.error === undefined;
}

export class EtcdSystem implements ReplicatedSystem {
  readonly name = 'etcd';
  readonly durability = 'fsync per commit on a quorum (etcd default)';
  readonly nodeCount = clusterSize;
  readonly rootDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-etcd-'));
  readonly #executable: string;
  readonly #members: EtcdMember[] = [];
  #leader = 0;

  readonly readModes: readonly ReadMode[] = [
    { kind: 'fast', label: 'serializable', read: (key) => this.#range(this.#leader, key, true), readAt: (index, key) => this.#range(index, key, true) },
    {
      kind: 'linearizable',
      label: 'linearizable',
      read: (key) => this.#range(this.#leader, key, false),
      readAt: (index, key) => this.#range(index, key, false),
    },
  ];

  readonly writeBatch = async (rows: ReadonlyArray<readonly [string, string]>): Promise<boolean> => {
    if (rows.length > etcdTxnOperationCountMax) throw new Error(`etcd txn of ${rows.length} puts exceeds ${etcdTxnOperationCountMax}`);
    const success = rows.map(([key, value]) => ({ request_put: { key: base64(key), value: base64(value) } }));
    const answer = await this.#leaderMember().http.postJson('/v3/kv/txn', { success });
    if (!answeredWithHeader(answer.status, answer.text)) return false;
    return (parseJson(answer.text) as { succeeded?: boolean }).succeeded === true;
  };

  constructor(executable: string) {
    this.#executable = executable;
  }

  /** The members' client URLs (after start), for a quorumlite cluster keeping its log here. */
  clientUrls(): string[] {
    return this.#members.map((member) => member.http.origin);
  }

  async start(): Promise<void> {
    for (let index = 0; index < clusterSize; index += 1) {
      const clientPort = await freePort(host);
      const peerPort = await freePort(host);
      const name = `e${index + 1}`;
      const process = new ManagedProcess(this.#executable, [], join(this.rootDirectory, `${name}.out`));
      this.#members.push({ name, clientPort, peerPort, process, http: new HttpOrigin(`http://${host}:${clientPort}`) });
    }
    for (let index = 0; index < clusterSize; index += 1) this.#startMember(index, 'new');
    await this.#waitForWholeCluster();
  }

  #arguments(index: number, clusterState: 'new' | 'existing'): string[] {
    const member = this.#member(index);
    const initialCluster = this.#members.map((other) => `${other.name}=http://${host}:${other.peerPort}`).join(',');
    return [
      '--name',
      member.name,
      '--data-dir',
      join(this.rootDirectory, member.name),
      '--listen-client-urls',
      `http://${host}:${member.clientPort}`,
      '--advertise-client-urls',
      `http://${host}:${member.clientPort}`,
      '--listen-peer-urls',
      `http://${host}:${member.peerPort}`,
      '--initial-advertise-peer-urls',
      `http://${host}:${member.peerPort}`,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      clusterState,
      '--initial-cluster-token',
      'bench',
      '--logger',
      'zap',
      '--log-outputs',
      join(this.rootDirectory, `${member.name}.log`),
    ];
  }

  #startMember(index: number, clusterState: 'new' | 'existing'): void {
    this.#member(index).process.start(this.#arguments(index, clusterState));
  }

  #member(index: number): EtcdMember {
    const member = this.#members[index];
    if (member === undefined) throw new Error(`no etcd member ${index}`);
    return member;
  }

  #leaderMember(): EtcdMember {
    return this.#member(this.#leader);
  }

  async #status(index: number): Promise<{ memberId: string; leaderId: string }> {
    const answer = await this.#member(index).http.postJson('/v3/maintenance/status', {}, 2_000);
    const body = parseJson(answer.text) as { header?: { member_id?: string }; leader?: string } | undefined;
    return { memberId: body?.header?.member_id ?? '', leaderId: body?.leader ?? '' };
  }

  async #waitForLeader(among: readonly number[]): Promise<number> {
    return waitFor(
      'an etcd leader agreed by every running member',
      async () => {
        const statuses = await Promise.all(among.map((index) => this.#status(index)));
        const leaderIds = new Set(statuses.map((status) => status.leaderId));
        const leader = among.find((_, position) => statuses[position]?.memberId === statuses[position]?.leaderId);
        return leaderIds.size === 1 && !leaderIds.has('') && !leaderIds.has('0') && leader !== undefined ? leader : undefined;
      },
      clusterWaitMs,
    );
  }

  async #waitForWholeCluster(): Promise<void> {
    this.#leader = await this.#waitForLeader(this.#members.map((_, index) => index));
    for (let index = 0; index < clusterSize; index += 1) {
      await waitFor(
        `etcd member ${index + 1} accepts a write`,
        async () => ((await this.writeThrough(index, 'health-check', 'ok', 2_000)) ? true : undefined),
        clusterWaitMs,
      );
    }
  }

  async prepare(): Promise<void> {
    // a key/value store: nothing to create
  }

  async write(key: string, value: string): Promise<boolean> {
    const answer = await this.#leaderMember().http.postJson('/v3/kv/put', { key: base64(key), value: base64(value) });
    return answeredWithHeader(answer.status, answer.text);
  }

  async #range(index: number, key: string, serializable: boolean): Promise<boolean> {
    const answer = await this.#member(index).http.postJson('/v3/kv/range', { key: base64(key), serializable });
    if (!answeredWithHeader(answer.status, answer.text)) return false;
    return ((parseJson(answer.text) as { kvs?: unknown[] }).kvs?.length ?? 0) === 1;
  }

  async leaderIndex(): Promise<number> {
    return this.#waitForLeader(this.#members.flatMap((member, index) => (member.process.running ? [index] : [])));
  }

  async refreshLeader(): Promise<void> {
    this.#leader = await this.leaderIndex();
  }

  async killNode(index: number): Promise<void> {
    await this.#member(index).process.kill();
  }

  async writeThrough(index: number, key: string, value: string, timeoutMs: number): Promise<boolean> {
    const answer = await this.#member(index).http.postJson('/v3/kv/put', { key: base64(key), value: base64(value) }, timeoutMs);
    return answeredWithHeader(answer.status, answer.text);
  }

  pauseNode(index: number): void {
    this.#member(index).process.pause();
  }

  async resumeNode(index: number): Promise<void> {
    this.#member(index).process.resume();
    await this.#waitForWholeCluster();
  }

  /** No etcd client in this bench: trials write through the survivors (an ideal client that knows which member hung). */
  readonly openClient = undefined;

  async restartNode(index: number): Promise<void> {
    this.#startMember(index, 'existing');
    await this.#waitForWholeCluster();
  }

  pids(): ReadonlyArray<number | undefined> {
    return this.#members.map((member) => member.process.pid);
  }

  logs(): string {
    return this.#members.map((member) => `--- etcd ${member.name} ---\n${member.process.logTail()}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(this.#members.map((member) => member.process.kill().catch(() => undefined)));
    await Promise.all(this.#members.map((member) => member.http.close()));
    rmSync(this.rootDirectory, { recursive: true, force: true });
  }
}
