/**
 * Change data capture on a real 3-node cluster: an HTTP endpoint in the test that fails
 * for a while, a kill -9 of the leader mid-workload. After deduplication by index, the
 * endpoint has every change of the workload exactly once, in order. Also stdout mode.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster, sleep, waitFor, type TestNode } from './harness.js';

interface Payload {
  readonly index: number;
  readonly commit_timestamp: number;
  readonly events: readonly { op: string; table?: string; new_row_id?: number; old_row_id?: number; before?: unknown; after?: Record<string, unknown> }[];
}

/** The endpoint: answers 503 while `failing`, else records each POSTed envelope's payload. */
function startEndpoint(): Promise<{ server: Server; url: string; received: Payload[]; posts: { failing: boolean; count: number }; nodeIds: Set<string> }> {
  const received: Payload[] = [];
  const posts = { failing: false, count: 0 };
  const nodeIds = new Set<string>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      posts.count += 1;
      if (posts.failing) {
        response.writeHead(503).end();
        return;
      }
      const envelope = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { node_id: string; payload: Payload[] };
      nodeIds.add(envelope.node_id);
      received.push(...envelope.payload);
      response.writeHead(200).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/cdc`, received, posts, nodeIds }),
    ),
  );
}

const clusters: TestCluster[] = [];
const servers: Server[] = [];
const configPath = join(tmpdir(), `quorumlite-cdc-${process.pid}.json`);

after(async () => {
  for (const cluster of clusters) await cluster.close();
  for (const server of servers) server.close();
  rmSync(configPath, { force: true });
});

async function insertRows(nodes: () => TestNode[], from: number, to: number): Promise<void> {
  for (let value = from; value <= to; value++) {
    for (let attempt = 0; ; attempt++) {
      const node = nodes()[value % nodes().length] as TestNode;
      try {
        const answer = await node.execute([['INSERT INTO items(id, value) VALUES (?, ?) ON CONFLICT(id) DO NOTHING', value, `v${value}`]]);
        if (answer.status === 200 && (answer.body as { results: { error?: string }[] }).results[0]?.error === undefined) break;
      } catch {
        // the node died mid-request: try again (the insert is idempotent)
      }
      assert.ok(attempt < 200, `row ${value} was written`);
      await sleep(100);
    }
  }
}

test('every change reaches the endpoint once after dedup by index, in order, across a failing endpoint and a leader kill -9', async () => {
  const endpoint = await startEndpoint();
  servers.push(endpoint.server);
  writeFileSync(configPath, JSON.stringify({ endpoint: endpoint.url, max_batch_size: 5, high_watermark_interval: '200ms', transmit_min_backoff: '100ms' }));
  const cluster = await TestCluster.create({ size: 3, formation: 'join', flags: ['-cdc-config', configPath] });
  clusters.push(cluster);
  await cluster.withLogs(async () => {
    await cluster.start();
    const leader = await cluster.waitForLeader();
    await leader.execute(['CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT)']);
    await insertRows(() => cluster.running(), 1, 30);
    endpoint.posts.failing = true;
    await insertRows(() => cluster.running(), 31, 60);
    const postsWhileFailing = endpoint.posts.count;
    await waitFor('the endpoint is retried while it fails', async () => (endpoint.posts.count > postsWhileFailing + 2 ? true : undefined));
    endpoint.posts.failing = false;
    await insertRows(() => cluster.running(), 61, 80);
    await (await cluster.waitForLeader()).kill();
    await insertRows(() => cluster.running(), 81, 120);
    const survivor = await cluster.waitForLeader(cluster.running());
    await survivor.execute(["UPDATE items SET value = value || '!' WHERE id <= 3", 'DELETE FROM items WHERE id = 120']);
    const expectedChangeCount = 120 + 3 + 1;
    const deduplicated = (): Payload[] => [...new Map(endpoint.received.map((payload) => [payload.index, payload])).values()].sort((a, b) => a.index - b.index);
    const changeCount = (): number => deduplicated().reduce((count, payload) => count + payload.events.length, 0);
    await waitFor('every change delivered', async () => (changeCount() >= expectedChangeCount ? true : undefined));
    const payloads = deduplicated();
    // In order: an index lower than one already received is a re-send (at least once), identical to the first.
    let highest = 0;
    for (const payload of endpoint.received) {
      if (payload.index <= highest)
        assert.deepEqual(
          payload,
          payloads.find((kept) => kept.index === payload.index),
        );
      highest = Math.max(highest, payload.index);
    }
    const events = payloads.flatMap((payload) => payload.events);
    const inserted = events.filter((event) => event.op === 'INSERT').map((event) => event.new_row_id);
    assert.deepEqual(
      inserted,
      Array.from({ length: 120 }, (_, offset) => offset + 1),
    );
    assert.deepEqual(events.find((event) => event.op === 'INSERT')?.after, { id: 1, value: 'v1' });
    assert.equal(events.filter((event) => event.op === 'UPDATE').length, 3);
    assert.deepEqual(
      events.filter((event) => event.op === 'DELETE').map((event) => event.old_row_id),
      [120],
    );
    assert.equal(events.length, expectedChangeCount);
    assert.ok(endpoint.nodeIds.size >= 2, `a second leader sent after the kill (${[...endpoint.nodeIds].join(', ')})`);
  });
});

test('stdout mode: the leader prints each batch as a JSON line in rqlite envelope', async () => {
  const cluster = await TestCluster.create({ size: 1, formation: 'join', flags: ['-cdc-config', 'stdout'] });
  clusters.push(cluster);
  await cluster.withLogs(async () => {
    await cluster.start();
    const node = cluster.node(1);
    await node.execute(['CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, name TEXT)', `INSERT INTO users(id, name) VALUES(7, 'fiona')`]);
    const line = await waitFor('the change printed', async () =>
      node
        .log()
        .split('\n')
        .find((text) => text.startsWith('{"node_id"')),
    );
    const envelope = JSON.parse(line) as { node_id: string; payload: Payload[] };
    assert.equal(typeof envelope.node_id, 'string');
    assert.deepEqual(Object.keys(envelope), ['node_id', 'payload']);
    assert.deepEqual(envelope.payload[0]?.events, [{ op: 'INSERT', table: 'users', new_row_id: 7, after: { id: 7, name: 'fiona' } }]);
    const metrics = await node.request('/metrics');
    assert.match(metrics.text, /quorumlite_cdc_queue_depth 0/);
  });
});
