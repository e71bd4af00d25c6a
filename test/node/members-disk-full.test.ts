/**
 * Found by the fault suite (`npm run jepsen`, register with every nemesis): a conf change
 * arrived while the node's disk was full; writing members.json failed with ENOSPC, a
 * plain file-system error the runtime did not count as environmental, and the node died
 * (`event: fatal`). Its cluster, one node short, then lost its quorum to the next fault.
 * The address book's write failure is now a StorageError (DISK_FULL): the node halts,
 * retries, and resumes once space returns, with the change written.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { systemFiles } from '../../src/node/files.js';
import { MemberBook, encodeMemberContext, membersFileName } from '../../src/node/members.js';
import type { NodeFiles } from '../../src/node/ports.js';
import { StorageError } from '../../src/storage/errors.js';
import { startInMemoryRuntime } from './in-memory-runtime.js';

function enospc(): Error {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}

/** The real file operations, with members.json writes failing while `full` is set. */
function fillableFiles(): { files: NodeFiles; setFull(full: boolean): void; writes(): number } {
  let full = false;
  let writes = 0;
  return {
    files: {
      ...systemFiles,
      writeTextDurably(path, text) {
        if (full && path.endsWith(membersFileName)) throw enospc();
        writes += 1;
        systemFiles.writeTextDurably(path, text);
      },
    },
    setFull(value) {
      full = value;
    },
    writes: () => writes,
  };
}

test('the member book: a failed write is a DISK_FULL StorageError and stays unsaved until a later write succeeds', () => {
  const disk = fillableFiles();
  const saved = new Map<string, string>();
  const files: NodeFiles = {
    ...disk.files,
    readTextIfPresent: (path) => saved.get(path),
    writeTextDurably(path, text) {
      if (path.endsWith(membersFileName) && disk.writes() < 0) throw enospc();
      saved.set(path, text);
    },
  };
  let failing = true;
  const book = new MemberBook('/members-test', {
    ...files,
    writeTextDurably(path, text) {
      if (failing) throw enospc();
      files.writeTextDurably(path, text);
    },
  });
  book.set('n1', { raftAddress: 'h:1', apiAddress: 'h:2' });
  assert.throws(
    () => book.persist(),
    (error: unknown) => error instanceof StorageError && error.code === 'DISK_FULL' && /disk full while writing .*members\.json/.test(error.message),
  );
  failing = false;
  book.persist(); // the change left unsaved is written now, with nothing new set
  assert.deepEqual(JSON.parse(saved.get(join('/members-test', membersFileName)) ?? '{}'), { n1: { raftAddress: 'h:1', apiAddress: 'h:2' } });
  saved.clear();
  book.persist();
  assert.equal(saved.size, 0, 'nothing changed since the last write: nothing written');
});

test('a conf change on a full disk halts the node (it does not die); with space back it resumes and the address book has the change', async () => {
  const disk = fillableFiles();
  const node = await startInMemoryRuntime(['n1'], {}, disk.files);
  try {
    const { runtime, scheduler, config } = node;
    disk.setFull(true);
    const change = runtime.proposeConfChange(
      { type: 'add-learner', nodeId: 'n2', context: encodeMemberContext({ raftAddress: 'n2:raft', apiAddress: 'n2:api' }) },
      60_000,
    );
    await scheduler.settle();
    assert.ok(runtime.haltError instanceof StorageError && runtime.haltError.code === 'DISK_FULL', `halted on the full disk, got ${String(runtime.haltError)}`);
    assert.equal(runtime.members.has('n2'), true, 'the address is known in memory');

    disk.setFull(false);
    await scheduler.advance(config.haltRetryIntervalMs);
    await scheduler.settle();
    const index = await change;
    assert.equal(runtime.haltError, undefined);
    await runtime.waitForApplied(index, 1000);
    const written = systemFiles.readTextIfPresent(join(config.dataDirectory, membersFileName));
    assert.deepEqual(Object.keys(JSON.parse(written ?? '{}')).sort(), ['n1', 'n2']);
  } finally {
    await node.close();
  }
});
