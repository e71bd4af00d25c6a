/**
 * The file a follower receives (src/node/snapshot-sending.ts): a whole-file snapshot is
 * streamed as it is, under the store's read lock; a chain is materialised once, shared by
 * concurrent transfers, kept after a failed transfer (so the next attempt resumes on the
 * same bytes) and removed once a transfer succeeds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemFiles } from '../../src/node/files.js';
import type { NodeStateMachine, NodeStorage, StoredSnapshot } from '../../src/node/ports.js';
import { SnapshotSending } from '../../src/node/snapshot-sending.js';

function stored(index: number, format: StoredSnapshot['format'], directory: string): StoredSnapshot {
  return {
    metadata: { index, term: 2, confState: { voters: ['n1'], learners: [] } },
    context: {},
    dataPath: join(directory, `data-${index}`),
    format,
    proof: undefined,
    files: format === 'full' ? {} : { internal: join(directory, `internal-${index}`) },
  };
}

test('a chain is materialised once, kept after a failed transfer, removed after a successful one; a whole file is sent as it is', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-sending-'));
  try {
    const root = stored(10, 'base', directory);
    const delta = stored(12, 'delta', directory);
    const whole = stored(20, 'full', directory);
    let readers = 0;
    const storage = {
      snapshots: {
        find: (index: number) => [root, delta, whole].find((snapshot) => snapshot.metadata.index === index),
        chain: (snapshot: StoredSnapshot) => (snapshot === delta ? [root, delta] : [snapshot]),
        readLock: async () => {
          readers++;
          return () => {
            readers--;
          };
        },
      },
    } as unknown as NodeStorage;
    const materialised: string[] = [];
    const stateMachine = {
      materialiseSnapshot: async (chain: { deltas: readonly unknown[] }, toPath: string) => {
        assert.equal(readers, 1, 'the chain is read under the lock');
        assert.equal(chain.deltas.length, 1);
        materialised.push(toPath);
        writeFileSync(toPath, 'the whole state at 12');
        return 12;
      },
    } as unknown as NodeStateMachine;
    const sending = new SnapshotSending({ dataDirectory: directory, storage, stateMachine, files: systemFiles });

    const [first, second] = await Promise.all([sending.fileFor(delta), sending.fileFor(delta)]);
    assert.equal(materialised.length, 1, 'concurrent transfers share one file');
    assert.equal(first?.path, join(directory, 'snapshot-outgoing-12-2.db'));
    assert.equal(second?.path, first?.path);
    await first?.release(false);
    await second?.release(false);
    assert.ok(existsSync(first?.path ?? ''), 'kept after failed transfers: the next one resumes on the same bytes');
    const retry = await sending.fileFor(delta);
    assert.equal(materialised.length, 1, 'not materialised again');
    await retry.release(true);
    assert.equal(existsSync(retry.path), false, 'removed once a transfer succeeded');

    const streamed = await sending.fileFor(whole);
    assert.equal(streamed.path, whole.dataPath);
    assert.equal(readers, 1, 'a whole file streams under the read lock (no fold may change it)');
    await streamed.release(true);
    assert.equal(readers, 0);
    await sending.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
