/**
 * The behavioural suite for one-way Raft messages, run against both TcpTransport and
 * MemoryTransport (see *-behaviour.test.ts).
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Duplex } from 'node:stream';
import { encodeValue, encodeValueFrame, FrameKind, protocolVersion } from '../../src/transport/codec.js';
import { TransportError } from '../../src/transport/errors.js';
import type { TransportLimits } from '../../src/transport/limits.js';
import { collectErrors, collectMessages, Harness, message, sleep, waitFor, type TestMessage, type TestTransport, type TransportKind } from './helpers.js';

export function defineMessageSuite(kind: TransportKind): void {
  describe(`${kind} transport: messages`, () => {
    let harness: Harness;
    beforeEach(() => {
      harness = new Harness(kind);
    });
    afterEach(async () => {
      await harness.dispose();
    });

    it('delivers messages byte-exactly: Uint8Array, bigint, nested values', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      const received = collectMessages(b);
      const sent = message('a', 'b', {
        type: 'append',
        term: 7,
        data: new Uint8Array([0, 1, 2, 255]),
        empty: new Uint8Array(0),
        small: 5n,
        big: 2n ** 64n + 1n,
        huge: -(2n ** 100n),
        float: 1.25,
        maxSafe: Number.MAX_SAFE_INTEGER,
        text: 'héllo ✓',
        flag: false,
        nothing: null,
        entries: [{ term: 1, index: 2, type: 'normal', data: new Uint8Array([9]) }, { nested: { deeper: [1, [2, [3]]] } }],
      });
      a.send([sent]);
      await waitFor('the message', () => received.length === 1);
      assert.deepStrictEqual(received[0], sent);
      const data = received[0]?.data;
      assert.ok(data instanceof Uint8Array && !Buffer.isBuffer(data), 'binary arrives as a plain Uint8Array');
    });

    it("hands up each message with its sender's id and handshake address, so a receiver can answer a peer it has no address for", async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      a.setPeer('b', b.address); // b knows nothing of a
      const senders: { fromId: string; fromAddress: string }[] = [];
      b.onMessage((_, sender) => {
        senders.push(sender);
        b.setPeer(sender.fromId, sender.fromAddress);
        b.send([message('b', sender.fromId, { answer: true })]);
      });
      const answers = collectMessages(a);
      a.send([message('a', 'b', { question: true })]);
      await waitFor('the answer', () => answers.length === 1);
      assert.deepStrictEqual(senders, [{ fromId: 'a', fromAddress: a.address }]);
      assert.equal(answers[0]?.answer, true);
    });

    it('keeps per-peer order across many sends and turns', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      const received = collectMessages(b);
      for (let turn = 0; turn < 20; turn++) {
        a.send(Array.from({ length: 50 }, (_, index) => message('a', 'b', { sequence: turn * 50 + index })));
        if (turn % 3 === 0) await sleep(1);
      }
      await waitFor('1000 messages', () => received.length === 1000);
      assert.deepStrictEqual(
        received.map((item) => item.sequence),
        Array.from({ length: 1000 }, (_, index) => index),
      );
    });

    /** a, b and c introduced, a's links to b and c open (one message each went through); what b and c receive. */
    async function linkedTrio(): Promise<{ a: TestTransport; b: TestTransport; toB: TestMessage[]; toC: TestMessage[] }> {
      const a = await harness.create('a');
      const b = await harness.create('b');
      const c = await harness.create('c');
      harness.introduce(a, b, c);
      const toB = collectMessages(b);
      const toC = collectMessages(c);
      a.send([message('a', 'b', { warmUp: true }), message('a', 'c', { warmUp: true })]);
      await waitFor('warm-up', () => toB.length === 1 && toC.length === 1);
      return { a, b, toB, toC };
    }

    const framesTo = (a: TestTransport, peer: string): number => a.metrics().peers[peer]?.framesSent ?? 0;

    it('coalesces the sends of one callback into one frame per peer', async () => {
      const { a, b, toB, toC } = await linkedTrio();
      const framesBefore = framesTo(a, 'b');
      for (let index = 0; index < 300; index++) a.send([message('a', 'b', { index }), message('a', 'c', { index })]);
      await waitFor('300 more each', () => toB.length === 301 && toC.length === 301);
      const metrics = a.metrics();
      assert.equal(framesTo(a, 'b') - framesBefore, 1, '300 sends in one callback become one frame');
      assert.equal(metrics.peers['b']?.messagesSent, 301);
      assert.equal(b.metrics().peers['a']?.messagesReceived, 301);
    });

    /**
     * Runs `send` in a callback of the event loop, as a Ready turn runs: the frames to b
     * sent by the time a microtask it queued runs (where a turn's log write starts), and
     * after the loop's next turn.
     */
    async function framesToB(a: TestTransport, send: () => void): Promise<{ inMicrotask: number; afterNextTurn: number }> {
      const before = framesTo(a, 'b');
      let inMicrotask = -1;
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          send();
          queueMicrotask(() => {
            inMicrotask = framesTo(a, 'b') - before;
          });
          resolve();
        }),
      );
      await new Promise<void>((resolve) => setImmediate(resolve));
      return { inMicrotask, afterNextTurn: framesTo(a, 'b') - before };
    }

    it("'callback' sends leave once the callback returns, before its microtasks; 'next-turn' ones after them", async () => {
      const { a, toB, toC } = await linkedTrio();
      const framesToC = framesTo(a, 'c');
      const atOnce = await framesToB(a, () => {
        a.send([message('a', 'b', { n: 1 })]);
        a.send([message('a', 'c', { n: 1 }), message('a', 'b', { n: 2 })]);
      });
      assert.deepStrictEqual(atOnce, { inMicrotask: 1, afterNextTurn: 1 }, "the callback's two sends to b: one frame, before its microtasks");
      assert.equal(framesTo(a, 'c') - framesToC, 1);
      const behind = await framesToB(a, () => a.send([message('a', 'b', { n: 3 })], 'next-turn'));
      assert.deepStrictEqual(behind, { inMicrotask: 0, afterNextTurn: 1 }, "'next-turn': after the microtasks, at the loop's next turn");
      const mixed = await framesToB(a, () => {
        a.send([message('a', 'b', { n: 4 })], 'next-turn');
        a.send([message('a', 'b', { n: 5 })]);
      });
      assert.deepStrictEqual(mixed, { inMicrotask: 1, afterNextTurn: 1 }, "a 'callback' send takes the queued 'next-turn' one along, in one frame");
      await waitFor('the messages', () => toB.length === 6 && toC.length === 2);
      assert.deepStrictEqual(
        toB.slice(1).map((received) => received.n),
        [1, 2, 3, 4, 5],
      );
    });

    it('splits a turn whose messages exceed frameBytesMax into several frames', async () => {
      const frameBytesMax = 64 * 1024;
      const a = await harness.create('a', { limits: { frameBytesMax, snapshotChunkBytes: 1024 } });
      const b = await harness.create('b', { limits: { frameBytesMax, snapshotChunkBytes: 1024 } });
      harness.introduce(a, b);
      const received = collectMessages(b);
      const payload = new Uint8Array(10_000).fill(7);
      a.send(Array.from({ length: 40 }, (_, index) => message('a', 'b', { index, payload })));
      await waitFor('40 messages', () => received.length === 40);
      assert.deepStrictEqual(
        received.map((item) => item.index),
        Array.from({ length: 40 }, (_, index) => index),
      );
      const framesSent = a.metrics().peers['b']?.framesSent ?? 0;
      assert.ok(framesSent >= 7, `400 kB in 64 KiB frames needs at least 7 frames, got ${framesSent}`);
    });

    it('refuses a message that can never fit a frame, queuing none of the batch', async () => {
      const a = await harness.create('a', { limits: { frameBytesMax: 4096, snapshotChunkBytes: 1024 } });
      const b = await harness.create('b');
      harness.introduce(a, b);
      const received = collectMessages(b);
      assert.throws(
        () => a.send([message('a', 'b', { ok: 1 }), message('a', 'b', { data: new Uint8Array(5000) })]),
        (error: unknown) => error instanceof TransportError && error.code === 'FRAME_TOO_LARGE',
      );
      a.send([message('a', 'b', { after: true })]);
      await waitFor('the later message', () => received.length === 1);
      assert.deepStrictEqual(received[0], message('a', 'b', { after: true }));
    });

    it('rejects a message without string from/to fields', async () => {
      const a = await harness.create('a');
      assert.throws(
        () => a.send([{ from: 'a' } as never]),
        (error: unknown) => error instanceof TransportError && error.code === 'INVALID_ARGUMENT',
      );
    });

    it('reports a peer disconnected, once, when the connection it dialled closes', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      const received = collectMessages(b);
      const disconnected: string[] = [];
      b.onPeerDisconnected((id) => disconnected.push(id));
      a.send([message('a', 'b', { index: 1 })]);
      await waitFor('the message', () => received.length === 1);
      assert.deepStrictEqual(disconnected, [], 'nothing while the connection is open');
      await a.close();
      await waitFor('the report', () => disconnected.length > 0);
      await sleep(10);
      assert.deepStrictEqual(disconnected, ['a'], 'the dialling peer, once');
    });

    it('drops messages to a peer with no address and reports it unreachable', async () => {
      const a = await harness.create('a');
      const unreachable: string[] = [];
      a.onUnreachable((id) => unreachable.push(id));
      a.send([message('a', 'ghost'), message('a', 'ghost')]);
      assert.deepStrictEqual(unreachable, [], 'never reported inside send()');
      await waitFor('the report', () => unreachable.length > 0);
      await sleep(10);
      assert.deepStrictEqual(unreachable, ['ghost'], 'once per peer per turn');
      assert.equal(a.metrics().peers['ghost']?.messagesDropped, 2);
    });

    it('delivers no unreachable report that was still pending when the transport closed', async () => {
      const a = await harness.create('a');
      const unreachable: string[] = [];
      a.onUnreachable((id) => unreachable.push(id));
      a.send([message('a', 'ghost')]);
      await a.close();
      await sleep(10);
      assert.deepStrictEqual(unreachable, [], 'closed before the report was due');
      assert.equal(a.metrics().peers['ghost']?.messagesDropped, 1);
    });

    it('drops queued messages and reports unreachable when the peer cannot be dialled', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      const deadAddress = b.address;
      await b.close();
      a.setPeer('b', deadAddress);
      const unreachable: string[] = [];
      a.onUnreachable((id) => unreachable.push(id));
      a.send([message('a', 'b', { index: 1 }), message('a', 'b', { index: 2 })]);
      await waitFor('an unreachable report', () => unreachable.length > 0);
      assert.deepStrictEqual(unreachable, ['b']);
      const metrics = a.metrics().peers['b'];
      assert.equal(metrics?.messagesDropped, 2);
      assert.equal(metrics?.connectFailures, 1);
    });

    /**
     * a → b with the link to b backed up: one frame is held by a pause and, with
     * heldFrameBytesMax 1, the connection reports backpressure, so further messages
     * stay in a's per-peer queue. Two messages (indexes 0 and 1) are already sent.
     */
    async function backedUpLink(limits: Partial<TransportLimits>) {
      const a = await harness.create('a', { limits: { heldFrameBytesMax: 1, ...limits } });
      const b = await harness.create('b');
      harness.introduce(a, b);
      const received = collectMessages(b);
      const unreachable: string[] = [];
      a.onUnreachable((id) => unreachable.push(id));
      a.send([message('a', 'b', { index: 0 })]);
      await waitFor('the connection', () => received.length === 1);
      a.faults.pause('b');
      a.send([message('a', 'b', { index: 1 })]);
      // Once written, that frame is held by the pause and the link reports backpressure.
      await waitFor('the second frame to be written', () => a.metrics().peers['b']?.framesSent === 2);
      return { a, received, unreachable };
    }

    it('bounds the per-peer queue by count: at the bound it queues, above it drops and reports', async () => {
      const { a, received, unreachable } = await backedUpLink({ peerQueueMessageCountMax: 10 });
      a.send(Array.from({ length: 10 }, (_, offset) => message('a', 'b', { index: 2 + offset })));
      await sleep(10);
      assert.deepStrictEqual(unreachable, [], 'exactly peerQueueMessageCountMax messages fit');
      a.send([message('a', 'b', { index: 99 })]);
      await waitFor('the report', () => unreachable.length > 0);
      assert.deepStrictEqual(unreachable, ['b']);
      assert.equal(a.metrics().peers['b']?.messagesDropped, 1);
      a.faults.heal('b');
      await waitFor('the queued messages', () => received.length === 12);
      assert.deepStrictEqual(
        received.map((item) => item.index),
        Array.from({ length: 12 }, (_, index) => index),
      );
    });

    it('bounds the per-peer queue by bytes', async () => {
      const one = message('a', 'b', { payload: new Uint8Array(1000) });
      const { a, received, unreachable } = await backedUpLink({ peerQueueBytesMax: 3 * encodeValue(one).byteLength });
      a.send([one, one, one]);
      await sleep(10);
      assert.deepStrictEqual(unreachable, [], 'exactly peerQueueBytesMax bytes fit');
      a.send([one]);
      await waitFor('the report', () => unreachable.length > 0);
      assert.deepStrictEqual(unreachable, ['b']);
      assert.equal(a.metrics().peers['b']?.messagesDropped, 1);
      a.faults.heal('b');
      await waitFor('the queued messages', () => received.length === 5);
    });

    it('a peer that stops reading costs bounded memory: the queue fills, then drops and reports', async () => {
      const peerQueueBytesMax = 1024 * 1024;
      const a = await harness.create('a', { limits: { peerQueueBytesMax, heldFrameBytesMax: 1 } });
      const streams: Duplex[] = [];
      const listener = await harness.network.listen(harness.nextListenAddress('stalled'), (stream) => {
        streams.push(stream);
        stream.on('error', () => undefined);
        stream.once('data', () => {
          stream.write(encodeValueFrame(FrameKind.helloAccepted, { protocolVersion, clusterId: 'cluster-test', nodeId: 'stalled', address: 'x' }, 1 << 20));
          stream.pause(); // From now on nothing is read: socket buffers fill, then the queue.
        });
      });
      harness.onCleanup(async () => {
        for (const stream of streams) stream.destroy();
        await listener.close();
      });
      a.setPeer('stalled', listener.address);
      const unreachable: string[] = [];
      a.onUnreachable((id) => unreachable.push(id));
      const payload = new Uint8Array(256 * 1024);
      const total = 240; // 60 MB: more than loopback socket buffers and the queue bound together.
      for (let turn = 0; turn < total / 10; turn++) {
        a.send(Array.from({ length: 10 }, (_, index) => message('a', 'stalled', { index, payload })));
        await sleep(2);
      }
      await waitFor('drops', () => (a.metrics().peers['stalled']?.messagesDropped ?? 0) > 0);
      const metrics = a.metrics().peers['stalled'];
      const queuedMessagesMax = Math.floor(peerQueueBytesMax / payload.byteLength);
      assert.ok(unreachable.includes('stalled'));
      assert.ok(
        (metrics?.messagesSent ?? 0) + (metrics?.messagesDropped ?? 0) >= total - queuedMessagesMax,
        'every message was written, dropped or is in the bounded queue',
      );
      assert.ok((metrics?.messagesDropped ?? 0) >= total / 2, `most messages were dropped (${metrics?.messagesDropped})`);
    });

    it('reconnects after the peer restarts at the same address', async () => {
      const a = await harness.create('a', { limits: { backoffBaseMs: 10, backoffMsMax: 50 } });
      const b = await harness.create('b');
      harness.introduce(a, b);
      const first = collectMessages(b);
      a.send([message('a', 'b', { life: 1 })]);
      await waitFor('first life', () => first.length === 1);
      const address = b.address;
      await b.close();
      const restarted = await harness.create('b', { listenAddress: address });
      const second = collectMessages(restarted);
      // Messages sent while b was down may be dropped; keep sending until one arrives.
      await waitFor('delivery after the restart', () => {
        a.send([message('a', 'b', { life: 2 })]);
        return second.length > 0;
      });
      assert.equal(second[0]?.life, 2);
      assert.ok((a.metrics().peers['b']?.reconnects ?? 0) >= 1);
    });

    it('isolate drops both directions; heal restores delivery', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      const atA = collectMessages(a);
      const atB = collectMessages(b);
      a.send([message('a', 'b', { phase: 'before' })]);
      b.send([message('b', 'a', { phase: 'before' })]);
      await waitFor('warm-up', () => atA.length === 1 && atB.length === 1);
      a.faults.isolate('b');
      a.send([message('a', 'b', { phase: 'during' })]);
      b.send([message('b', 'a', { phase: 'during' })]);
      await waitFor('both drops counted', () => {
        const metrics = a.metrics().peers['b'];
        return (metrics?.faultDrops ?? 0) >= 2;
      });
      assert.equal(atA.length, 1);
      assert.equal(atB.length, 1);
      a.faults.heal('b');
      a.send([message('a', 'b', { phase: 'after' })]);
      b.send([message('b', 'a', { phase: 'after' })]);
      await waitFor('delivery after heal', () => atA.length === 2 && atB.length === 2);
      assert.equal(atA[1]?.phase, 'after');
      assert.equal(atB[1]?.phase, 'after');
    });

    it('one-way drop cuts only the chosen direction', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      const atA = collectMessages(a);
      const atB = collectMessages(b);
      a.faults.dropOutbound('b');
      a.send([message('a', 'b', { lost: true })]);
      b.send([message('b', 'a', { kept: true })]);
      await waitFor('b to a delivery', () => atA.length === 1);
      await waitFor('a to b drop counted', () => (a.metrics().peers['b']?.faultDrops ?? 0) >= 1);
      assert.equal(atB.length, 0);
      a.faults.heal();
      a.send([message('a', 'b', { kept: true })]);
      await waitFor('a to b after heal', () => atB.length === 1);
      assert.equal(atB[0]?.kept, true);
    });

    it('a drop on the receiving side discards what arrives from that peer', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      const atB = collectMessages(b);
      a.send([message('a', 'b', { index: 0 })]);
      await waitFor('warm-up', () => atB.length === 1);
      b.faults.dropInbound('a');
      a.send([message('a', 'b', { index: 1 })]);
      await waitFor('the drop', () => (b.metrics().peers['a']?.faultDrops ?? 0) === 1);
      b.faults.heal('a');
      a.send([message('a', 'b', { index: 2 })]);
      await waitFor('delivery after heal', () => atB.length === 2);
      assert.deepStrictEqual(
        atB.map((item) => item.index),
        [0, 2],
      );
    });

    it('delay holds messages at least delayMs and keeps their order', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      const arrivals: { index: unknown; atMs: number }[] = [];
      b.onMessage((item) => arrivals.push({ index: item.index, atMs: Date.now() }));
      a.send([message('a', 'b', { index: -1 })]);
      await waitFor('warm-up', () => arrivals.length === 1);
      a.faults.delay('b', 150);
      const sentAtMs = Date.now();
      a.send([message('a', 'b', { index: 0 })]);
      await sleep(5);
      a.send([message('a', 'b', { index: 1 })]);
      await waitFor('delayed messages', () => arrivals.length === 3);
      assert.deepStrictEqual(
        arrivals.slice(1).map((arrival) => arrival.index),
        [0, 1],
      );
      assert.ok((arrivals[1]?.atMs ?? 0) - sentAtMs >= 145, 'a delayed message is not delivered early');
    });

    it('pause holds messages until heal, then delivers them in order', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      const atB = collectMessages(b);
      a.send([message('a', 'b', { index: 0 })]);
      await waitFor('warm-up', () => atB.length === 1);
      a.faults.pause('b');
      a.send([message('a', 'b', { index: 1 })]);
      a.send([message('a', 'b', { index: 2 })]);
      await sleep(50);
      assert.equal(atB.length, 1, 'nothing passes a paused link');
      a.faults.heal('b');
      await waitFor('held messages', () => atB.length === 3);
      assert.deepStrictEqual(
        atB.map((item) => item.index),
        [0, 1, 2],
      );
    });

    it('pause on the receiving side stops reading from the peer until heal, losing nothing', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      a.handle('ping', async (payload) => payload);
      const atB = collectMessages(b);
      a.send([message('a', 'b', { index: 0 })]);
      await waitFor('warm-up', () => atB.length === 1);
      b.faults.pause('a');
      a.send(Array.from({ length: 50 }, (_, offset) => message('a', 'b', { index: 1 + offset })));
      let answered: unknown;
      const call = b.call({ id: 'a' }, 'ping', 'while paused').then((reply) => (answered = reply));
      await waitFor('a to have written the messages', () => a.metrics().peers['b']?.messagesSent === 51);
      await sleep(30);
      assert.equal(atB.length, 1, 'nothing is read from a paused peer');
      assert.equal(answered, undefined, 'nothing is sent to a paused peer');
      b.faults.heal();
      await call;
      assert.equal(answered, 'while paused');
      await waitFor('the backlog', () => atB.length === 51);
      assert.deepStrictEqual(
        atB.map((item) => item.index),
        Array.from({ length: 51 }, (_, index) => index),
      );
    });

    it('a throwing message handler is reported and does not break the link', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      const errors = collectErrors(b);
      const seen: unknown[] = [];
      b.onMessage((item) => {
        seen.push(item.index);
        if (item.index === 0) throw new Error('handler bug');
      });
      a.send([message('a', 'b', { index: 0 }), message('a', 'b', { index: 1 })]);
      await waitFor('both messages', () => seen.length === 2);
      assert.deepStrictEqual(seen, [0, 1]);
      assert.ok(errors.some((error) => /onMessage handler threw: handler bug/.test(error.message)));
    });

    it('counts bytes and messages each way', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      const atB = collectMessages(b);
      const batch = Array.from({ length: 5 }, (_, index) => message('a', 'b', { index }));
      const expectedBytes = batch.reduce((total, item) => total + encodeValue(item).byteLength, 0);
      a.send(batch);
      await waitFor('5 messages', () => atB.length === 5);
      assert.equal(a.metrics().peers['b']?.messagesSent, 5);
      assert.equal(a.metrics().peers['b']?.bytesSent, expectedBytes);
      assert.equal(b.metrics().peers['a']?.messagesReceived, 5);
      assert.equal(b.metrics().peers['a']?.bytesReceived, expectedBytes);
    });
  });
}
