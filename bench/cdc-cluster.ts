/**
 * The cost of change data capture on a real cluster's write throughput: two 3-node
 * clusters side by side (built CLI), one without -cdc-config and one sending every change
 * to a local endpoint that answers 200; concurrent single-row INSERTs against each
 * leader in turn (A B A B …, roundSeconds each), ratio of CDC to plain per round pair,
 * median. Bounded: roundCount × 2 × roundSeconds of load, plus the clusters' start.
 * Build first (`npm run build`). BENCH_CDC_ROUNDS, BENCH_CDC_CLIENTS vary it.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { TestCluster, type TestNode } from '../test/cluster/harness.js';
import { median } from './lib/measure.js';

const roundCount = Number(process.env['BENCH_CDC_ROUNDS'] ?? 4);
const roundSeconds = 2;
const clientCount = Number(process.env['BENCH_CDC_CLIENTS'] ?? 16);

async function insertsPerSecond(leader: TestNode, firstKey: number): Promise<number> {
  const pool = new Pool(`http://${leader.spec.host}:${leader.spec.httpPort}`, { connections: clientCount });
  const deadline = performance.now() + roundSeconds * 1000;
  let done = 0;
  const client = async (clientIndex: number): Promise<void> => {
    for (let sequence = 0; performance.now() < deadline; sequence++) {
      const body = JSON.stringify([['INSERT INTO t(k, v) VALUES (?, ?)', firstKey + clientIndex * 1_000_000 + sequence, 'value']]);
      const response = await pool.request({ method: 'POST', path: '/db/execute', body, headers: { 'content-type': 'application/json' } });
      const text = await response.body.text();
      if (response.statusCode === 200 && !text.includes('"error"')) done += 1;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clientCount }, (_, index) => client(index)));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return done / seconds;
}

async function main(): Promise<void> {
  let received = 0;
  const endpoint = createServer((request, response) => {
    request.on('data', () => undefined);
    request.on('end', () => {
      received += 1;
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(endpoint.address() as { port: number }).port}/cdc`;
  const plain = await TestCluster.create({ size: 3, formation: 'join', flags: ['--log-level', 'warn'] });
  const captured = await TestCluster.create({ size: 3, formation: 'join', flags: ['--log-level', 'warn', '-cdc-config', url], firstHostIndex: 4 });
  try {
    await plain.start();
    await captured.start();
    const leaders = { plain: await plain.waitForLeader(), captured: await captured.waitForLeader() };
    for (const leader of Object.values(leaders)) await leader.execute(['CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)']);
    const ratios: number[] = [];
    const rates = { plain: [] as number[], captured: [] as number[] };
    for (let round = 0; round < roundCount; round++) {
      // Alternate which side goes first, so neither always follows the other.
      const order = round % 2 === 0 ? (['plain', 'captured'] as const) : (['captured', 'plain'] as const);
      const result = { plain: 0, captured: 0 };
      for (const side of order) result[side] = await insertsPerSecond(leaders[side], round * 100_000_000);
      rates.plain.push(result.plain);
      rates.captured.push(result.captured);
      ratios.push(result.captured / result.plain);
    }
    console.log(`# CDC on cluster write throughput: 3 nodes, ${clientCount} clients, ${roundCount} round pairs of ${roundSeconds} s\n`);
    console.log('| side | INSERTs/s (median) |\n| --- | --- |');
    console.log(`| no CDC | ${Math.round(median(rates.plain))} |\n| CDC to an HTTP endpoint | ${Math.round(median(rates.captured))} |`);
    console.log(`\nratio CDC / no CDC (median of round pairs): ${median(ratios).toFixed(2)}; endpoint received ${received} batches`);
  } finally {
    await plain.close();
    await captured.close();
    endpoint.close();
  }
}

await main();
