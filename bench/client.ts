/**
 * Client overhead per call: the quorumlite client vs raw fetch and raw undici against
 * the same server, printed side by side with ratios (one run, interleaved rounds, so
 * machine noise hits every variant alike).
 *
 *   npm run bench:client [-- --url http://127.0.0.1:4001] [--calls 2000] [--rounds 5] [--concurrency 16]
 *
 * Without --url a child process serves a fixed rqlite-shaped reply on 127.0.0.1, so the
 * numbers are the client-side cost (encode, route, parse, decode) plus loopback HTTP.
 * With --url the reads are real `SELECT 1` queries on that node (use the leader).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { createClient } from '../src/client/index.js';

interface Options {
  url: string | undefined;
  callCount: number;
  roundCount: number;
  concurrency: number;
}

function parseOptions(argv: readonly string[]): Options {
  const options: Options = { url: undefined, callCount: 2_000, roundCount: 5, concurrency: 16 };
  for (let index = 0; index < argv.length; index += 2) {
    const [flag, value] = [argv[index], argv[index + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--url') options.url = value;
    else if (flag === '--calls') options.callCount = positiveInteger(value, flag);
    else if (flag === '--rounds') options.roundCount = positiveInteger(value, flag);
    else if (flag === '--concurrency') options.concurrency = positiveInteger(value, flag);
    else throw new Error(`unknown flag ${flag} (use --url, --calls, --rounds, --concurrency)`);
  }
  return options;
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

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

interface Row {
  name: string;
  medianMicroseconds: number[];
  p99Microseconds: number[];
  callsPerSecond: number[];
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const fixed = options.url === undefined ? await startFixedServer() : undefined;
  const url = options.url ?? (fixed as { url: string }).url;
  const body = '["SELECT 1"]';
  const path = '/db/query?level=weak';
  const pool = new Pool(url, { connections: options.concurrency });
  const client = createClient({ nodes: [url], discoverNodes: false, maxInFlight: options.concurrency, connectionsPerNodeMax: options.concurrency });
  const variants: [string, Call][] = [
    ['raw fetch', async () => JSON.parse(await (await fetch(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).text())],
    ['raw undici Pool', async () => JSON.parse(await (await pool.request({ path, method: 'POST', body, headers: { 'content-type': 'application/json' } })).body.text())],
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

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
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
    return [row.name, p50.toFixed(0), median(row.p99Microseconds).toFixed(0), rate.toFixed(0), `${(p50 / baseline).toFixed(2)}×`, `${(rate / baselineRate).toFixed(2)}×`, `${(p50 / undiciP50).toFixed(2)}×`];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => (line[column] as string).length)));
  const format = (cells: readonly string[]): string => `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number))).join(' | ')} |`;
  console.log(format(header));
  console.log(`|${widths.map((width, column) => (column === 0 ? `${'-'.repeat(width + 1)}-` : `${'-'.repeat(width + 1)}:`)).join('|')}|`);
  for (const line of lines) console.log(format(line));
}

await main();
