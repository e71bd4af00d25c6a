/**
 * Cluster benchmark: a real 3-node cluster on loopback (built CLI, one process per node),
 * driven over HTTP. Prints one table:
 * - single-row INSERTs, one client, sequential (ops/s, p50, p99), next to this disk's raw
 *   4 KiB write + fdatasync loop measured in the same run (the floor of a durable write);
 * - single-row INSERTs from 64 concurrent clients (ops/s, p99);
 * - point reads at level none and linearizable (ops/s, p50, p99);
 * - failover: kill -9 the leader → first acknowledged write, 10 trials (p50, max);
 * - failover with a hung leader (SIGSTOP: its connections stay open, so only the election
 *   timeout can notice), BENCH_HUNG_TRIALS trials (p50, max);
 * - spurious elections: term changes seen by every node across the load rows (should be 0).
 * Every phase is bounded by a count and a time budget. Build first (`npm run build`).
 *
 *   npm run bench:cluster     (BENCH_SECONDS_PER_ROW=3, BENCH_FAILOVER_TRIALS=10,
 *                              BENCH_NODE_FLAGS="--heartbeat-ms 50 --election-timeout-ms 500" to vary timing,
 *                              BENCH_TLS=1 for the hardened setup of docs/SECURITY.md: HTTPS and
 *                              node-to-node TLS, both mutual, with openssl-made certificates)
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { TestCluster, sleep, type ClientTls, type TestNode } from '../test/cluster/harness.js';
import { TestPki } from '../test/cluster/test-certificates.js';
import { percentile } from './lib/measure.js';

const secondsPerRow = Number(process.env.BENCH_SECONDS_PER_ROW ?? 3);
const operationsPerRowMax = 20_000;
const concurrentClients = 64;
const failoverTrials = Number(process.env.BENCH_FAILOVER_TRIALS ?? 10);
/** Per-try timeout while probing for the new leader, as etcd's failover is measured (docs/TESTING.md, "The peers we compare against"). */
const failoverTryTimeoutMs = 300;
const failoverTimeoutMs = 30_000;
const hungLeaderTrials = Number(process.env.BENCH_HUNG_TRIALS ?? 5);
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
const tlsOn = process.env.BENCH_TLS === '1';
/** With BENCH_TLS: what the benchmark's HTTP pools trust and present. */
let clientTls: ClientTls | undefined;

/** A keep-alive pool to `node`, over HTTPS when the nodes serve it. */
function poolTo(node: TestNode, connections: number): Pool {
  return new Pool(node.url, { connections, ...(clientTls === undefined ? {} : { connect: { ...clientTls } }) });
}

/** With BENCH_TLS: certificates in a temp directory, and the flags of docs/SECURITY.md's hardened cluster. */
function tlsSetup(): { flags: string[]; directory: string | undefined } {
  if (!tlsOn) return { flags: [], directory: undefined };
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-bench-tls-'));
  const pki = new TestPki(directory);
  const node = pki.issue('node');
  const client = pki.issue('bench-client', { usage: 'client' });
  clientTls = { ca: pki.ca.cert, cert: client.cert, key: client.key };
  const ca = pki.ca.certPath;
  const flags = [
    ...['-http-cert', node.certPath, '-http-key', node.keyPath, '-http-ca-cert', ca, '-http-verify-client'],
    ...['-node-cert', node.certPath, '-node-key', node.keyPath, '-node-ca-cert', ca, '-node-verify-client'],
  ];
  return { flags, directory };
}

interface Row {
  readonly name: string;
  readonly operationsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly note: string;
}

function summarise(name: string, latencies: number[], seconds: number, note = ''): Row {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { name, operationsPerSecond: latencies.length / seconds, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), note };
}

function rawFsync(directory: string): Row {
  const path = join(directory, 'raw-fsync');
  const descriptor = openSync(path, 'w+');
  const block = Buffer.alloc(4096, 7);
  const latencies: number[] = [];
  const started = performance.now();
  try {
    for (let iteration = 0; iteration < operationsPerRowMax; iteration += 1) {
      const before = performance.now();
      writeSync(descriptor, block, 0, block.length, iteration * block.length);
      fdatasyncSync(descriptor);
      latencies.push(performance.now() - before);
      if (performance.now() - started > secondsPerRow * 1000) break;
    }
  } finally {
    closeSync(descriptor);
    rmSync(path, { force: true });
  }
  return summarise('raw 4 KiB write + fdatasync (disk floor)', latencies, (performance.now() - started) / 1000);
}

async function post(pool: Pool, path: string, body: unknown, timeoutMs = 10_000): Promise<{ status: number; text: string }> {
  const response = await pool.request({
    method: 'POST',
    path,
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return { status: response.statusCode, text: await response.body.text() };
}

function succeeded(answer: { status: number; text: string }): boolean {
  return answer.status === 200 && !answer.text.includes('"error"');
}

async function runClients(
  clientCount: number,
  operation: (client: number, iteration: number) => Promise<void>,
): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  const perClientMax = Math.ceil(operationsPerRowMax / clientCount);
  await Promise.all(
    Array.from({ length: clientCount }, async (_, client) => {
      for (let iteration = 0; iteration < perClientMax; iteration += 1) {
        if (performance.now() - started > secondsPerRow * 1000) return;
        const before = performance.now();
        await operation(client, iteration);
        latencies.push(performance.now() - before);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

async function writes(leader: TestNode, clientCount: number, name: string): Promise<Row> {
  const pool = poolTo(leader, clientCount);
  try {
    let failures = 0;
    const result = await runClients(clientCount, async (client, iteration) => {
      const answer = await post(pool, '/db/execute', [['INSERT INTO bench(client, iteration, payload) VALUES (?, ?, ?)', client, iteration, 'x'.repeat(100)]]);
      if (!succeeded(answer)) failures += 1;
    });
    return summarise(name, result.latencies, result.seconds, failures === 0 ? '' : `${failures} failed`);
  } finally {
    await pool.close();
  }
}

async function reads(node: TestNode, level: string): Promise<Row> {
  const pool = poolTo(node, 1);
  try {
    let failures = 0;
    const result = await runClients(1, async (_, iteration) => {
      const answer = await post(pool, `/db/query?level=${level}`, [['SELECT payload FROM bench WHERE id = ?', (iteration % 100) + 1]]);
      if (!succeeded(answer)) failures += 1;
    });
    return summarise(`point read on the leader, level=${level}`, result.latencies, result.seconds, failures === 0 ? '' : `${failures} failed`);
  } finally {
    await pool.close();
  }
}

type LeaderFailure = 'kill' | 'hang';

/** Kills (kill -9) or hangs (SIGSTOP) the leader and times the first acknowledged write on any survivor. */
async function failoverTrial(cluster: TestCluster, trial: number, failure: LeaderFailure = 'kill'): Promise<number> {
  const leader = await cluster.waitForLeader();
  const survivors = cluster.nodes.filter((node) => node !== leader);
  const pools = survivors.map((node) => poolTo(node, 1));
  const pid = leader.process?.pid;
  if (pid === undefined) throw new Error('the leader has no process');
  try {
    if (failure === 'kill') await leader.kill();
    else process.kill(pid, 'SIGSTOP');
    const killedAt = performance.now();
    for (let attempt = 0; performance.now() - killedAt < failoverTimeoutMs; attempt += 1) {
      const pool = pools[attempt % pools.length]!;
      try {
        const answer = await post(
          pool,
          '/db/execute',
          [['INSERT INTO bench(client, iteration, payload) VALUES (?, ?, ?)', -1, trial, 'failover']],
          failoverTryTimeoutMs,
        );
        if (succeeded(answer)) return performance.now() - killedAt;
      } catch {
        // no answer within the per-try timeout: try the other survivor
      }
      await sleep(10);
    }
    throw new Error(`no acknowledged write within ${failoverTimeoutMs}ms of killing the leader`);
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
    if (failure === 'kill') leader.start(cluster.flagsFor(leader));
    else process.kill(pid, 'SIGCONT');
    await cluster.waitForConvergence(cluster.nodes);
  }
}

async function failover(cluster: TestCluster, failure: LeaderFailure, trials: number): Promise<Row> {
  const times: number[] = [];
  for (let trial = 0; trial < trials; trial += 1) times.push(await failoverTrial(cluster, trial, failure));
  const sorted = [...times].sort((a, b) => a - b);
  const what = failure === 'kill' ? 'kill -9 leader' : 'hung leader (SIGSTOP)';
  return {
    name: `failover: ${what} → first acked write (${trials} trials)`,
    operationsPerSecond: Number.NaN,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: sorted[sorted.length - 1] ?? Number.NaN,
    note: 'p99 column = max',
  };
}

function printTable(rows: readonly Row[], floorMs: number): void {
  const header = ['workload', 'ops/s', 'p50 ms', 'p99 ms', 'p50 / disk floor', 'note'];
  const lines = rows.map((row) => [
    row.name,
    Number.isNaN(row.operationsPerSecond) ? '-' : row.operationsPerSecond.toFixed(0),
    Number.isNaN(row.p50Ms) ? '-' : row.p50Ms.toFixed(2),
    Number.isNaN(row.p99Ms) ? '-' : row.p99Ms.toFixed(2),
    Number.isNaN(row.p50Ms) ? '-' : (row.p50Ms / floorMs).toFixed(2),
    row.note,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: readonly string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ');
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const line of lines) console.log(format(line));
}

async function main(): Promise<void> {
  const tls = tlsSetup();
  const cluster = await TestCluster.create({
    size: 3,
    formation: 'join',
    flags: ['--log-level', 'warn', ...tls.flags, ...nodeFlags],
    ...(clientTls === undefined ? {} : { clientTls }),
  });
  try {
    await cluster.start();
    const leader = await cluster.waitForLeader();
    const created = await leader.execute(['CREATE TABLE bench (id INTEGER PRIMARY KEY, client INTEGER, iteration INTEGER, payload TEXT)']);
    if (created.status !== 200) throw new Error(`create table: ${created.text}`);
    const rows: Row[] = [];
    const termsBeforeLoad = await Promise.all(cluster.nodes.map(async (node) => (await node.raftStatus()).term));
    const floor = rawFsync(cluster.rootDirectory);
    rows.push(floor);
    rows.push(await writes(leader, 1, 'INSERT, 1 client, sequential'));
    rows.push(await writes(leader, concurrentClients, `INSERT, ${concurrentClients} concurrent clients`));
    rows.push(await reads(leader, 'none'));
    rows.push(await reads(leader, 'linearizable'));
    const termsAfterLoad = await Promise.all(cluster.nodes.map(async (node) => (await node.raftStatus()).term));
    const termChanges = termsAfterLoad.reduce((sum, term, position) => sum + term - (termsBeforeLoad[position] ?? term), 0);
    rows.push({
      name: 'spurious elections: term changes on all nodes during the load rows',
      operationsPerSecond: Number.NaN,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      note: `${termChanges} (terms ${termsBeforeLoad.join(',')} → ${termsAfterLoad.join(',')})`,
    });
    rows.push(await failover(cluster, 'kill', failoverTrials));
    if (hungLeaderTrials > 0) rows.push(await failover(cluster, 'hang', hungLeaderTrials));
    const timing = nodeFlags.length === 0 ? 'default timing' : nodeFlags.join(' ');
    const security = tlsOn ? 'HTTPS and node-to-node TLS, both mutual' : 'plain HTTP and TCP';
    console.log(`\nquorumlite 3-node cluster on loopback, ${security}, ${secondsPerRow}s per row (${timing})\n`);
    printTable(rows, floor.p50Ms);
  } catch (error) {
    console.error(cluster.logs(30));
    throw error;
  } finally {
    await cluster.close();
    if (tls.directory !== undefined) rmSync(tls.directory, { recursive: true, force: true });
  }
}

await main();
