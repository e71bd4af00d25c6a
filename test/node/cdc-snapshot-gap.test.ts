/**
 * Change data capture across a snapshot install: a follower cut off while the leader
 * writes and compacts catches up by a snapshot, so it never applied (never queued) the
 * entries the snapshot covers. The endpoint refuses everything until that follower leads;
 * then it must still receive every row's event, in index order: the new leader fills the
 * gap in its queue from the other members (cdc-queue.ts, cdc-sender.ts).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { parseCdcFlag } from '../../src/node/cdc-config.js';
import type { QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, statement } from './requests.js';
import { TestNodes } from './start-node.js';

const context = { signal: new AbortController().signal };
const testNodes = new TestNodes('cdc-snapshot-gap');
let server: Server | undefined;

after(async () => {
  server?.close();
  await testNodes.stopAll();
});

interface Payload {
  readonly index: number;
  readonly events: readonly { readonly op: string; readonly after?: { readonly v?: number } }[];
}

/** An endpoint that accepts only the batches `acceptedNodeId()` sends (503 otherwise), and keeps their payloads. */
async function endpoint(acceptedNodeId: () => string | undefined): Promise<{ url: string; payloads: Payload[] }> {
  const payloads: Payload[] = [];
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { node_id: string; payload: Payload[] };
      if (body.node_id !== acceptedNodeId()) {
        response.writeHead(503).end();
        return;
      }
      payloads.push(...body.payload);
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/cdc`, payloads };
}

const rowCount = 20;

test('a follower that installed a snapshot and then leads sends the events the snapshot covered, from its peers, in order', async () => {
  let acceptedNodeId: string | undefined;
  const { url, payloads } = await endpoint(() => acceptedNodeId);
  const cdc = parseCdcFlag('cdc.json', () => JSON.stringify({ endpoint: url, transmit_min_backoff: '50ms', high_watermark_interval: '100ms' }));
  const options: Partial<QuorumNodeOptions> = {
    heartbeatMs: 50,
    electionTimeoutMs: 500,
    snapshotThresholdEntries: 8,
    snapshotTrailingEntries: 2,
    snapshotIntervalMs: 100,
    cdc,
  };
  const leader = await testNodes.start(options);
  await waitFor('the first node leads', () => (leader.runtime.isLeader ? true : undefined));
  const joining = { ...options, joinAddresses: [leader.config.raftAdvertisedAddress] };
  const follower = await testNodes.start(joining);
  await testNodes.start(joining);
  await waitFor('three voters', () => (leader.runtime.confState().voters.length === 3 ? true : undefined));
  await leader.service.execute(executeRequest([statement('CREATE TABLE t (v INTEGER)')]), context);
  await waitFor('the follower has the table', () => (follower.runtime.appliedIndex >= leader.runtime.appliedIndex ? true : undefined));

  // Cut off while the leader writes and compacts past it: it can only catch up by a snapshot.
  leader.faults.isolate(follower.config.nodeId);
  follower.faults.isolate(leader.config.nodeId);
  for (let row = 1; row <= rowCount; row++) await leader.service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', row)]), context);
  await waitFor('the leader compacted past the follower', () => (leader.runtime.position().firstIndex > follower.runtime.appliedIndex + 1 ? true : undefined));
  leader.faults.heal();
  follower.faults.heal();
  await waitFor('the follower caught up', () => (follower.runtime.appliedIndex >= leader.runtime.appliedIndex ? true : undefined), 30_000);

  leader.runtime.transferLeadership(follower.config.nodeId);
  await waitFor('the follower leads', () => (follower.runtime.isLeader ? true : undefined), 30_000);
  acceptedNodeId = follower.config.nodeId;
  await follower.service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', rowCount + 1)]), context);

  const values = (): number[] => payloads.flatMap((payload) => payload.events.map((event) => event.after?.v ?? -1));
  await waitFor('every row reached the endpoint', () => (values().length >= rowCount + 1 ? true : undefined), 30_000).catch(() => undefined);
  assert.deepEqual(
    values(),
    Array.from({ length: rowCount + 1 }, (_, position) => position + 1),
  );
  const indexes = payloads.map((payload) => payload.index);
  assert.deepEqual(
    indexes,
    [...indexes].sort((left, right) => left - right),
    'in index order',
  );
  assert.ok(payloads.every((payload) => payload.events.every((event) => event.op === 'INSERT')));
});
