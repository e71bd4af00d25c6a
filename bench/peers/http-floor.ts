/**
 * The floor for point reads: three bare `node:http` processes (127.0.0.1/.2/.3) that read
 * the request body, parse it and answer the JSON a quorumlite point read returns (one
 * 100-byte value), with no database, no Raft, no routing. A quorumlite read at level
 * none can only be slower; the goal is at least 0.7x of this.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpOrigin, parseJson } from '../lib/http.js';
import { valueBytes } from '../lib/measure.js';
import { ManagedProcess, freePort, waitFor } from '../lib/processes.js';
import { clusterSize, clusterWaitMs } from './system.js';

/** The server, run with `node --input-type=module -e`; argv: host, port, body bound. */
const serverScript = `
import { createServer } from 'node:http';
const [host, port, bodyBytesMax] = process.argv.slice(1);
const server = createServer((request, response) => {
  const chunks = [];
  let byteCount = 0;
  request.on('data', (chunk) => {
    byteCount += chunk.length;
    if (byteCount > Number(bodyBytesMax)) request.destroy();
    else chunks.push(chunk);
  });
  request.on('end', () => {
    const statements = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const key = String(statements[0][1]);
    const value = ('v' + key + '-' + 'x'.repeat(${valueBytes})).slice(0, ${valueBytes});
    const body = JSON.stringify({ results: [{ columns: ['v'], types: ['text'], values: [[value]] }] });
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(port), host);
`;
const requestBytesMax = 64 * 1024;
const selectSql = 'SELECT v FROM kv WHERE k = ?';

interface FloorNode {
  readonly process: ManagedProcess;
  readonly http: HttpOrigin;
}

export class HttpFloor {
  readonly rootDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-floor-'));
  readonly nodeCount = clusterSize;
  readonly #nodes: FloorNode[] = [];

  async start(): Promise<void> {
    const taken = new Set<number>();
    for (let index = 0; index < clusterSize; index += 1) {
      const host = `127.0.0.${index + 1}`;
      const port = await freePort(host, taken);
      const process = new ManagedProcess(globalThis.process.execPath, [], join(this.rootDirectory, `floor${index + 1}.log`));
      process.start(['--input-type=module', '-e', serverScript, host, String(port), String(requestBytesMax)]);
      this.#nodes.push({ process, http: new HttpOrigin(`http://${host}:${port}`) });
    }
    for (let index = 0; index < clusterSize; index += 1) {
      await waitFor(`http floor ${index + 1} answers`, async () => ((await this.readAt(index, 'k1')) ? true : undefined), clusterWaitMs);
    }
  }

  /** The request a quorumlite point read at level none sends; true when one row came back. */
  async readAt(index: number, key: string): Promise<boolean> {
    const node = this.#nodes[index];
    if (node === undefined) throw new Error(`no http floor node ${index}`);
    const answer = await node.http.postJson('/db/query?level=none', [[selectSql, key]]);
    if (answer.status !== 200) return false;
    const body = parseJson(answer.text) as { results?: { values?: unknown[][] }[] } | undefined;
    return body?.results?.[0]?.values?.length === 1;
  }

  pids(): ReadonlyArray<number | undefined> {
    return this.#nodes.map((node) => node.process.pid);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => node.process.kill().catch(() => undefined)));
    await Promise.all(this.#nodes.map((node) => node.http.close()));
    rmSync(this.rootDirectory, { recursive: true, force: true });
  }
}
