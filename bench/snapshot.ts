/**
 * Snapshot benchmark: full copies (the design before deltas) against deltas on a base,
 * each run as real processes on loopback in the same run, on a database of --size-mb:
 * - the snapshot after --writes small writes: time until /status shows it (the check
 *   runs every 50 ms: up to that much is included), and the bytes the node process wrote
 *   meanwhile (/proc/<pid>/io write_bytes, until the node is quiet again: a delta's fold
 *   counts too);
 * - the disk the data directory uses once that snapshot has settled;
 * - single-row write latency (4 clients) while a snapshot runs against while none does
 *   (a write counts as "during" when it overlaps a snapshot's window, from the moment
 *   the threshold was crossed to the moment /status shows the snapshot);
 * - the time a new member takes to catch up (a second node joins; until it has applied
 *   what the first had when it started).
 * The old design runs from a built checkout given with --baseline (its dist/cli/main.js):
 *   git worktree add /tmp/snap-baseline <commit>; ln -s $PWD/node_modules /tmp/snap-baseline/
 *   (cd /tmp/snap-baseline && npx tsc -p tsconfig.json)
 * Without --baseline only the new design runs. Build first (`npm run build`).
 *
 *   npm run bench:snapshot -- [--size-mb 200] [--writes 1000] [--baseline DIR]
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, sleep, TestCluster, type TestNode } from '../test/cluster/harness.js';
import { percentile } from './lib/measure.js';

interface Options {
  readonly sizeMb: number;
  readonly writes: number;
  readonly baseline: string | undefined;
}

function parseOptions(argv: readonly string[]): Options {
  let sizeMb = 200;
  let writes = 1000;
  let baseline: string | undefined;
  for (let position = 0; position < argv.length; position += 1) {
    const name = argv[position];
    const value = argv[position + 1];
    if (value === undefined) throw new Error(`${name} needs a value`);
    position += 1;
    if (name === '--size-mb') sizeMb = Number(value);
    else if (name === '--writes') writes = Number(value);
    else if (name === '--baseline') baseline = value;
    else throw new Error(`unknown option ${name}; usage: npm run bench:snapshot -- [--size-mb 200] [--writes 1000] [--baseline DIR]`);
  }
  if (!(sizeMb >= 1 && sizeMb <= 10_000) || !(writes >= 10 && writes <= 100_000)) throw new Error('--size-mb 1..10000, --writes 10..100000');
  return { sizeMb, writes, baseline };
}

interface Design {
  readonly name: string;
  readonly cli: string;
  /** Flags beside the common ones: the new design's WAL-size trigger is off, so both snapshot by entry count alone. */
  readonly flags: readonly string[];
  readonly firstHostIndex: number;
}

interface DesignResult {
  readonly name: string;
  readonly firstSnapshotMs: number;
  readonly snapshotMs: number;
  readonly snapshotBytesWritten: number;
  readonly snapshotLog: string;
  readonly dataDirectoryBytes: number;
  readonly writesOutside: readonly number[];
  readonly writesDuring: readonly number[];
  readonly catchUpMs: number;
}

const blobBytes = 100_000;
const fillRowsPerEntry = 100;
const statusPollMs = 10;
const latencyClientCount = 4;
const latencySecondsMax = 60;

/** Polls `probe` every `intervalMs` until it is true; throws after `timeoutMs` naming `what`. */
async function pollUntil(what: string, probe: () => Promise<boolean>, intervalMs: number, timeoutMs = 600_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

function writeBytesOf(node: TestNode): number {
  const pid = node.process?.pid;
  if (pid === undefined) return 0;
  const line = readFileSync(`/proc/${pid}/io`, 'utf8')
    .split('\n')
    .find((text) => text.startsWith('write_bytes:'));
  return Number(line?.split(':')[1]?.trim() ?? 0);
}

function directoryBytes(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((total, name) => total + directoryBytes(join(path, name)), 0);
}

/** `quorumlite serve` of `cli` for `node`, with the arguments TestNode.start gives. */
function start(node: TestNode, cli: string, flags: readonly string[]): void {
  const address = ['--data-dir', node.dataDirectory, '--http-addr', `${node.spec.host}:${node.spec.httpPort}`, '--raft-addr', node.raftAddress];
  node.startProgram([process.execPath, cli, 'serve', ...address, '--log-level', 'info', ...flags]);
}

async function snapshotIndex(node: TestNode): Promise<{ snapshot: number; applied: number }> {
  const raft = ((await node.status()).store as { raft: { last_snapshot_index: number; applied_index: number } }).raft;
  return { snapshot: raft.last_snapshot_index, applied: raft.applied_index };
}

async function execute(node: TestNode, statements: unknown): Promise<number> {
  const started = performance.now();
  const answer = await node.execute(statements);
  if (answer.status !== 200 || answer.text.includes('"error"')) throw new Error(`write failed: ${answer.status} ${answer.text.slice(0, 200)}`);
  return performance.now() - started;
}

async function fill(node: TestNode, sizeMb: number): Promise<void> {
  await execute(node, ['CREATE TABLE big (id INTEGER PRIMARY KEY, b BLOB)', 'CREATE TABLE small (id INTEGER PRIMARY KEY, v TEXT)']);
  const entries = Math.ceil((sizeMb * 1_000_000) / (blobBytes * fillRowsPerEntry));
  const rows = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${fillRowsPerEntry})`;
  const sql = `INSERT INTO big(b) ${rows} SELECT randomblob(${blobBytes}) FROM c`;
  for (let entry = 0; entry < entries; entry++) await execute(node, [sql]);
}

/** Waits until the node has written nothing for `quietMs` (a fold after a snapshot, say); returns its write_bytes then. */
async function quiet(node: TestNode, quietMs = 1000): Promise<number> {
  let last = writeBytesOf(node);
  let since = performance.now();
  for (;;) {
    await sleep(100);
    const now = writeBytesOf(node);
    if (now !== last) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) {
      return now;
    }
  }
}

/** Small writes until a snapshot past `after` shows; resolves when it shows (the writes stop at the threshold). */
async function snapshotAfterWrites(node: TestNode, writes: number): Promise<{ ms: number; bytes: number }> {
  const before = await snapshotIndex(node);
  const needed = before.snapshot + writes - before.applied;
  for (let row = 0; row < needed; row++) await execute(node, [['INSERT INTO small(v) VALUES (?)', `row ${row} ${'v'.repeat(64)}`]]);
  const crossedBytes = writeBytesOf(node);
  const crossed = performance.now();
  await pollUntil('the snapshot', async () => (await snapshotIndex(node)).snapshot > before.snapshot, statusPollMs);
  const ms = performance.now() - crossed;
  const bytes = (await quiet(node)) - crossedBytes;
  return { ms, bytes };
}

/** Writes from a few clients across at least two snapshots; each write is "during" when it overlaps a snapshot's window. */
async function latencyAcrossSnapshots(node: TestNode, writes: number): Promise<{ outside: number[]; during: number[] }> {
  const windows: [number, number][] = [];
  const samples: [number, number][] = [];
  const deadline = performance.now() + latencySecondsMax * 1000;
  let stop = false;
  const watcher = (async () => {
    let { snapshot } = await snapshotIndex(node);
    let crossedAt: number | undefined;
    while (!stop && windows.length < 2 && performance.now() < deadline) {
      const status = await snapshotIndex(node);
      if (crossedAt === undefined && status.applied - snapshot >= writes) crossedAt = performance.now();
      if (status.snapshot > snapshot) {
        windows.push([crossedAt ?? performance.now(), performance.now()]);
        snapshot = status.snapshot;
        crossedAt = undefined;
      }
      await sleep(statusPollMs);
    }
    stop = true;
  })();
  const client = async (clientNumber: number): Promise<void> => {
    for (let row = 0; !stop; row++) {
      const started = performance.now();
      await execute(node, [['INSERT INTO small(v) VALUES (?)', `latency ${clientNumber} ${row}`]]);
      samples.push([started, performance.now()]);
    }
  };
  await Promise.all([watcher, ...Array.from({ length: latencyClientCount }, (_, clientNumber) => client(clientNumber))]);
  const during = samples.filter(([begin, end]) => windows.some(([from, to]) => begin < to && end > from));
  const outside = samples.filter((sample) => !during.includes(sample));
  const latency = ([begin, end]: [number, number]): number => end - begin;
  return { outside: outside.map(latency), during: during.map(latency) };
}

async function catchUp(cluster: TestCluster, design: Design): Promise<number> {
  const [first, second] = cluster.nodes as [TestNode, TestNode];
  const target = (await snapshotIndex(first)).applied;
  const started = performance.now();
  start(second, design.cli, [...commonFlags(), ...design.flags, '--join', first.raftAddress]);
  await pollUntil('the new member caught up', async () => (await snapshotIndex(second)).applied >= target, 50);
  return performance.now() - started;
}

let writesPerSnapshot = 1000;
function commonFlags(): string[] {
  return ['--raft-snap', String(writesPerSnapshot), '--raft-snap-int', '50ms'];
}

function snapshotLogLines(node: TestNode): string {
  return (
    node
      .log()
      .split('\n')
      .filter((line) => line.includes('"event":"snapshot"'))
      .map((line) => {
        const fields = JSON.parse(line) as Record<string, unknown>;
        return ['format', 'durationMs', 'eventLoopMs', 'dataBytes']
          .filter((key) => fields[key] !== undefined)
          .map((key) => `${key}=${typeof fields[key] === 'number' ? Math.round(fields[key] as number) : String(fields[key])}`)
          .join(' ');
      })
      .at(-1) ?? '(not logged)'
  );
}

async function runDesign(design: Design, options: Options): Promise<DesignResult> {
  const cluster = await TestCluster.create({ size: 2, formation: 'join', firstHostIndex: design.firstHostIndex });
  try {
    const first = cluster.node(1);
    start(first, design.cli, [...commonFlags(), ...design.flags]);
    await cluster.waitForLeader([first]);
    process.stdout.write(`${design.name}: filling ${options.sizeMb} MB\n`);
    await fill(first, options.sizeMb);
    await quiet(first);
    const firstSnapshot = await snapshotAfterWrites(first, options.writes);
    await quiet(first);
    process.stdout.write(`${design.name}: first snapshot after ${Math.round(firstSnapshot.ms)} ms; measuring the next\n`);
    const measured = await snapshotAfterWrites(first, options.writes);
    const snapshotLog = snapshotLogLines(first);
    const dataDirectoryBytes = directoryBytes(first.dataDirectory);
    process.stdout.write(`${design.name}: write latency across snapshots\n`);
    const latency = await latencyAcrossSnapshots(first, options.writes);
    await quiet(first);
    process.stdout.write(`${design.name}: a new member catches up\n`);
    const catchUpMs = await catchUp(cluster, design);
    return {
      name: design.name,
      firstSnapshotMs: firstSnapshot.ms,
      snapshotMs: measured.ms,
      snapshotBytesWritten: measured.bytes,
      snapshotLog,
      dataDirectoryBytes,
      writesOutside: latency.outside,
      writesDuring: latency.during,
      catchUpMs,
    };
  } finally {
    await cluster.close();
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

function latencyCell(samples: readonly number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `${percentile(sorted, 0.5).toFixed(1)} / ${percentile(sorted, 0.99).toFixed(1)} ms (${sorted.length})`;
}

function report(results: readonly DesignResult[], options: Options): void {
  const rows: [string, (result: DesignResult) => string][] = [
    ['first snapshot (both: a full copy)', (result) => `${Math.round(result.firstSnapshotMs)} ms`],
    [`snapshot after ${options.writes} small writes`, (result) => `${Math.round(result.snapshotMs)} ms`],
    ['  bytes the node wrote for it', (result) => megabytes(result.snapshotBytesWritten)],
    ['  as the node logged it', (result) => result.snapshotLog],
    ['data directory on disk', (result) => megabytes(result.dataDirectoryBytes)],
    ['write p50 / p99, no snapshot running (count)', (result) => latencyCell(result.writesOutside)],
    ['write p50 / p99, a snapshot running (count)', (result) => latencyCell(result.writesDuring)],
    ['a new member catches up', (result) => `${(result.catchUpMs / 1000).toFixed(1)} s`],
  ];
  const widths = [
    Math.max(...rows.map(([label]) => label.length)),
    ...results.map((result) => Math.max(result.name.length, ...rows.map(([, cell]) => cell(result).length))),
  ];
  const line = (cells: readonly string[]): string => `| ${cells.map((cell, position) => cell.padEnd(widths[position] ?? 0)).join(' | ')} |`;
  process.stdout.write(`\nSnapshots on a ${options.sizeMb} MB database (2 cores, loopback)\n\n`);
  process.stdout.write(`${line(['', ...results.map((result) => result.name)])}\n`);
  process.stdout.write(`${line(widths.map((width) => '-'.repeat(width)))}\n`);
  for (const [label, cell] of rows) process.stdout.write(`${line([label, ...results.map(cell)])}\n`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  writesPerSnapshot = options.writes;
  const designs: Design[] = [];
  if (options.baseline !== undefined) {
    const cli = join(options.baseline, 'dist', 'cli', 'main.js');
    if (!existsSync(cli)) throw new Error(`${cli} is missing: build the baseline checkout first`);
    designs.push({ name: 'full copies (before)', cli, flags: [], firstHostIndex: 231 });
  }
  designs.push({ name: 'deltas (now)', cli: cliPath, flags: ['--raft-snap-wal-size', '0'], firstHostIndex: 233 });
  const results: DesignResult[] = [];
  for (const design of designs) results.push(await runDesign(design, options));
  report(results, options);
}

await main();
