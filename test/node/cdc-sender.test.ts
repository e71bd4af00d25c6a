import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCdcFlag } from '../../src/node/cdc-config.js';
import { CdcQueue } from '../../src/node/cdc-queue.js';
import { CdcSender } from '../../src/node/cdc-sender.js';
import { silentLogger } from '../../src/node/logger.js';
import type { PeerTransport } from '../../src/node/peer-calls.js';
import type { CapturedEntry } from '../../src/state-machine/change-capture.js';

function captured(index: number): CapturedEntry {
  return {
    index,
    timestampMs: 1_000,
    changes: [{ operation: 'DELETE', table: 't', oldRowId: BigInt(index), newRowId: undefined, before: '{"a":1}', after: undefined }],
    truncated: false,
  };
}

/** An endpoint that refuses the first `failures` POSTs with 503, then records bodies. */
async function endpoint(failures: number): Promise<{ server: Server; url: string; bodies: string[]; attempts: () => number }> {
  const bodies: string[] = [];
  let attempts = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      attempts += 1;
      if (attempts <= failures) {
        response.writeHead(503).end();
        return;
      }
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/cdc`, bodies, attempts: () => attempts };
}

const noPeers: PeerTransport = { call: async () => ({ ok: true, value: null }), handle: () => undefined };
const leaderAlone = { isLeader: true, appliedIndex: 0, confState: () => ({ voters: ['n1'], learners: [] }) };

async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!probe()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('the sender retries a failing endpoint, then delivers in order in rqlite envelope; a 2xx moves the mark', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-cdc-sender-'));
  const server = await endpoint(3);
  const queue = new CdcQueue({ path: join(directory, 'queue.sqlite'), entryCountMax: 100 });
  const config = parseCdcFlag('file', () => JSON.stringify({ endpoint: server.url, service_id: 'svc', max_batch_size: 2, transmit_min_backoff: '10ms' }));
  const sender = new CdcSender({ config, queue, log: leaderAlone, peers: noPeers, nodeId: 'n1', logger: silentLogger });
  try {
    queue.record(1, 3, [captured(1), captured(2), captured(3)]);
    sender.start();
    await until('every entry delivered', () => queue.highWaterMark === 3);
    assert.equal(server.attempts(), 5);
    assert.equal(sender.failedSendCount, 3);
    assert.deepEqual(server.bodies, [
      '{"service_id":"svc","node_id":"n1","payload":[' +
        '{"index":1,"commit_timestamp":1000000,"events":[{"op":"DELETE","table":"t","old_row_id":1,"before":{"a":1}}]},' +
        '{"index":2,"commit_timestamp":1000000,"events":[{"op":"DELETE","table":"t","old_row_id":2,"before":{"a":1}}]}]}',
      '{"service_id":"svc","node_id":"n1","payload":[' +
        '{"index":3,"commit_timestamp":1000000,"events":[{"op":"DELETE","table":"t","old_row_id":3,"before":{"a":1}}]}]}',
    ]);
    assert.equal(queue.depth, 0);
  } finally {
    await sender.stop();
    queue.close();
    server.server.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

test('stopping ends a long backoff at once; a follower sends nothing', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-cdc-sender-'));
  const server = await endpoint(1_000);
  const queue = new CdcQueue({ path: join(directory, 'queue.sqlite'), entryCountMax: 100 });
  const config = parseCdcFlag(server.url, () => '');
  const follower = new CdcSender({ config, queue, log: { ...leaderAlone, isLeader: false }, peers: noPeers, nodeId: 'n2', logger: silentLogger });
  const leader = new CdcSender({ config: { ...config, backoffMinMs: 60_000 }, queue, log: leaderAlone, peers: noPeers, nodeId: 'n1', logger: silentLogger });
  try {
    queue.record(1, 1, [captured(1)]);
    follower.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(server.attempts(), 0);
    leader.start();
    await until('a first attempt', () => server.attempts() === 1);
    const startedMs = Date.now();
    await leader.stop();
    assert.ok(Date.now() - startedMs < 2_000, `stop took ${Date.now() - startedMs} ms`);
    assert.equal(queue.highWaterMark, 0, 'nothing acknowledged: the next leader sends it');
  } finally {
    await follower.stop();
    queue.close();
    server.server.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
