/**
 * The floor for point reads: three bare `node:http` processes (127.0.0.1/.2/.3) that read
 * the request body, parse it and answer the JSON a quorumlite point read returns (one
 * 100-byte value), with no database, no Raft, no routing. A quorumlite read at level
 * none can only be slower; the goal is at least 0.7x of this.
 *
 * A read sent with `?level=linearizable` to the first process also takes the one round
 * trip a linearizable read needs in a cluster of three: before it answers, that process
 * sends 4 bytes over TCP to each of the other two and waits for the first to echo them
 * (itself and one more: a quorum), as a leader's ReadIndex heartbeat round does. The
 * floor for a linearizable read; a quorumlite one can only be slower.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpOrigin, parseJson } from '../lib/http.js';
import { valueBytes } from '../lib/measure.js';
import { freePort } from '../lib/ports.js';
import { ManagedProcess } from '../lib/processes.js';
import { waitFor } from '../lib/waiting.js';
import { clusterSize, clusterWaitMs } from './system.js';

/**
 * The server, run with `node --input-type=module -e`; argv: host, port, body bound, the
 * port its echo listens on, then the other processes' echo addresses (host:port) to make
 * the round trip of a linearizable read through.
 */
const serverScript = `
import { createServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
const [host, port, bodyBytesMax, echoPort, ...peers] = process.argv.slice(1);
createTcpServer((socket) => {
  socket.setNoDelay(true);
  socket.on('data', (chunk) => socket.write(chunk));
}).listen(Number(echoPort), host);
const waiting = new Map();
let sequence = 0;
let links;
const linksToPeers = () =>
  peers.map((address) => {
    const [peerHost, peerPort] = address.split(':');
    const socket = connect(Number(peerPort), peerHost);
    socket.setNoDelay(true);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const echoed = pending.readUInt32BE(0);
        pending = pending.subarray(4);
        const confirm = waiting.get(echoed);
        waiting.delete(echoed);
        confirm?.();
      }
    });
    return socket;
  });
/** Resolves once one other process echoed a fresh number: with this one, a quorum of three. */
const roundTrip = () => {
  links ??= linksToPeers();
  sequence = (sequence + 1) >>> 0;
  const frame = Buffer.alloc(4);
  frame.writeUInt32BE(sequence);
  const confirmed = new Promise((resolve) => waiting.set(sequence, resolve));
  for (const link of links) link.write(frame);
  return confirmed;
};
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
    const answer = () => {
      const key = String(statements[0][1]);
      const value = ('v' + key + '-' + 'x'.repeat(${valueBytes})).slice(0, ${valueBytes});
      const body = JSON.stringify({ results: [{ columns: ['v'], types: ['text'], values: [[value]] }] });
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    };
    if (peers.length > 0 && (request.url ?? '').includes('level=linearizable')) void roundTrip().then(answer);
    else answer();
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
  readonly #nodeFlags: readonly string[];

  /** `nodeFlags`: Node flags every process runs with, e.g. `--perf-basic-prof` for bench/on-cpu.ts. */
  constructor(options: { readonly nodeFlags?: readonly string[] } = {}) {
    this.#nodeFlags = options.nodeFlags ?? [];
  }

  async start(): Promise<void> {
    const addresses: { readonly host: string; readonly port: number; readonly echoPort: number }[] = [];
    for (let index = 0; index < clusterSize; index += 1) {
      const host = `127.0.0.${index + 1}`;
      addresses.push({ host, port: await freePort(host), echoPort: await freePort(host) });
    }
    // The first process makes the round trips; it dials the others' echo ports at its first linearizable read.
    const echoAddresses = addresses.slice(1).map(({ host, echoPort }) => `${host}:${echoPort}`);
    for (const [index, { host, port, echoPort }] of addresses.entries()) {
      const process = new ManagedProcess(globalThis.process.execPath, [], join(this.rootDirectory, `floor${index + 1}.log`));
      const peers = index === 0 ? echoAddresses : [];
      process.start([...this.#nodeFlags, '--input-type=module', '-e', serverScript, host, String(port), String(requestBytesMax), String(echoPort), ...peers]);
      this.#nodes.push({ process, http: new HttpOrigin(`http://${host}:${port}`) });
    }
    for (let index = 0; index < clusterSize; index += 1) {
      await waitFor(`http floor ${index + 1} answers`, async () => ((await this.readAt(index, 'k1')) ? true : undefined), clusterWaitMs);
    }
  }

  /** The request a quorumlite point read sends; true when one row came back. At `linearizable` the first process makes its round trip first. */
  async readAt(index: number, key: string, level: 'none' | 'linearizable' = 'none'): Promise<boolean> {
    const node = this.#nodes[index];
    if (node === undefined) throw new Error(`no http floor node ${index}`);
    const answer = await node.http.postJson(`/db/query?level=${level}`, [[selectSql, key]]);
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
