/**
 * The shell's file commands against a real node that has the endpoints: `.backup`,
 * `.dump FILE [TABLES]`, `.restore` of a file and of a dump, `.boot`, `.snapshot`,
 * `.reap`, each with rqlite's text; a backup into a directory that does not exist fails
 * as Go's os.Create does, and leaves no file; a refused restore changes nothing. The
 * progress bar shows on a terminal only, and only for a transfer longer than a second.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { progressLine, TransferProgress } from '../../src/cli/shell-progress.js';
import { sleep, type TestCluster } from '../cluster/harness.js';
import { hostFlags, runShellWith, startOneNode } from './rqlite-harness.js';

let cluster: TestCluster;
let url: string;
let directory: string;

before(async () => {
  ({ cluster, url } = await startOneNode());
  directory = mkdtempSync(join(tmpdir(), 'quorumlite-shell-transfers-'));
});

after(async () => {
  await cluster?.close();
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

async function command(lines: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return runShellWith([...hostFlags(url), '--command', lines.join('\n')]);
}

describe('file commands on a node that has the endpoints', () => {
  it('.backup and .dump FILE TABLES write what the node serves; a missing directory fails as Go does and writes nothing', async () => {
    await command(['CREATE TABLE kept (v TEXT)', "INSERT INTO kept VALUES ('one')", 'CREATE TABLE other (w)']);
    const backup = join(directory, 'backup.db');
    const dump = join(directory, 'dump.sql');
    const missing = join(directory, 'no-such-directory', 'backup.db');
    const outcome = await command([`.backup ${backup}`, `.dump ${dump} kept`, `.backup ${missing}`]);
    assert.equal(outcome.stdout, `backup file written successfully\nSQL text file written successfully\nERR! open ${missing}: no such file or directory\n`);
    assert.equal(outcome.stderr, '', 'no progress bar off a terminal');
    const copy = new Database(backup, { readonly: true });
    assert.deepEqual(copy.prepare('SELECT v FROM kept').pluck().all(), ['one']);
    copy.close();
    const text = readFileSync(dump, 'utf8');
    assert.match(text, /CREATE TABLE kept /);
    assert.doesNotMatch(text, /CREATE TABLE other /);
    assert.equal(existsSync(missing), false);
  });

  it(".restore loads a SQLite file and a dump (rqlite prints the dump's counts); a refused file changes nothing", async () => {
    const file = join(directory, 'restore.db');
    const database = new Database(file);
    database.exec("CREATE TABLE restored (v TEXT); INSERT INTO restored VALUES ('from a file')");
    database.close();
    const dump = join(directory, 'restore.sql');
    writeFileSync(
      dump,
      'PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE dumped (v);\nINSERT INTO dumped VALUES(1);\nINSERT INTO dumped VALUES(2);\nCOMMIT;\n',
    );
    const damaged = join(directory, 'damaged.db');
    writeFileSync(damaged, readFileSync(file).subarray(0, 3000));
    const outcome = await command([
      `.restore ${file}`,
      `.restore ${dump}`,
      `.restore ${damaged}`,
      'SELECT v FROM restored',
      'SELECT count(*) AS n FROM dumped',
    ]);
    assert.equal(
      outcome.stdout,
      [
        'Database restored successfully.',
        'last inserted ID: 2',
        'rows affected: 1',
        'Database restored successfully.',
        'ERR! server responded with: 400 Bad Request',
        '+-------------+',
        '| v           |',
        '+-------------+',
        '| from a file |',
        '+-------------+',
        '+---+',
        '| n |',
        '+---+',
        '| 2 |',
        '+---+',
        '',
      ].join('\n'),
    );
  });

  it(".boot, .snapshot and .reap with rqlite's output", async () => {
    const file = join(directory, 'boot.db');
    const database = new Database(file);
    database.exec("CREATE TABLE booted (v TEXT); INSERT INTO booted VALUES ('booted')");
    database.close();
    const outcome = await command([`.boot ${file}`, 'SELECT v FROM booted', "INSERT INTO booted VALUES ('more')", '.snapshot', '.snapshot 3', '.reap']);
    const booted = ['Node booted successfully.', '+--------+', '| v      |', '+--------+', '| booted |', '+--------+', '1 row affected', ''].join('\n');
    assert.equal(outcome.stdout.slice(0, booted.length), booted);
    // The boot's snapshot and the new one: the new one either stands alone (the boot's is reaped) or is a
    // delta on it, folded by /reap (a WAL checkpointed) or already by the background fold (nothing left to do).
    const reaped = /^snapshots reaped: (\d+), WALs checkpointed: (\d+)\n$/.exec(outcome.stdout.slice(booted.length));
    assert.ok(reaped !== null, outcome.stdout);
    assert.ok(Number(reaped[1]) + Number(reaped[2]) <= 1, outcome.stdout);
  });
});

describe('the progress bar', () => {
  it('reads as a bar with a total, as bytes without one', () => {
    assert.equal(progressLine('backup', 5 * 1024 * 1024, 10 * 1024 * 1024, 2000), 'backup [############------------]  50%  5.0 MB of 10.0 MB  2.5 MB/s  2s');
    assert.equal(progressLine('dump', 3 * 1024 * 1024, null, 1000), 'dump  3.0 MB  3.0 MB/s  1s');
  });

  it('draws nothing within the first second, then redraws one line, erased at the end; nothing without a terminal', async () => {
    const written: string[] = [];
    const quick = new TransferProgress((text) => written.push(text), 'backup', 100);
    quick.advance(100);
    await sleep(300);
    quick.finish();
    assert.equal(written.length, 0, 'a transfer done within a second shows nothing');
    const slow = new TransferProgress((text) => written.push(text), 'restore', 4 * 1024 * 1024);
    slow.advance(1024 * 1024);
    await sleep(1_500);
    slow.finish();
    assert.ok(written.length >= 1, 'drawn after a second');
    const erase = '\r\u001b[K';
    assert.ok((written[0] as string).startsWith(`${erase}restore [######------------------]  25%  1.0 MB of 4.0 MB`), written[0]);
    assert.equal(written.at(-1), erase, 'erased at the end');
    const silent = new TransferProgress(undefined, 'boot', 10);
    await sleep(1_200);
    silent.finish();
  });
});
