/**
 * The replica feed's bounds on a real in-process node (src/node/log-streams.ts,
 * src/http/replica-handlers.ts): a reader that stops reading is cut off once the socket
 * stops taking bytes for `responseStallTimeoutMs`, its slot freed, instead of the node
 * buffering the log for it; and a node that stops ends its streams with an error frame at
 * once rather than holding its shutdown.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, it } from 'node:test';
import { LogStreamFrameReader, type LogStreamFrame } from '../../src/common/log-stream-frames.js';
import { waitFor } from '../cluster/harness.js';
import { TestNodes } from './start-node.js';

const nodes = new TestNodes('log-streams', { http: { responseStallTimeoutMs: 300 }, logStreams: { heartbeatIntervalMs: 100 } });
after(() => nodes.stopAll());

/** Entries of this many bytes of SQL each: a few of them overflow any socket's buffers. */
const entryTextBytes = 400_000;
const entryCount = 40;

async function execute(baseUrl: string, statements: unknown[]): Promise<void> {
  const response = await fetch(`${baseUrl}/db/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(statements) });
  assert.equal(response.status, 200, await response.text());
}

it('cuts off a reader that takes nothing, and frees its slot', async () => {
  const node = await nodes.start();
  const [host, port] = [node.httpAddress.host, node.httpAddress.port];
  const baseUrl = `http://${host}:${port}`;
  await execute(baseUrl, ['CREATE TABLE t (x TEXT)']);
  const socket = connect(port, host);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(`GET /db/stream?from=0 HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  socket.pause(); // never reads: the node's writes back up
  await waitFor('the stream opened', () => (node.logStreams.openCount === 1 ? true : undefined));
  const text = 'x'.repeat(entryTextBytes);
  for (let entry = 0; entry < entryCount; entry += 1) await execute(baseUrl, [`INSERT INTO t VALUES ('${text}')`]);
  await waitFor('the stalled stream was cut off', () => (node.logStreams.openCount === 0 ? true : undefined), 20_000);
  socket.destroy();
});

it('ends its streams with an error frame when the node stops', async () => {
  const node = await nodes.start();
  const baseUrl = `http://${node.httpAddress.host}:${node.httpAddress.port}`;
  const response = await fetch(`${baseUrl}/db/stream?from=0`);
  assert.equal(response.status, 200);
  const frames: LogStreamFrame[] = [];
  const reader = new LogStreamFrameReader();
  const reading = (async () => {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) frames.push(...reader.push(chunk));
  })();
  await waitFor('a heartbeat', () => (frames.some((frame) => frame.kind === 'heartbeat') ? true : undefined));
  const stoppedAtMs = performance.now();
  await node.stop({ transferLeadership: false });
  await reading;
  assert.ok(performance.now() - stoppedAtMs < 5_000, 'the open stream did not hold the stop');
  const last = frames.at(-1);
  assert.equal(last?.kind, 'error');
  assert.equal(last.kind === 'error' ? last.code : '', 'UNAVAILABLE');
});
