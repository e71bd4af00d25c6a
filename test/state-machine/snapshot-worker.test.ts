/**
 * The snapshot worker thread, started both ways it can be: from source (this test runs
 * through tsx, so the thread loads snapshot-worker-thread.ts) and from dist/ (built by
 * `npm test`, so the thread loads the compiled snapshot-worker-thread.js).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as fromSource from '../../src/state-machine/snapshot-worker.js';
import { runSnapshotTask } from '../../src/state-machine/snapshot-worker-thread.js';
import { stateTable } from '../../src/state-machine/connections.js';
import { temporaryDirectory } from './helpers.js';

type SnapshotWorkerModule = typeof fromSource;

const builtUrl = new URL('../../dist/state-machine/snapshot-worker.js', import.meta.url);
const variants: [string, () => Promise<SnapshotWorkerModule>, string][] = [
  ['from source (tsx)', () => Promise.resolve(fromSource), '.ts'],
  ['from dist/', () => import(builtUrl.href) as Promise<SnapshotWorkerModule>, '.js'],
];

function liveDatabase(path: string, appliedIndex: number): void {
  const database = new Database(path);
  database.pragma('journal_mode = WAL');
  database.exec(`CREATE TABLE ${stateTable} (id INTEGER PRIMARY KEY, applied_index INTEGER NOT NULL); CREATE TABLE t(v)`);
  database.prepare(`INSERT INTO ${stateTable} VALUES (1, ?)`).run(appliedIndex);
  database.prepare('INSERT INTO t VALUES (?)').run('kept');
  database.close();
}

async function refusal(promise: Promise<unknown>): Promise<{ code: unknown; message: string }> {
  const error = await promise.then(
    () => assert.fail('expected a refusal'),
    (caught: unknown) => caught as { code: unknown; message: string },
  );
  return { code: error.code, message: error.message };
}

for (const [name, load, extension] of variants) {
  describe(`snapshot worker ${name}`, () => {
    it('loads the worker file with its own extension', async () => {
      const module = await load();
      assert.ok(module.snapshotWorkerUrl.pathname.endsWith(`/snapshot-worker-thread${extension}`));
      assert.ok(existsSync(module.snapshotWorkerUrl), module.snapshotWorkerUrl.href);
    });

    it('writes a sealed copy, renames it into place, and stages it back', async () => {
      const module = await load();
      const directory = temporaryDirectory('worker');
      try {
        const live = join(directory.path, 'live.sqlite');
        liveDatabase(live, 42);
        const target = join(directory.path, 'copy.tmp');
        const final = join(directory.path, 'snapshot.db');
        assert.equal(await module.writeSnapshotInWorker(live, target, final, 1000), 42);
        assert.equal(existsSync(target), false);
        const copy = new Database(final, { readonly: true });
        assert.equal(copy.pragma('journal_mode', { simple: true }), 'delete', 'a self-contained rollback-journal file');
        assert.equal(copy.prepare('SELECT v FROM t').pluck().get(), 'kept');
        copy.close();
        assert.equal(await module.stageSnapshotInWorker(final, join(directory.path, 'staged.db')), 42);
      } finally {
        directory.cleanup();
      }
    });

    it('refuses a file that is not a database, and one without an applied index', async () => {
      const module = await load();
      const directory = temporaryDirectory('worker');
      try {
        const garbage = join(directory.path, 'garbage.db');
        writeFileSync(garbage, 'not a database at all, just some bytes to fill a page'.repeat(100));
        const notDatabase = await refusal(module.stageSnapshotInWorker(garbage, join(directory.path, 'a.db')));
        assert.equal(notDatabase.code, 'BAD_SNAPSHOT');
        assert.match(notDatabase.message, /^not a usable snapshot: .*garbage\.db: file is not a database/);
        const bare = join(directory.path, 'bare.db');
        new Database(bare).exec('CREATE TABLE t(v)').close();
        const noIndex = await refusal(module.stageSnapshotInWorker(bare, join(directory.path, 'b.db')));
        assert.equal(noIndex.code, 'BAD_SNAPSHOT');
        assert.match(noIndex.message, new RegExp(`no such table: ${stateTable}`));
        const missing = await refusal(
          module.writeSnapshotInWorker(join(directory.path, 'missing.sqlite'), join(directory.path, 'c.tmp'), join(directory.path, 'c.db'), 1000),
        );
        assert.equal(missing.code, 'BAD_SNAPSHOT');
        assert.match(missing.message, /^snapshot failed: /);
      } finally {
        directory.cleanup();
      }
    });
  });
}

it('runSnapshotTask answers every failure as a message instead of throwing', () => {
  const answer = runSnapshotTask({
    kind: 'stage',
    sourcePath: '/nonexistent/quorumlite/source.db',
    targetPath: '/nonexistent/quorumlite/target.db',
    stateTable,
  });
  assert.ok('error' in answer);
  assert.match(answer.error, /ENOENT/);
});
