/**
 * What only the in-memory network has: its own address space, socket-like
 * backpressure, and no streams left open after close().
 */
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { TransportError } from '../../src/transport/errors.js';
import { MemoryNetwork } from '../../src/transport/memory-network.js';
import { MemoryTransport } from '../../src/transport/memory-transport.js';
import { sleep, waitFor, type TestMessage } from './helpers.js';

describe('MemoryNetwork', () => {
  it('refuses a taken address, an empty one, and dials to nowhere', async () => {
    const network = new MemoryNetwork();
    const listener = await network.listen('n1', () => undefined);
    await assert.rejects(
      network.listen('n1', () => undefined),
      (error: unknown) => error instanceof TransportError && error.code === 'INVALID_ARGUMENT',
    );
    await assert.rejects(
      network.listen('', () => undefined),
      (error: unknown) => error instanceof TransportError && error.code === 'INVALID_ARGUMENT',
    );
    await assert.rejects(network.dial('n2', 1000), (error: unknown) => error instanceof TransportError && error.code === 'UNREACHABLE');
    await listener.close();
    await assert.rejects(network.dial('n1', 1000), (error: unknown) => error instanceof TransportError && error.code === 'UNREACHABLE');
  });

  it('applies backpressure like a socket: a writer whose reader stops must wait for drain', async () => {
    const network = new MemoryNetwork();
    const accepted: Duplex[] = [];
    const listener = await network.listen('server', (stream) => accepted.push(stream));
    const client = await network.dial('server', 1000);
    const server = accepted[0] as Duplex;
    const chunk = Buffer.alloc(8 * 1024, 1);
    let writes = 0;
    // Bounded: a reader that never reads must push back long before this many writes.
    while (client.write(chunk) && writes < 1000) writes++;
    assert.ok(writes < 100, `the writer was told to wait after ${writes} writes`);
    let drained = false;
    client.once('drain', () => (drained = true));
    await sleep(20);
    assert.equal(drained, false, 'no drain while the reader is stalled');
    let receivedBytes = 0;
    server.on('data', (data: Buffer) => (receivedBytes += data.byteLength));
    await waitFor('drain once the reader reads', () => drained);
    await waitFor('every byte', () => receivedBytes === (writes + 1) * chunk.byteLength);
    client.destroy();
    await waitFor('both ends closed', () => network.openStreamCount === 0);
    await listener.close();
  });

  it('closes a link to a bare address once its calls are answered', async () => {
    const network = new MemoryNetwork();
    const leader = new MemoryTransport<TestMessage>({ network, nodeId: 'leader', clusterId: 'c', listenAddress: 'leader' });
    const joiner = new MemoryTransport<TestMessage>({ network, nodeId: 'joiner', clusterId: 'c', listenAddress: 'joiner' });
    await leader.start();
    await joiner.start();
    leader.handle('join', async () => 'welcome');
    assert.deepStrictEqual(await Promise.all([joiner.call({ address: 'leader' }, 'join', {}), joiner.call({ address: 'leader' }, 'join', {})]), [
      'welcome',
      'welcome',
    ]);
    await waitFor('the bare-address link to close', () => network.openStreamCount === 0);
    assert.equal(await joiner.call({ address: 'leader' }, 'join', {}), 'welcome', 'a later call dials again');
    await joiner.close();
    await leader.close();
  });

  it('refuses to send before start() resolved (a programmer error)', async () => {
    const network = new MemoryNetwork();
    const early = new MemoryTransport<TestMessage>({ network, nodeId: 'early', clusterId: 'c', listenAddress: 'early' });
    early.setPeer('b', 'b');
    assert.throws(() => early.send([{ from: 'early', to: 'b' }]), /before start\(\) resolved/);
    await assert.rejects(early.call({ id: 'b' }, 'x', {}), /before start\(\) resolved/);
    await early.close();
  });

  it('transports leave no in-memory stream open after close()', async () => {
    const network = new MemoryNetwork();
    const a = new MemoryTransport<TestMessage>({ network, nodeId: 'a', clusterId: 'c', listenAddress: 'a' });
    const b = new MemoryTransport<TestMessage>({ network, nodeId: 'b', clusterId: 'c', listenAddress: 'b' });
    await a.start();
    await b.start();
    a.setPeer('b', 'b');
    b.setPeer('a', 'a');
    b.handle('ping', async () => 'pong');
    a.handle('ping', async () => 'pong');
    let received = 0;
    b.onMessage(() => received++);
    a.send([{ from: 'a', to: 'b' }]);
    await a.call({ id: 'b' }, 'ping', {});
    await b.call({ id: 'a' }, 'ping', {});
    await waitFor('the message', () => received === 1);
    assert.ok(network.openStreamCount >= 4, 'two links, each with two ends');
    await a.close();
    await b.close();
    await waitFor('every stream closed', () => network.openStreamCount === 0);
  });
});
