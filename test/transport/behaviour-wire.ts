/**
 * Hostile and broken input on the wire, sent by hand through the raw network: every
 * case closes only the offending connection, reports a clear error, and the node
 * keeps serving its other peers. Run against both transports.
 */
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { decodeValue, encodeFrame, encodeValue, FrameKind } from '../../src/transport/codec.js';
import { TransportError, type TransportErrorCode } from '../../src/transport/errors.js';
import { collectErrors, collectMessages, Harness, RawPeer, waitFor, type TestTransport, type TransportKind } from './helpers.js';

export function defineWireSuite(kind: TransportKind): void {
  describe(`${kind} transport: wire input`, () => {
    let harness: Harness;
    let server: TestTransport;
    let errors: Error[];
    beforeEach(async () => {
      harness = new Harness(kind);
      server = await harness.create('server', { limits: { frameBytesMax: 64 * 1024, snapshotChunkBytes: 1024, handshakeTimeoutMs: 200 } });
      server.handle('ping', async () => 'pong');
      errors = collectErrors(server);
    });
    afterEach(async () => {
      await harness.dispose();
    });

    async function expectDropped(raw: RawPeer, code: TransportErrorCode): Promise<void> {
      await waitFor('the connection to be dropped', () => raw.closed);
      await waitFor(`a ${code} report`, () => errors.some((error) => error instanceof TransportError && error.code === code));
      const client = await harness.create(`client-${errors.length}-${Math.random()}`);
      assert.equal(await client.call({ address: server.address }, 'ping', {}), 'pong', 'the server still serves others');
    }

    it('drops a connection announcing a frame above frameBytesMax', async () => {
      const raw = await RawPeer.dial(harness.network, server.address);
      raw.hello('raw');
      const header = Buffer.alloc(5);
      header.writeUInt32BE(64 * 1024 + 1, 0);
      header.writeUInt8(FrameKind.messages, 4);
      raw.stream.write(header);
      await expectDropped(raw, 'FRAME_TOO_LARGE');
      assert.ok(server.metrics().connectionsRejected >= 1);
    });

    it('accepts a frame of exactly frameBytesMax', async () => {
      const received = collectMessages(server);
      const raw = await RawPeer.dial(harness.network, server.address);
      raw.hello('raw');
      // Pad so that kind byte + payload is exactly 64 KiB (bin 16 carries a 2-byte length).
      const fixedBytes = encodeValue({ from: 'raw', to: 'server', pad: new Uint8Array(256) }).byteLength - 256;
      const bytes = encodeValue({ from: 'raw', to: 'server', pad: new Uint8Array(64 * 1024 - 1 - fixedBytes) });
      assert.equal(bytes.byteLength + 1, 64 * 1024);
      raw.stream.write(encodeFrame(FrameKind.messages, [bytes], 64 * 1024));
      await waitFor('the message', () => received.length === 1);
      assert.equal(raw.closed, false);
      raw.destroy();
    });

    it('drops a connection that sends garbage bytes', async () => {
      const raw = await RawPeer.dial(harness.network, server.address);
      raw.stream.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await expectDropped(raw, 'FRAME_TOO_LARGE');
    });

    it('drops a connection that sends an unknown frame kind', async () => {
      const raw = await RawPeer.dial(harness.network, server.address);
      raw.stream.write(Buffer.from([0, 0, 0, 2, 200, 0]));
      await expectDropped(raw, 'MALFORMED_FRAME');
    });

    it('drops a connection whose first frame is not a handshake', async () => {
      const raw = await RawPeer.dial(harness.network, server.address);
      raw.writeFrame(FrameKind.call, { requestId: 1, method: 'ping', payload: null });
      await expectDropped(raw, 'MALFORMED_FRAME');
    });

    it('drops a connection that sends undecodable MessagePack', async () => {
      const raw = await RawPeer.dial(harness.network, server.address);
      raw.hello('raw');
      raw.stream.write(encodeFrame(FrameKind.messages, [Buffer.from([0x93, 0x01])], 64 * 1024));
      await expectDropped(raw, 'MALFORMED_FRAME');
    });

    it('drops a connection whose messages lack from/to', async () => {
      const raw = await RawPeer.dial(harness.network, server.address);
      raw.hello('raw');
      raw.stream.write(encodeFrame(FrameKind.messages, [encodeValue({ to: 'server' })], 64 * 1024));
      await expectDropped(raw, 'MALFORMED_FRAME');
    });

    it('drops a connection whose call frame has the wrong field types', async () => {
      const raw = await RawPeer.dial(harness.network, server.address);
      raw.hello('raw');
      raw.writeFrame(FrameKind.call, { requestId: 'one', method: 'ping' });
      await expectDropped(raw, 'MALFORMED_FRAME');
    });

    it('does not deliver a message addressed to another node or claiming another sender', async () => {
      const received = collectMessages(server);
      const raw = await RawPeer.dial(harness.network, server.address);
      raw.hello('raw');
      const messages = [
        { from: 'raw', to: 'elsewhere' },
        { from: 'impostor', to: 'server' },
        { from: 'raw', to: 'server', n: 1 },
      ];
      raw.stream.write(
        encodeFrame(
          FrameKind.messages,
          messages.map((item) => encodeValue(item)),
          64 * 1024,
        ),
      );
      await waitFor('the good message', () => received.length === 1);
      assert.deepStrictEqual(received, [{ from: 'raw', to: 'server', n: 1 }]);
      assert.ok(errors.some((error) => /raw -> elsewhere/.test(error.message)));
      assert.ok(errors.some((error) => /impostor -> server that arrived from raw/.test(error.message)));
      assert.equal(server.metrics().peers['raw']?.messagesDropped, 2);
      raw.destroy();
    });

    it('survives seeded random bytes before and after the handshake, and keeps serving', async () => {
      let seed = 0x2545f491;
      const random = (): number => {
        // xorshift32: deterministic, so a failure replays.
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) / 2 ** 32;
      };
      const randomBytes = (count: number): Buffer => Buffer.from(Array.from({ length: count }, () => Math.floor(random() * 256)));
      const peers: RawPeer[] = [];
      for (let attempt = 0; attempt < 40; attempt++) {
        const raw = await RawPeer.dial(harness.network, server.address);
        peers.push(raw);
        if (attempt % 2 === 1) raw.hello(`fuzz-${attempt}`);
        const kind = [FrameKind.messages, FrameKind.call, FrameKind.snapshotBegin, FrameKind.snapshotChunk, FrameKind.snapshotEnd][attempt % 5] as number;
        const body = randomBytes(1 + Math.floor(random() * 200));
        // Half the time a well-formed frame around random bytes, else raw random bytes.
        raw.stream.write(attempt % 4 < 2 ? encodeFrame(kind as FrameKind, [body], 64 * 1024) : body);
      }
      const client = await harness.create('client-after-fuzz');
      assert.equal(await client.call({ address: server.address }, 'ping', {}), 'pong');
      for (const raw of peers) raw.destroy();
      assert.ok(server.metrics().connectionsAccepted >= 41, 'every fuzz connection reached the server');
    });

    it('answers a wrong protocol version with a clear refusal and closes', async () => {
      const raw = await RawPeer.dial(harness.network, server.address);
      raw.hello('raw', 'cluster-test', 99);
      await waitFor('the connection to be closed', () => raw.closed);
      const refusal = raw.frames[0];
      assert.equal(refusal?.kind, FrameKind.helloRejected);
      const body = decodeValue(refusal.payload) as { code: string; message: string };
      assert.equal(body.code, 'HANDSHAKE_REJECTED');
      assert.match(body.message, /protocol version mismatch: this node speaks 1, the peer 99/);
    });

    it('closes a connection that sends no handshake within handshakeTimeoutMs', async () => {
      const raw = await RawPeer.dial(harness.network, server.address);
      await waitFor('the idle connection to be closed', () => raw.closed);
      assert.ok(errors.some((error) => error instanceof TransportError && error.code === 'TIMEOUT'));
      assert.equal(server.metrics().connectionsRejected, 1);
    });

    it('bounds inbound connections at inboundConnectionsMax', async () => {
      const bounded = await harness.create('bounded', { limits: { inboundConnectionsMax: 2 } });
      const first = await RawPeer.dial(harness.network, bounded.address);
      const second = await RawPeer.dial(harness.network, bounded.address);
      first.hello('one');
      second.hello('two');
      await waitFor('both accepted', () => first.frames.length === 1 && second.frames.length === 1);
      const third = await RawPeer.dial(harness.network, bounded.address);
      await waitFor('the third to be refused', () => third.closed);
      assert.equal(bounded.metrics().connectionsRejected, 1);
      assert.equal(first.closed || second.closed, false);
      first.destroy();
      second.destroy();
    });

    it('fails calls when the peer never answers the handshake (connectTimeoutMs)', async () => {
      const client = await harness.create('client', { limits: { connectTimeoutMs: 100 } });
      const streams: Duplex[] = [];
      const listener = await harness.network.listen(harness.nextListenAddress('silent'), (stream) => {
        streams.push(stream);
        stream.on('error', () => undefined);
      });
      harness.onCleanup(async () => {
        for (const stream of streams) stream.destroy();
        await listener.close();
      });
      await assert.rejects(client.call({ address: listener.address }, 'ping', {}, { timeoutMs: 10_000 }), (error: unknown) => {
        assert.ok(error instanceof TransportError);
        assert.equal(error.code, 'UNREACHABLE');
        assert.match(error.message, /no handshake reply .* within 100 ms/);
        return true;
      });
    });

    it('fails calls when the peer answers the handshake with garbage', async () => {
      const client = await harness.create('client');
      const listener = await harness.network.listen(harness.nextListenAddress('liar'), (stream) => {
        stream.on('error', () => undefined);
        stream.once('data', () => stream.write(Buffer.from('garbage that is not a frame')));
      });
      harness.onCleanup(() => listener.close());
      await assert.rejects(client.call({ address: listener.address }, 'ping', {}), (error: unknown) => {
        assert.ok(error instanceof TransportError);
        assert.equal(error.code, 'UNREACHABLE');
        assert.match(error.message, /frameBytesMax|frame kind/);
        return true;
      });
    });
  });
}
