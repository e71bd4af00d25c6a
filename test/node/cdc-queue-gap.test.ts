/**
 * The CDC queue's gaps (entries a snapshot install covered, never applied here): kept
 * across a reopen, clipped by the high-water mark, never read past; filled from what a
 * member serves (complete only where that member applied them or the mark passed them);
 * skipped only when no member can fill them, logged as an error and counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCdcFlag } from '../../src/node/cdc-config.js';
import { CdcQueue } from '../../src/node/cdc-queue.js';
import { CdcSender } from '../../src/node/cdc-sender.js';
import { type NodeLogger, silentLogger } from '../../src/node/logger.js';
import type { PeerTransport } from '../../src/node/peer-calls.js';
import type { CapturedEntry } from '../../src/state-machine/change-capture.js';

function captured(index: number): CapturedEntry {
  return {
    index,
    timestampMs: 1_000,
    changes: [{ operation: 'INSERT', table: 't', oldRowId: undefined, newRowId: BigInt(index), before: undefined, after: `{"id":${index}}` }],
    truncated: false,
  };
}

function withDirectory(body: (path: (name: string) => string) => Promise<void> | void): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-cdc-gap-'));
  return (async () => {
    try {
      await body((name) => join(directory, name));
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  })();
}

const indexes = (queue: CdcQueue): number[] => queue.read(0, 100, 1 << 20).map((entry) => entry.index);

test('a restore leaves a gap: read stops before it, it survives a reopen, the mark clips it, a fill queues what a member served', async () => {
  await withDirectory((path) => {
    let queue = new CdcQueue({ path: path('queue.sqlite'), entryCountMax: 100 });
    try {
      queue.record(1, 2, [captured(1), captured(2)]);
      queue.restored(2, 10);
      queue.record(11, 12, [captured(11), captured(12)]);
      assert.deepEqual(indexes(queue), [1, 2], 'nothing after the gap is read before it is filled');
      queue.close();
      queue = new CdcQueue({ path: path('queue.sqlite'), entryCountMax: 100 });
      assert.deepEqual(queue.firstGap(), { firstIndex: 3, lastIndex: 10 }, 'persisted');
      queue.advanceHighWaterMark(4);
      assert.deepEqual(queue.firstGap(), { firstIndex: 5, lastIndex: 10 }, 'acknowledged indexes are no gap');

      // A member that applied 5..7 only: the gap shrinks to what is left.
      const member = new CdcQueue({ path: path('member.sqlite'), entryCountMax: 100 });
      try {
        member.record(1, 7, [captured(3), captured(5), captured(7)]);
        const served = member.serveRange(4, 10, 7, 1 << 20);
        assert.deepEqual(served.completeThrough, 7);
        assert.deepEqual(
          served.entries.map((entry) => entry.index),
          [5, 7],
        );
        queue.fillGap(queue.firstGap() as { firstIndex: number; lastIndex: number }, served.entries, served.completeThrough);
        assert.deepEqual(queue.firstGap(), { firstIndex: 8, lastIndex: 10 });
        assert.deepEqual(indexes(queue), [5, 7]);
        // A member with a gap of its own over the range is complete only below it; one whose mark passed it, entirely.
        member.restored(7, 9);
        assert.deepEqual(member.serveRange(7, 10, 12, 1 << 20), { entries: [], completeThrough: 7 });
        member.advanceHighWaterMark(10);
        assert.deepEqual(member.serveRange(7, 10, 12, 1 << 20), { entries: [], completeThrough: 10 });
      } finally {
        member.close();
      }
      queue.fillGap({ firstIndex: 8, lastIndex: 10 }, [], 10);
      assert.equal(queue.firstGap(), undefined);
      assert.deepEqual(indexes(queue), [5, 7, 11, 12]);
    } finally {
      queue.close();
    }
  });
});

test('a gap no member can fill is skipped after the rounds, logged as an error and counted; what follows it is sent', async () => {
  await withDirectory(async (path) => {
    const queue = new CdcQueue({ path: path('queue.sqlite'), entryCountMax: 100 });
    const lines: string[] = [];
    const errors: unknown[] = [];
    const logger: NodeLogger = { ...silentLogger, error: (fields) => errors.push(fields) };
    // The one member answers, but has pruned nothing and applied nothing of the gap.
    const peers: PeerTransport = { call: async () => ({ ok: true, value: { entries: [], completeThrough: 0 } }), handle: () => undefined };
    const log = { isLeader: true, appliedIndex: 12, confState: () => ({ voters: ['n1', 'n2'], learners: [] }) };
    const config = parseCdcFlag('stdout', () => '');
    const sender = new CdcSender({ config, queue, log, peers, nodeId: 'n1', logger, writeLine: (line) => lines.push(line) });
    try {
      queue.record(1, 1, [captured(1)]);
      queue.restored(1, 10);
      queue.record(11, 11, [captured(11)]);
      sender.start();
      const deadline = Date.now() + 20_000;
      while (queue.highWaterMark < 11) {
        assert.ok(Date.now() < deadline, 'timed out waiting for the entry after the gap');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(sender.skippedGapIndexCount, 9);
      assert.deepEqual(errors, [{ event: 'cdc-gap-skipped', firstIndex: 2, lastIndex: 10 }]);
      assert.deepEqual(
        lines.map((line) => (JSON.parse(line) as { payload: { index: number }[] }).payload.map((entry) => entry.index)),
        [[1], [11]],
      );
    } finally {
      await sender.stop();
      queue.close();
    }
  });
});

test('a restore noted but not finished (a crash before restored()) still leaves its gap, resolved at start; a finished one leaves none pending', async () => {
  await withDirectory((path) => {
    let queue = new CdcQueue({ path: path('queue.sqlite'), entryCountMax: 100 });
    try {
      queue.record(1, 3, [captured(3)]);
      queue.restoring(3);
      queue.close();
      queue = new CdcQueue({ path: path('queue.sqlite'), entryCountMax: 100 });
      queue.resolvePendingRestore(9);
      assert.deepEqual(queue.firstGap(), { firstIndex: 4, lastIndex: 9 });
      queue.fillGap({ firstIndex: 4, lastIndex: 9 }, [], 9);
      queue.restoring(9);
      queue.restored(9, 12);
      queue.resolvePendingRestore(20);
      assert.deepEqual(queue.firstGap(), { firstIndex: 10, lastIndex: 12 }, 'the finished restore is not resolved again');
    } finally {
      queue.close();
    }
  });
});
