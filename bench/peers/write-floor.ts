/**
 * The floor for replicated writes: three Node processes on 127.0.0.1/.2/.3 that do what a
 * durable write on a quorum of three takes and nothing else (write-floor-node.ts): the
 * leader parses the HTTP request, sends the body to both followers, appends it to its own
 * preallocated log, and answers once its copy and one follower's are fdatasynced. No
 * SQLite, no Raft, no routing: a quorumlite write can only be slower. With `sqlite`, every
 * process also applies each write to a SQLite database (write-floor-node.ts says how):
 * the floor for a replicated SQLite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpOrigin, parseJson } from '../lib/http.js';
import { freePort } from '../lib/ports.js';
import { ManagedProcess } from '../lib/processes.js';
import { waitFor } from '../lib/waiting.js';
import { clusterSize, clusterWaitMs } from './system.js';

const nodeScript = new URL('./write-floor-node.ts', import.meta.url).pathname;
const insertSql = 'INSERT OR REPLACE INTO kv(k, v) VALUES(?, ?)';

export class WriteFloor {
  readonly name: string;
  readonly rootDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-write-floor-'));
  readonly #processes: ManagedProcess[] = [];
  readonly #sqlite: boolean;
  readonly #nodeFlags: readonly string[];
  #http: HttpOrigin | undefined;

  /** `nodeFlags`: Node flags every process runs with, e.g. `--perf-basic-prof` for bench/on-cpu.ts. */
  constructor(options: { readonly sqlite?: boolean; readonly nodeFlags?: readonly string[] } = {}) {
    this.#sqlite = options.sqlite ?? false;
    this.#nodeFlags = options.nodeFlags ?? [];
    this.name = this.#sqlite ? 'write-floor+sqlite' : 'write-floor';
  }

  async start(): Promise<void> {
    const addresses: string[] = [];
    for (let index = 0; index < clusterSize; index += 1) {
      const host = `127.0.0.${index + 1}`;
      addresses.push(`${host}:${await freePort(host)}`);
    }
    for (let index = clusterSize - 1; index >= 0; index -= 1) {
      const [host, port] = (addresses[index] ?? '').split(':') as [string, string];
      const logPath = join(this.rootDirectory, `log${index + 1}`);
      const role = index === 0 ? ['leader', host, port, logPath, ...addresses.slice(1)] : ['follower', host, port, logPath];
      if (this.#sqlite) role.push('--sqlite', join(this.rootDirectory, `db${index + 1}.sqlite`));
      const process = new ManagedProcess(globalThis.process.execPath, [], join(this.rootDirectory, `floor${index + 1}.log`));
      process.start([...this.#nodeFlags, '--import', 'tsx', nodeScript, ...role]);
      this.#processes.push(process);
      // Followers listen before the leader dials them.
      if (index > 0)
        await waitFor(`write floor follower ${index + 1} listens`, async () => (await this.#listening(host, Number(port))) || undefined, clusterWaitMs);
    }
    this.#http = new HttpOrigin(`http://${addresses[0]}`);
    await waitFor('the write floor acknowledges a write', async () => ((await this.write('k0', 'v0').catch(() => false)) ? true : undefined), clusterWaitMs);
  }

  async #listening(host: string, port: number): Promise<boolean> {
    const { connect } = await import('node:net');
    return new Promise((resolve) => {
      const socket = connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }

  /** One row, as a quorumlite write sends it; true when the floor answered it durable on a quorum. */
  async write(key: string, value: string): Promise<boolean> {
    if (this.#http === undefined) throw new Error('the write floor is not started');
    const answer = await this.#http.postJson('/db/execute', [[insertSql, key, value]]);
    const body = parseJson(answer.text) as { results?: unknown[] } | undefined;
    return answer.status === 200 && body?.results?.length === 1;
  }

  /** Many rows in one request, as a quorumlite batch sends them; true when every row was answered. */
  readonly writeBatch = async (rows: ReadonlyArray<readonly [string, string]>): Promise<boolean> => {
    if (this.#http === undefined) throw new Error('the write floor is not started');
    const answer = await this.#http.postJson(
      '/db/execute',
      rows.map(([key, value]) => [insertSql, key, value]),
    );
    const body = parseJson(answer.text) as { results?: unknown[] } | undefined;
    return answer.status === 200 && body?.results?.length === rows.length;
  };

  pids(): ReadonlyArray<number | undefined> {
    return this.#processes.map((process) => process.pid);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#processes.map((process) => process.kill().catch(() => undefined)));
    await this.#http?.close();
    rmSync(this.rootDirectory, { recursive: true, force: true });
  }
}
