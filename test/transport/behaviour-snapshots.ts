/**
 * The behavioural suite for snapshot streaming, run against both transports.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { decodeValue, encodeFrame, FrameKind, protocolVersion } from '../../src/transport/codec.js';
import { TransportError, type TransportErrorCode } from '../../src/transport/errors.js';
import { Harness, RawPeer, waitFor, type TestTransport, type TransportKind } from './helpers.js';

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function isCode(code: TransportErrorCode, remoteCode?: string): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof TransportError, `expected a TransportError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (remoteCode !== undefined) assert.equal(error.remoteCode, remoteCode, error.message);
    return true;
  };
}

const chunkBytes = 64 * 1024;

export function defineSnapshotSuite(kind: TransportKind): void {
  describe(`${kind} transport: snapshots`, () => {
    let harness: Harness;
    let incoming: string;
    let files: string;
    beforeEach(async () => {
      harness = new Harness(kind);
      incoming = await harness.temporaryDirectory();
      files = await harness.temporaryDirectory();
    });
    afterEach(async () => {
      await harness.dispose();
    });

    async function pair(receiverLimits = {}): Promise<[TestTransport, TestTransport]> {
      const sender = await harness.create('sender', { limits: { snapshotChunkBytes: chunkBytes } });
      const receiver = await harness.create('receiver', { snapshotDirectory: incoming, limits: { snapshotChunkBytes: chunkBytes, ...receiverLimits } });
      harness.introduce(sender, receiver);
      return [sender, receiver];
    }

    async function snapshotFile(byteCount: number): Promise<{ path: string; bytes: Buffer }> {
      const bytes = randomBytes(byteCount);
      const path = join(files, `snapshot-${byteCount}.bin`);
      await writeFile(path, bytes);
      return { path, bytes };
    }

    async function incomingIsEmpty(): Promise<boolean> {
      return (await readdir(incoming)).length === 0;
    }

    /** A raw receiver at its own address that completes the handshake and records frames. */
    async function rawReceiver(sender: TestTransport): Promise<{ peers: RawPeer[] }> {
      const peers: RawPeer[] = [];
      const listener = await harness.network.listen(harness.nextListenAddress('raw-receiver'), (stream) => {
        const peer = new RawPeer(stream);
        peers.push(peer);
        stream.once('data', () => {
          peer.writeFrame(FrameKind.helloAccepted, { protocolVersion, clusterId: 'cluster-test', nodeId: 'raw', address: 'raw' });
        });
      });
      harness.onCleanup(async () => {
        for (const peer of peers) peer.destroy();
        await listener.close();
      });
      sender.setPeer('raw', listener.address);
      return { peers };
    }

    /** A raw sender that has completed the handshake with `receiver`. */
    async function rawSender(receiver: TestTransport): Promise<RawPeer> {
      const raw = await RawPeer.dial(harness.network, receiver.address);
      raw.hello('raw-sender');
      await waitFor('the handshake reply', () => raw.frames.length === 1);
      raw.frames.length = 0;
      return raw;
    }

    function chunk(bytes: Uint8Array): Buffer {
      return encodeFrame(FrameKind.snapshotChunk, [bytes], 16 * 1024 * 1024);
    }

    it('streams a multi-MB file; the handler gets the metadata and an exact, durable copy', async () => {
      const [sender, receiver] = await pair();
      const source = await snapshotFile(3 * 1024 * 1024 + 17);
      const metadata = { index: 120n, term: 3, confState: { voters: ['a', 'b'], learners: [] }, tag: new Uint8Array([7]) };
      let seen: { metadata: unknown; hash: string; from: string } | undefined;
      receiver.onSnapshot(async (received, tempFilePath, from) => {
        seen = { metadata: received, hash: sha256(await readFile(tempFilePath)), from: from.fromId };
        await rename(tempFilePath, join(files, 'installed.bin'));
      });
      await sender.sendSnapshot('receiver', metadata, source.path);
      assert.deepStrictEqual(seen, { metadata, hash: sha256(source.bytes), from: 'sender' });
      assert.equal(sha256(await readFile(join(files, 'installed.bin'))), sha256(source.bytes));
      assert.ok(await incomingIsEmpty());
      assert.equal(sender.metrics().peers['receiver']?.snapshotsSent, 1);
      await waitFor('the receive count', () => receiver.metrics().peers['sender']?.snapshotsReceived === 1);
    });

    it('creates a missing snapshot directory at start', async () => {
      const directory = join(incoming, 'nested', 'incoming');
      const sender = await harness.create('sender', { limits: { snapshotChunkBytes: chunkBytes } });
      const receiver = await harness.create('receiver', { snapshotDirectory: directory });
      harness.introduce(sender, receiver);
      let tempDirectory = '';
      receiver.onSnapshot(async (_metadata, tempFilePath) => {
        tempDirectory = dirname(tempFilePath);
      });
      await sender.sendSnapshot('receiver', {}, (await snapshotFile(1000)).path);
      assert.equal(tempDirectory, directory);
    });

    it('streams an empty file', async () => {
      const [sender, receiver] = await pair();
      const source = await snapshotFile(0);
      let size = -1;
      receiver.onSnapshot(async (_metadata, tempFilePath) => {
        size = (await readFile(tempFilePath)).byteLength;
      });
      await sender.sendSnapshot('receiver', {}, source.path);
      assert.equal(size, 0);
      assert.ok(await incomingIsEmpty(), 'the transport deletes a temp file the handler left behind');
    });

    it('rejects when the receiver handler fails, and the temp file is gone', async () => {
      const [sender, receiver] = await pair();
      const source = await snapshotFile(300_000);
      receiver.onSnapshot(async () => {
        throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      });
      await assert.rejects(sender.sendSnapshot('receiver', {}, source.path), isCode('SNAPSHOT_FAILED', 'ENOSPC'));
      await waitFor('the temp file to be deleted', incomingIsEmpty);
    });

    it('the receiver rejects a snapshot whose checksum does not match and deletes it', async () => {
      const [, receiver] = await pair();
      let handled = false;
      receiver.onSnapshot(async () => {
        handled = true;
      });
      const raw = await rawSender(receiver);
      const bytes = randomBytes(200_000);
      raw.writeFrame(FrameKind.snapshotBegin, { metadata: {}, totalBytes: bytes.byteLength });
      raw.stream.write(chunk(bytes.subarray(0, 100_000)));
      const corrupted = Buffer.from(bytes.subarray(100_000));
      corrupted[5] = (corrupted[5] as number) ^ 0xff;
      raw.stream.write(chunk(corrupted));
      raw.writeFrame(FrameKind.snapshotEnd, { totalBytes: bytes.byteLength, sha256: sha256(bytes) });
      await waitFor('the result', () => raw.frames.length === 1);
      const result = decodeValue((raw.frames[0] as { payload: Uint8Array }).payload) as { ok: boolean; message: string };
      assert.equal(result.ok, false);
      assert.match(result.message, /checksum mismatch/);
      await waitFor('the temp file to be deleted', incomingIsEmpty);
      assert.equal(handled, false);
    });

    it('the receiver rejects more bytes than announced', async () => {
      const [, receiver] = await pair();
      receiver.onSnapshot(async () => undefined);
      const raw = await rawSender(receiver);
      raw.writeFrame(FrameKind.snapshotBegin, { metadata: {}, totalBytes: 10 });
      raw.stream.write(chunk(randomBytes(11)));
      await waitFor('the result', () => raw.frames.length === 1);
      const result = decodeValue((raw.frames[0] as { payload: Uint8Array }).payload) as { ok: boolean; message: string };
      assert.equal(result.ok, false);
      assert.match(result.message, /more than the announced 10 bytes/);
      await waitFor('the temp file to be deleted', incomingIsEmpty);
    });

    it('a sender that disconnects mid-transfer leaves no temp file', async () => {
      const [, receiver] = await pair();
      let handled = false;
      receiver.onSnapshot(async () => {
        handled = true;
      });
      const raw = await rawSender(receiver);
      raw.writeFrame(FrameKind.snapshotBegin, { metadata: {}, totalBytes: 1_000_000 });
      raw.stream.write(chunk(randomBytes(50_000)));
      await waitFor('the temp file', async () => (await readdir(incoming)).length === 1);
      raw.destroy();
      await waitFor('the temp file to be deleted', incomingIsEmpty);
      assert.equal(handled, false);
    });

    /** The bytes resumable transfers left in the receiver's directory. */
    async function partialBytes(): Promise<number> {
      const names = (await readdir(incoming)).filter((name) => name.startsWith('partial-'));
      let bytes = 0;
      for (const name of names) bytes += (await stat(join(incoming, name))).size;
      return bytes;
    }

    /** Starts a resumable transfer and cuts it off once the receiver holds at least `keptBytes`. */
    async function cutOff(sender: TestTransport, path: string, keptBytes: number): Promise<void> {
      const controller = new AbortController();
      const sending = sender.sendSnapshot('receiver', { attempt: 1 }, path, { signal: controller.signal, resumeKey: 'snapshot-7-2' });
      await waitFor('part of the file at the receiver', async () => (await partialBytes()) >= keptBytes);
      controller.abort();
      await assert.rejects(sending, isCode('ABORTED'));
    }

    it('a transfer cut off part-way resumes from what the receiver kept, checked by its SHA-256', async () => {
      const [sender, receiver] = await pair();
      const received: Buffer[] = [];
      receiver.onSnapshot(async (_metadata, path) => {
        received.push(await readFile(path));
      });
      const source = await snapshotFile(6 * 1024 * 1024);
      await cutOff(sender, source.path, 1024 * 1024);
      assert.equal(received.length, 0);
      await sender.sendSnapshot('receiver', { attempt: 2 }, source.path, { resumeKey: 'snapshot-7-2' });
      const resumed = sender.metrics().peers['receiver']?.snapshotBytesResumed ?? 0;
      assert.ok(resumed >= 1024 * 1024, `${resumed} bytes were not sent again`);
      assert.equal(sha256(received[0] as Buffer), sha256(source.bytes), 'the whole file, exactly');
      await waitFor('the kept part to be consumed', incomingIsEmpty);
    });

    it('a kept part that the file no longer starts with is thrown away: the file is sent whole', async () => {
      const [sender, receiver] = await pair();
      const received: Buffer[] = [];
      receiver.onSnapshot(async (_metadata, path) => {
        received.push(await readFile(path));
      });
      const source = await snapshotFile(4 * 1024 * 1024);
      await cutOff(sender, source.path, 512 * 1024);
      const changed = Buffer.from(source.bytes);
      changed[0] = (changed[0] as number) ^ 0xff;
      await writeFile(source.path, changed);
      await sender.sendSnapshot('receiver', { attempt: 2 }, source.path, { resumeKey: 'snapshot-7-2' });
      assert.equal(sender.metrics().peers['receiver']?.snapshotBytesResumed, 0);
      assert.equal(sha256(received[0] as Buffer), sha256(changed));
    });

    it('to a peer that announced no resume (an older node), a resume key changes nothing on the wire', async () => {
      const [sender] = await pair();
      const { peers } = await rawReceiver(sender);
      const source = await snapshotFile(300 * 1024);
      const sending = sender.sendSnapshot('raw', { old: true }, source.path, { resumeKey: 'snapshot-7-2' });
      await waitFor('the end frame', () => peers[0]?.frames.some((frame) => frame.kind === FrameKind.snapshotEnd) ?? false);
      const frames = peers[0]?.frames ?? [];
      const begin = decodeValue((frames.find((frame) => frame.kind === FrameKind.snapshotBegin) as { payload: Uint8Array }).payload);
      assert.deepEqual(begin, { metadata: { old: true }, totalBytes: 300 * 1024 }, 'no resume key for a peer that would not understand it');
      assert.ok(!frames.some((frame) => frame.kind === FrameKind.snapshotSeek));
      peers[0]?.writeFrame(FrameKind.snapshotResult, { ok: true });
      await sending;
    });

    it('a transfer that stalls past snapshotIdleTimeoutMs is abandoned and cleaned up', async () => {
      const [, receiver] = await pair({ snapshotIdleTimeoutMs: 100 });
      receiver.onSnapshot(async () => undefined);
      const raw = await rawSender(receiver);
      raw.writeFrame(FrameKind.snapshotBegin, { metadata: {}, totalBytes: 1000 });
      await waitFor('the result', () => raw.frames.length === 1);
      const result = decodeValue((raw.frames[0] as { payload: Uint8Array }).payload) as { ok: boolean; code: string };
      assert.deepStrictEqual([result.ok, result.code], [false, 'TIMEOUT']);
      await waitFor('the temp file to be deleted', incomingIsEmpty);
    });

    it('the sender rejects with ABORTED when aborted mid-transfer, and closes the stream', async () => {
      const [sender] = await pair();
      const { peers } = await rawReceiver(sender);
      const source = await snapshotFile(2 * 1024 * 1024);
      const controller = new AbortController();
      const sending = sender.sendSnapshot('raw', {}, source.path, { signal: controller.signal });
      await waitFor('the first chunk', () => peers[0]?.frames.some((frame) => frame.kind === FrameKind.snapshotChunk) ?? false);
      controller.abort();
      await assert.rejects(sending, isCode('ABORTED'));
      await waitFor('the stream to close', () => peers[0]?.closed === true);
    });

    it('the sender rejects when the receiver goes away mid-transfer', async () => {
      const [sender] = await pair();
      const { peers } = await rawReceiver(sender);
      const source = await snapshotFile(2 * 1024 * 1024);
      const sending = sender.sendSnapshot('raw', {}, source.path);
      await waitFor('the first chunk', () => peers[0]?.frames.some((frame) => frame.kind === FrameKind.snapshotChunk) ?? false);
      peers[0]?.destroy();
      await assert.rejects(sending, isCode('SNAPSHOT_FAILED'));
    });

    it('refuses bad requests clearly', async () => {
      const [sender, receiver] = await pair({ snapshotBytesMax: 1000 });
      receiver.onSnapshot(async () => undefined);
      const small = await snapshotFile(10);
      const large = await snapshotFile(1001);
      await assert.rejects(sender.sendSnapshot('nobody', {}, small.path), isCode('UNKNOWN_PEER'));
      await assert.rejects(sender.sendSnapshot('receiver', {}, join(files, 'missing.bin')), isCode('INVALID_ARGUMENT'));
      await assert.rejects(sender.sendSnapshot('receiver', {}, large.path), isCode('SNAPSHOT_FAILED', 'SNAPSHOT_TOO_LARGE'));
      const strict = await harness.create('strict', { limits: { snapshotBytesMax: 5 } });
      strict.setPeer('receiver', receiver.address);
      await assert.rejects(strict.sendSnapshot('receiver', {}, small.path), isCode('INVALID_ARGUMENT'));
      await sender.sendSnapshot('receiver', {}, small.path);
    });

    it('refuses a snapshot when the receiver has no handler', async () => {
      const [sender] = await pair();
      const source = await snapshotFile(10);
      await assert.rejects(sender.sendSnapshot('receiver', {}, source.path), isCode('SNAPSHOT_FAILED', 'NO_HANDLER'));
    });

    it('bounds concurrent inbound snapshots at snapshotsInFlightMax', async () => {
      const [sender, receiver] = await pair({ snapshotsInFlightMax: 1 });
      receiver.onSnapshot(async () => undefined);
      const raw = await rawSender(receiver);
      raw.writeFrame(FrameKind.snapshotBegin, { metadata: {}, totalBytes: 100 });
      await waitFor('the first transfer to hold the slot', async () => (await readdir(incoming)).length === 1);
      const source = await snapshotFile(10);
      await assert.rejects(sender.sendSnapshot('receiver', {}, source.path), isCode('SNAPSHOT_FAILED', 'OVERLOADED'));
      raw.destroy();
      await waitFor('the slot to free', incomingIsEmpty);
      await waitFor('a transfer to succeed again', () =>
        sender.sendSnapshot('receiver', {}, source.path).then(
          () => true,
          () => false,
        ),
      );
    });

    it('bounds concurrent outbound snapshots at snapshotsSendingMax', async () => {
      const sender = await harness.create('sender', { limits: { snapshotChunkBytes: chunkBytes, snapshotsSendingMax: 1 } });
      const receiver = await harness.create('receiver', { snapshotDirectory: incoming });
      harness.introduce(sender, receiver);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      harness.onCleanup(release);
      receiver.onSnapshot(async () => held);
      const source = await snapshotFile(1000);
      const first = sender.sendSnapshot('receiver', {}, source.path);
      await assert.rejects(sender.sendSnapshot('receiver', {}, source.path), isCode('TOO_MANY_SNAPSHOTS'));
      release();
      await first;
      await sender.sendSnapshot('receiver', {}, source.path);
    });

    it('close() during a transfer rejects the sender with CLOSED', async () => {
      const [sender] = await pair();
      const { peers } = await rawReceiver(sender);
      const source = await snapshotFile(2 * 1024 * 1024);
      const sending = sender.sendSnapshot('raw', {}, source.path);
      await waitFor('the first chunk', () => peers[0]?.frames.some((frame) => frame.kind === FrameKind.snapshotChunk) ?? false);
      await sender.close();
      await assert.rejects(sending, isCode('CLOSED'));
    });
  });
}
