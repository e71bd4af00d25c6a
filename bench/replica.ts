/**
 * Reads through an embedded replica (quorumlite/replica: SQLite in this process) next to
 * the same reads over HTTP at level none (quorumlite/client, one round trip to a node),
 * against one real node of the built CLI. Each round runs both sides, one after the
 * other (A B A B …), so machine noise hits both alike; the table shows per-round medians
 * and the ratio. Run: `npm run build && node --import tsx bench/replica.ts`
 * (BENCH_REPLICA_ROUNDS, default 5). Bounded: rounds × 2 × (pointReadCount + manyRowReadCount) reads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient as createHttpClient, type Client } from '../src/client/index.js';
import { createClient as createReplicaClient } from '../src/replica/index.js';
import { TestCluster } from '../test/cluster/harness.js';
import { median, microsecondsPerCall } from './lib/measure.js';

process.env['TZ'] = 'UTC';
const roundCount = Number(process.env['BENCH_REPLICA_ROUNDS'] ?? 5);
const pointReadCount = 1_000;
const manyRowReadCount = 100;
const tableRowCount = 1_000;

const directory = mkdtempSync(join(tmpdir(), 'quorumlite-bench-replica-'));
const cluster = await TestCluster.create({ size: 1, formation: 'join', flags: ['--log-level', 'warn'] });
let remote: Client | undefined;
let local: ReturnType<typeof createReplicaClient> | undefined;
try {
  await cluster.start();
  const nodes = [cluster.node(1).url];
  remote = createHttpClient({ nodes, consistency: 'none' });
  local = createReplicaClient({ nodes, replica: { path: join(directory, 'replica.db') } });
  await remote.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)');
  const filled = await remote.execute(
    `INSERT INTO t WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${tableRowCount}) SELECT x, printf('name%d', x) FROM c`,
  );
  if (!(await local.replica.waitForApplied(filled.raftIndex ?? 0, 30_000))) throw new Error('the replica did not catch up');
  const sides = { replica: local, http: remote };
  const point = (client: Client) => (position: number) => client.query({ sql: 'SELECT * FROM t WHERE id = ?', args: [1 + (position % tableRowCount)] });
  const manyRows = (client: Client) => () => client.query('SELECT * FROM t LIMIT 100');
  await microsecondsPerCall(200, point(remote)); // sockets open, JIT warm
  await microsecondsPerCall(200, point(local));
  const samples = { pointReplica: [] as number[], pointHttp: [] as number[], manyReplica: [] as number[], manyHttp: [] as number[] };
  for (let round = 0; round < roundCount; round++) {
    samples.pointReplica.push(await microsecondsPerCall(pointReadCount, point(sides.replica)));
    samples.pointHttp.push(await microsecondsPerCall(pointReadCount, point(sides.http)));
    samples.manyReplica.push(await microsecondsPerCall(manyRowReadCount, manyRows(sides.replica)));
    samples.manyHttp.push(await microsecondsPerCall(manyRowReadCount, manyRows(sides.http)));
  }
  const row = (name: string, replica: number[], http: number[]) => ({
    read: name,
    'replica µs': median(replica).toFixed(1),
    'HTTP level none µs': median(http).toFixed(1),
    'ratio (HTTP / replica)': (median(http) / median(replica)).toFixed(1),
  });
  console.table([row('point read', samples.pointReplica, samples.pointHttp), row('100 rows', samples.manyReplica, samples.manyHttp)]);
} finally {
  await local?.close();
  await remote?.close();
  await cluster.close();
  rmSync(directory, { recursive: true, force: true });
}
