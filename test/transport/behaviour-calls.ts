/**
 * The behavioural suite for node-to-node calls, run against both transports.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { errorMessageLengthMax, TransportError, type TransportErrorCode } from '../../src/transport/errors.js';
import type { TransportLimits } from '../../src/transport/limits.js';
import type { CallContext } from '../../src/transport/types.js';
import { collectErrors, Harness, waitFor, type TransportKind } from './helpers.js';

function isCode(code: TransportErrorCode, check?: (error: TransportError) => void): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof TransportError, `expected a TransportError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    check?.(error);
    return true;
  };
}

/** A promise the test resolves by hand, to hold handlers open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

export function defineCallSuite(kind: TransportKind): void {
  describe(`${kind} transport: calls`, () => {
    let harness: Harness;
    beforeEach(() => {
      harness = new Harness(kind);
    });
    afterEach(async () => {
      await harness.dispose();
    });

    /** a and b know each other; b's `hang` handler answers only once `held` opens (at the latest at cleanup). */
    async function hangingPair(limitsOfA: Partial<TransportLimits> = {}, limitsOfB: Partial<TransportLimits> = {}) {
      const a = await harness.create('a', { limits: limitsOfA });
      const b = await harness.create('b', { limits: limitsOfB });
      harness.introduce(a, b);
      const held = gate();
      harness.onCleanup(held.open);
      b.handle('hang', async (payload) => held.promise.then(() => payload));
      return { a, b, held };
    }

    it('answers a call by peer id, with the caller identified', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      let seen: CallContext | undefined;
      b.handle('echo', async (payload, context) => {
        seen = context;
        return { echoed: payload, big: 2n ** 70n };
      });
      const reply = await a.call({ id: 'b' }, 'echo', { bytes: new Uint8Array([1, 2]), n: 3n });
      assert.deepStrictEqual(reply, { echoed: { bytes: new Uint8Array([1, 2]), n: 3n }, big: 2n ** 70n });
      assert.equal(seen?.fromId, 'a');
      assert.equal(seen?.fromAddress, a.address);
    });

    it('answers a call by address alone (a joiner does not know the leader id)', async () => {
      const leader = await harness.create('leader');
      const joiner = await harness.create('joiner');
      leader.handle('join', async (payload, context) => ({ accepted: payload, from: context.fromId }));
      const reply = await joiner.call({ address: leader.address }, 'join', { id: 'joiner', address: joiner.address });
      assert.deepStrictEqual(reply, { accepted: { id: 'joiner', address: joiner.address }, from: 'joiner' });
    });

    it('pipelines many concurrent calls on one connection', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      b.handle('double', async (payload) => (payload as number) * 2);
      const replies = await Promise.all(Array.from({ length: 200 }, (_, index) => a.call({ id: 'b' }, 'double', index)));
      assert.deepStrictEqual(
        replies,
        Array.from({ length: 200 }, (_, index) => index * 2),
      );
    });

    it('carries a remote error back with its code and message', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      b.handle('execute', async () => {
        throw Object.assign(new Error('not the leader; try c'), { code: 'NOT_LEADER' });
      });
      b.handle('plain', async () => {
        throw new Error('boom');
      });
      await assert.rejects(
        a.call({ id: 'b' }, 'execute', {}),
        isCode('REMOTE_ERROR', (error) => {
          assert.equal(error.remoteCode, 'NOT_LEADER');
          assert.equal(error.remoteMessage, 'not the leader; try c');
        }),
      );
      await assert.rejects(
        a.call({ id: 'b' }, 'plain', {}),
        isCode('REMOTE_ERROR', (error) => assert.equal(error.remoteCode, 'HANDLER_ERROR')),
      );
      await assert.rejects(
        a.call({ id: 'b' }, 'missing', {}),
        isCode('REMOTE_ERROR', (error) => assert.equal(error.remoteCode, 'NO_HANDLER')),
      );
    });

    it('times out a call that gets no reply, and the connection stays usable', async () => {
      const { a, b } = await hangingPair();
      b.handle('ping', async () => 'pong');
      await assert.rejects(a.call({ id: 'b' }, 'hang', {}, { timeoutMs: 50 }), isCode('TIMEOUT'));
      assert.equal(await a.call({ id: 'b' }, 'ping', {}), 'pong');
    });

    it('bounds calls in flight per peer: at the bound they wait, above it they are refused', async () => {
      const { a, held } = await hangingPair({ callsInFlightMax: 2 });
      const first = a.call({ id: 'b' }, 'hang', 1);
      const second = a.call({ id: 'b' }, 'hang', 2);
      await assert.rejects(a.call({ id: 'b' }, 'hang', 3), isCode('TOO_MANY_CALLS'));
      held.open();
      assert.deepStrictEqual(await Promise.all([first, second]), [1, 2]);
      assert.equal(await a.call({ id: 'b' }, 'hang', 4), 4, 'slots free up after replies');
    });

    it('bounds handlers running per inbound connection', async () => {
      const { a, held } = await hangingPair({}, { inboundCallsInFlightMax: 1 });
      const first = a.call({ id: 'b' }, 'hang', 'done');
      await assert.rejects(
        a.call({ id: 'b' }, 'hang', {}),
        isCode('REMOTE_ERROR', (error) => assert.equal(error.remoteCode, 'OVERLOADED')),
      );
      held.open();
      assert.equal(await first, 'done');
    });

    it('rejects an aborted call with ABORTED', async () => {
      const { a } = await hangingPair();
      const controller = new AbortController();
      const pending = a.call({ id: 'b' }, 'hang', {}, { signal: controller.signal });
      controller.abort();
      await assert.rejects(pending, isCode('ABORTED'));
      await assert.rejects(a.call({ id: 'b' }, 'hang', {}, { signal: controller.signal }), isCode('ABORTED'));
    });

    it('refuses a payload larger than frameBytesMax without sending it', async () => {
      const a = await harness.create('a', { limits: { frameBytesMax: 4096, snapshotChunkBytes: 1024 } });
      const b = await harness.create('b');
      harness.introduce(a, b);
      b.handle('take', async () => 'taken');
      await assert.rejects(a.call({ id: 'b' }, 'take', new Uint8Array(5000)), isCode('FRAME_TOO_LARGE'));
      assert.equal(await a.call({ id: 'b' }, 'take', new Uint8Array(100)), 'taken');
    });

    it('turns a reply too large for the frame bound into a remote error', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b', { limits: { frameBytesMax: 4096, snapshotChunkBytes: 1024 } });
      harness.introduce(a, b);
      b.handle('huge', async () => new Uint8Array(5000));
      await assert.rejects(
        a.call({ id: 'b' }, 'huge', {}),
        isCode('REMOTE_ERROR', (error) => assert.equal(error.remoteCode, 'FRAME_TOO_LARGE')),
      );
    });

    it('cuts a huge remote error message to a bounded length', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      b.handle('fail', async () => {
        throw new Error('x'.repeat(100_000));
      });
      await assert.rejects(
        a.call({ id: 'b' }, 'fail', {}),
        isCode('REMOTE_ERROR', (error) => {
          assert.equal(error.remoteMessage?.startsWith('x'.repeat(errorMessageLengthMax)), true);
          assert.match(error.remoteMessage ?? '', /… \(95904 more characters\)$/);
        }),
      );
    });

    it('an error reply too large for a tiny frame bound becomes a short one', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b', { limits: { frameBytesMax: 2048, snapshotChunkBytes: 1024 } });
      harness.introduce(a, b);
      b.handle('fail', async () => {
        throw Object.assign(new Error('y'.repeat(3000)), { code: 'VERBOSE' });
      });
      await assert.rejects(
        a.call({ id: 'b' }, 'fail', {}),
        isCode('REMOTE_ERROR', (error) => {
          assert.equal(error.remoteCode, 'VERBOSE');
          assert.match(error.remoteMessage ?? '', /^cannot send the reply: frame of \d+ bytes exceeds frameBytesMax 2048$/);
        }),
      );
    });

    it('rejects unknown peers, unreachable addresses and bad arguments clearly', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      const deadAddress = b.address;
      await b.close();
      await assert.rejects(a.call({ id: 'nobody' }, 'x', {}), isCode('UNKNOWN_PEER'));
      await assert.rejects(a.call({}, 'x', {}), isCode('INVALID_ARGUMENT'));
      await assert.rejects(a.call({ address: deadAddress }, '', {}), isCode('INVALID_ARGUMENT'));
      await assert.rejects(a.call({ address: deadAddress }, 'x', {}, { timeoutMs: 0 }), isCode('INVALID_ARGUMENT'));
      await assert.rejects(a.call({ address: deadAddress }, 'x', {}), isCode('UNREACHABLE'));
    });

    it('refuses a peer from another cluster at the handshake, on both sides', async () => {
      const a = await harness.create('a', { clusterId: 'blue' });
      const b = await harness.create('b', { clusterId: 'green' });
      const errorsAtB = collectErrors(b);
      b.handle('x', async () => 'should not run');
      harness.introduce(a, b);
      await assert.rejects(
        a.call({ id: 'b' }, 'x', {}),
        isCode('HANDSHAKE_REJECTED', (error) => assert.match(error.message, /cluster id mismatch/)),
      );
      await waitFor('the refusal at b', () => errorsAtB.some((error) => error instanceof TransportError && error.code === 'HANDSHAKE_REJECTED'));
    });

    it('refuses to talk to a node whose id differs from the one addressed', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      b.handle('x', async () => 'wrong node');
      a.setPeer('c', b.address);
      await assert.rejects(a.call({ id: 'c' }, 'x', {}), isCode('PEER_ID_MISMATCH'));
    });

    it('isolate makes calls time out; heal makes them work again', async () => {
      const a = await harness.create('a');
      const b = await harness.create('b');
      harness.introduce(a, b);
      b.handle('ping', async () => 'pong');
      assert.equal(await a.call({ id: 'b' }, 'ping', {}), 'pong');
      a.faults.isolate('b');
      await assert.rejects(a.call({ id: 'b' }, 'ping', {}, { timeoutMs: 50 }), isCode('TIMEOUT'));
      a.faults.heal('b');
      assert.equal(await a.call({ id: 'b' }, 'ping', {}), 'pong');
    });

    it('close() rejects pending calls with CLOSED and refuses new work', async () => {
      const { a } = await hangingPair();
      const pending = a.call({ id: 'b' }, 'hang', {});
      await waitFor('the call to be sent', () => (a.metrics().peers['b']?.callsSent ?? 0) === 1);
      await a.close();
      await assert.rejects(pending, isCode('CLOSED'));
      await assert.rejects(a.call({ id: 'b' }, 'hang', {}), isCode('CLOSED'));
      a.send([{ from: 'a', to: 'b' }]); // A no-op after close, not a throw.
    });

    it('a removed peer is unknown; its pending calls fail', async () => {
      const { a } = await hangingPair();
      const pending = a.call({ id: 'b' }, 'hang', {});
      a.removePeer('b');
      await assert.rejects(pending, isCode('UNREACHABLE'));
      await assert.rejects(a.call({ id: 'b' }, 'hang', {}), isCode('UNKNOWN_PEER'));
    });
  });
}
