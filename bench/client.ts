/**
 * Client overhead per call: the quorumlite client vs raw fetch and raw undici against
 * the same server, printed side by side with ratios (one run, interleaved rounds, so
 * machine noise hits every variant alike).
 *
 *   npm run bench:client [-- --url http://127.0.0.1:4001] [--calls 2000] [--rounds 5] [--concurrency 16]
 *                           [--failover-trials 10] [--only overhead|failover]
 *
 * Without --url a child process serves a fixed rqlite-shaped reply on 127.0.0.1, so the
 * numbers are the client-side cost (encode, route, parse, decode) plus loopback HTTP.
 * With --url the reads are real `SELECT 1` queries on that node (use the leader).
 *
 * Then the pause a client sees at a leader kill (needs `npm run build`): one client
 * writes in a loop against a real 3-node cluster, the leader is killed with SIGKILL,
 * and the longest gap between acknowledged writes around the kill is taken; the killed
 * node is restarted between trials. Two clusters, one with the server's default timing
 * and one with `--heartbeat-ms 50 --election-timeout-ms 500`, take turns trial by trial,
 * so machine noise hits both alike; on each, two clients (the default retry cap and the
 * former 1 s cap) write side by side through the same kill. Printed with p50/max, ratios,
 * and the gap split into the server's part (kill → elected) and the client's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { createClient, type Client, type ClientConfig } from '../src/client/index.js';
import { TestCluster, type TestNode } from '../test/cluster/harness.js';
import { median, percentile } from './lib/measure.js';

type Section = 'overhead' | 'failover' | 'all';

interface Options {
  url: string | undefined;
  callCount: number;
  roundCount: number;
  concurrency: number;
  failoverTrialCount: number;
  only: Section;
}

/** Bound on --failover-trials: each trial kills and restarts a real node. */
export const failoverTrialCountMax = 100;

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { url: undefined, callCount: 2_000, roundCount: 5, concurrency: 16, failoverTrialCount: 10, only: 'all' };
  for (let index = 0; index < argv.length; index += 2) {
    const [flag, value] = [argv[index], argv[index + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--url') options.url = value;
    else if (flag === '--calls') options.callCount = positiveInteger(value, flag);
    else if (flag === '--rounds') options.roundCount = positiveInteger(value, flag);
    else if (flag === '--concurrency') options.concurrency = positiveInteger(value, flag);
    else if (flag === '--failover-trials') options.failoverTrialCount = boundedTrialCount(value, flag);
    else if (flag === '--only') options.only = parseSection(value);
    else throw new Error(`unknown flag ${flag} (use --url, --calls, --rounds, --concurrency, --failover-trials, --only)`);
  }
  return options;
}

function parseSection(value: string): Section {
  if (value === 'overhead' || value === 'failover' || value === 'all') return value;
  throw new Error(`--only must be overhead, failover or all, got ${JSON.stringify(value)}`);
}

function boundedTrialCount(text: string, flag: string): number {
  const value = positiveInteger(text, flag);
  if (value > failoverTrialCountMax) throw new Error(`${flag} must be at most failoverTrialCountMax (${failoverTrialCountMax}), got ${value}`);
  return value;
}

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} must be a positive integer`);
  return value;
}

const fixedServerSource = `
const http = require('node:http');
const reply = JSON.stringify({ results: [{ columns: ['1'], types: [''], values: [[1]] }] });
const server = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
    response.end(reply);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => process.stdout.write('http://127.0.0.1:' + server.address().port + '\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

async function startFixedServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', fixedServerSource], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  return { url: chunk.toString().trim(), child };
}

type Call = () => Promise<unknown>;

async function measure(call: Call, callCount: number, concurrency: number): Promise<number[]> {
  const latenciesMs: number[] = [];
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < callCount) {
      started += 1;
      const begin = performance.now();
      await call();
      latenciesMs.push(performance.now() - begin);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latenciesMs;
}

interface Row {
  name: string;
  medianMicroseconds: number[];
  p99Microseconds: number[];
  callsPerSecond: number[];
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.only !== 'failover') await overhead(options);
  if (options.only !== 'overhead') await failoverPauses(options.failoverTrialCount);
}

async function overhead(options: Options): Promise<void> {
  const fixed = options.url === undefined ? await startFixedServer() : undefined;
  const url = options.url ?? (fixed as { url: string }).url;
  const body = '["SELECT 1"]';
  const path = '/db/query?level=weak';
  const pool = new Pool(url, { connections: options.concurrency });
  const client = createClient({ nodes: [url], discoverNodes: false, inFlightCountMax: options.concurrency, connectionsPerNodeMax: options.concurrency });
  const variants: [string, Call][] = [
    [
      'raw fetch',
      async () => JSON.parse(await (await fetch(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).text()),
    ],
    [
      'raw undici Pool',
      async () => JSON.parse(await (await pool.request({ path, method: 'POST', body, headers: { 'content-type': 'application/json' } })).body.text()),
    ],
    ['client.query', () => client.query('SELECT 1')],
  ];
  try {
    for (const concurrency of [1, options.concurrency]) await runTable(variants, options, concurrency);
  } finally {
    await client.close();
    await pool.close();
    fixed?.child.stdin?.end();
  }
}

async function runTable(variants: readonly [string, Call][], options: Options, concurrency: number): Promise<void> {
  const rows: Row[] = variants.map(([name]) => ({ name, medianMicroseconds: [], p99Microseconds: [], callsPerSecond: [] }));
  for (const [, call] of variants) await measure(call, Math.min(200, options.callCount), concurrency); // warm-up
  for (let round = 0; round < options.roundCount; round += 1) {
    for (const [index, [, call]] of variants.entries()) {
      const begin = performance.now();
      const latencies = (await measure(call, options.callCount, concurrency)).sort((a, b) => a - b);
      const elapsedSeconds = (performance.now() - begin) / 1000;
      const row = rows[index] as Row;
      row.medianMicroseconds.push(percentile(latencies, 0.5) * 1000);
      row.p99Microseconds.push(percentile(latencies, 0.99) * 1000);
      row.callsPerSecond.push(options.callCount / elapsedSeconds);
    }
  }
  printTable(rows, options, concurrency);
}

function formatTable(header: readonly string[], lines: readonly (readonly string[])[]): string[] {
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => (line[column] as string).length)));
  const format = (cells: readonly string[]): string =>
    `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (column === 0 ? `${'-'.repeat(width + 1)}-` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [format(header), rule, ...lines.map(format)];
}

function printTable(rows: readonly Row[], options: Options, concurrency: number): void {
  const baseline = median((rows[0] as Row).medianMicroseconds);
  const baselineRate = median((rows[0] as Row).callsPerSecond);
  console.log(`\n${options.callCount} calls × ${options.roundCount} rounds, concurrency ${concurrency} (medians over rounds)`);
  const undiciP50 = median((rows[1] as Row).medianMicroseconds);
  const header = ['variant', 'p50 µs', 'p99 µs', 'calls/s', 'p50 vs fetch', 'calls/s vs fetch', 'p50 vs undici'];
  const lines = rows.map((row) => {
    const p50 = median(row.medianMicroseconds);
    const rate = median(row.callsPerSecond);
    return [
      row.name,
      p50.toFixed(0),
      median(row.p99Microseconds).toFixed(0),
      rate.toFixed(0),
      `${(p50 / baseline).toFixed(2)}×`,
      `${(rate / baselineRate).toFixed(2)}×`,
      `${(p50 / undiciP50).toFixed(2)}×`,
    ];
  });
  for (const line of formatTable(header, lines)) console.log(line);
}

// ---- The pause a client sees at a leader kill ----

interface ServerTiming {
  readonly name: string;
  readonly flags: readonly string[];
}

interface ClientTiming {
  readonly name: string;
  readonly retry: ClientConfig['retry'];
}

const serverTimings: readonly ServerTiming[] = [
  { name: 'server defaults', flags: [] },
  { name: '--heartbeat-ms 50 --election-timeout-ms 500', flags: ['--heartbeat-ms', '50', '--election-timeout-ms', '500'] },
];
/** Client retry settings compared on the same kill: each writes in its own loop at once. */
const clientTimings: readonly ClientTiming[] = [
  { name: 'client defaults (delayMsMax 250)', retry: undefined },
  { name: 'delayMsMax 1000 (before)', retry: { delayMsMax: 1_000, attemptsMax: 64 } },
];
/** Acknowledged writes (of the first client) before the kill, so the loops are in their steady state. */
const writesBeforeKill = 50;
/** Acknowledged writes after the kill that end a client's trial: the gap is over by then. */
const writesAfterKill = 50;
/** Bound on one trial's writes per client and its time, whatever the cluster does. */
const trialWritesMax = 10_000;
const trialTimeMsMax = 120_000;
const failoverCallDeadlineMs = 60_000;

interface TrialResult {
  /** Longest time between two consecutive acknowledged writes around the kill. */
  readonly longestGapMs: number;
  /** The server's part: from the kill to the new leader's "elected" log line (wall clock, ms resolution). */
  readonly killToElectedMs: number;
  /** The client's part: from the new leader's election to the first write acknowledged after the kill. */
  readonly electedToNextAckMs: number;
}

interface WriterLoop {
  readonly timing: ClientTiming;
  readonly client: Client;
  readonly results: TrialResult[];
}

interface TimingCluster {
  readonly timing: ServerTiming;
  readonly cluster: TestCluster;
  readonly writers: WriterLoop[];
  nextKey: number;
}

async function startTimingCluster(timing: ServerTiming): Promise<TimingCluster> {
  const cluster = await TestCluster.create({ size: 3, formation: 'join', flags: ['--log-level', 'info', ...timing.flags] });
  await cluster.start();
  const writers = clientTimings.map((clientTiming) => ({
    timing: clientTiming,
    client: createClient({
      nodes: cluster.running().map((node) => node.url),
      deadlineMs: failoverCallDeadlineMs,
      ...(clientTiming.retry === undefined ? {} : { retry: clientTiming.retry }),
    }),
    results: [],
  }));
  await (writers[0] as WriterLoop).client.execute('CREATE TABLE pauses (k INTEGER NOT NULL)');
  return { timing, cluster, writers, nextKey: 0 };
}

interface KillSignal {
  killedAtMs: number | undefined;
  killedAtWallMs: number;
  killed: Promise<void> | undefined;
}

interface LoopTiming {
  readonly longestGapMs: number;
  /** Wall-clock times of the acks from the last one before the kill on. */
  readonly acknowledgedAtWallMs: readonly number[];
}

/**
 * One client writes row after row. The first loop kills `leader` after `writesBeforeKill`
 * acks; each loop stops `writesAfterKill` acks after the kill.
 */
async function writeAcrossKill(timing: TimingCluster, writer: WriterLoop, kill: KillSignal, leader: TestNode, isKiller: boolean): Promise<LoopTiming> {
  const acknowledgedAtMs: number[] = [];
  const acknowledgedAtWallMs: number[] = [];
  const startedAtMs = performance.now();
  for (let write = 0; write < trialWritesMax && performance.now() - startedAtMs < trialTimeMsMax; write += 1) {
    const key = timing.nextKey;
    timing.nextKey += 1;
    await writer.client.execute({ sql: 'INSERT INTO pauses (k) VALUES (?)', args: [key] });
    acknowledgedAtMs.push(performance.now());
    acknowledgedAtWallMs.push(Date.now());
    if (isKiller && kill.killed === undefined && acknowledgedAtMs.length >= writesBeforeKill) {
      kill.killedAtMs = performance.now();
      kill.killedAtWallMs = Date.now();
      kill.killed = leader.kill();
    }
    const killedAtMs = kill.killedAtMs;
    if (killedAtMs !== undefined && acknowledgedAtMs.filter((at) => at > killedAtMs).length >= writesAfterKill) break;
  }
  const killedAtMs = kill.killedAtMs;
  const firstAfter = killedAtMs === undefined ? -1 : acknowledgedAtMs.findIndex((at) => at > killedAtMs);
  if (firstAfter < 1) throw new Error(`${writer.timing.name} on ${timing.timing.name}: no writes on both sides of the kill within the trial's bounds`);
  const around = acknowledgedAtMs.slice(firstAfter - 1);
  const gaps = around.slice(1).map((at, index) => at - (around[index] as number));
  return { longestGapMs: Math.max(...gaps), acknowledgedAtWallMs: acknowledgedAtWallMs.slice(firstAfter - 1) };
}

/** The wall-clock time of the node's last "elected" log line (needs --log-level info or lower). */
function lastElectedAtWallMs(node: TestNode): number {
  const last = node
    .log()
    .split('\n')
    .filter((line) => line.includes('"event":"elected"'))
    .at(-1);
  if (last === undefined) throw new Error(`node ${node.spec.index} logged no election`);
  const time = (JSON.parse(last) as { time?: unknown }).time;
  if (typeof time !== 'number') throw new Error(`node ${node.spec.index}: election log line without a time`);
  return time;
}

async function runKillTrial(timing: TimingCluster): Promise<void> {
  const leader = await timing.cluster.waitForLeader();
  const kill: KillSignal = { killedAtMs: undefined, killedAtWallMs: 0, killed: undefined };
  const loops = await Promise.all(timing.writers.map((writer, index) => writeAcrossKill(timing, writer, kill, leader, index === 0)));
  await kill.killed;
  const electedAtWallMs = lastElectedAtWallMs(await timing.cluster.waitForLeader());
  for (const [index, loop] of loops.entries()) {
    // A write in flight at the kill may be acknowledged just after it: the client's part starts at the election.
    const nextAckAtWallMs = loop.acknowledgedAtWallMs.find((at) => at >= electedAtWallMs);
    if (nextAckAtWallMs === undefined) throw new Error(`${timing.timing.name}: no write acknowledged after the election`);
    (timing.writers[index] as WriterLoop).results.push({
      longestGapMs: loop.longestGapMs,
      killToElectedMs: electedAtWallMs - kill.killedAtWallMs,
      electedToNextAckMs: nextAckAtWallMs - electedAtWallMs,
    });
  }
  leader.start(timing.cluster.flagsFor(leader));
  await timing.cluster.waitForMembers(3);
  await timing.cluster.waitForConvergence();
}

async function failoverPauses(trialCount: number): Promise<void> {
  const timings: TimingCluster[] = [];
  try {
    for (const timing of serverTimings) timings.push(await startTimingCluster(timing));
    for (let trial = 1; trial <= trialCount; trial += 1) {
      for (const timing of timings) await runKillTrial(timing);
      process.stderr.write(`failover trial ${trial}/${trialCount} done\n`);
    }
    printFailoverTable(timings, trialCount);
  } finally {
    for (const timing of timings) {
      for (const writer of timing.writers) await writer.client.close();
      await timing.cluster.close();
    }
  }
}

function printFailoverTable(timings: readonly TimingCluster[], trialCount: number): void {
  const baseline = (timings[0] as TimingCluster).writers[0] as WriterLoop;
  const baselineP50 = median(baseline.results.map((result) => result.longestGapMs));
  const method = `3 nodes, ${trialCount} trials each; server timings take turns, client variants write side by side through the same kill`;
  console.log(`\nPause a writing client sees at kill -9 of the leader: longest gap between acknowledged writes (${method})`);
  const header = [
    'server timing',
    'client',
    'gap p50 ms',
    'gap max ms',
    'gap p50 vs defaults',
    'kill→elected p50 (server)',
    'elected→next ack p50 (client)',
    'elected→next ack max',
  ];
  const lines = timings.flatMap((timing) =>
    timing.writers.map((writer) => {
      const gaps = writer.results.map((result) => result.longestGapMs);
      const clientParts = writer.results.map((result) => result.electedToNextAckMs);
      return [
        timing.timing.name,
        writer.timing.name,
        median(gaps).toFixed(0),
        Math.max(...gaps).toFixed(0),
        `${(median(gaps) / baselineP50).toFixed(2)}×`,
        median(writer.results.map((result) => result.killToElectedMs)).toFixed(0),
        median(clientParts).toFixed(0),
        Math.max(...clientParts).toFixed(0),
      ];
    }),
  );
  for (const line of formatTable(header, lines)) console.log(line);
  for (const timing of timings) {
    for (const writer of timing.writers)
      console.log(`${timing.timing.name}, ${writer.timing.name}: gaps ms ${writer.results.map((result) => result.longestGapMs.toFixed(0)).join(', ')}`);
  }
}

await main();
