/**
 * `quorumlite restore`'s command line (flags, times, usage errors with exit 2, archive
 * errors with exit 1, --list), its progress bar, and -auto-backup / -auto-restore
 * reaching the node's options from `quorumlite serve`'s command line.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { ProgressBar, progressLine } from '../../src/cli/progress-bar.js';
import { parseRestoreTime, restoreUsage } from '../../src/cli/restore-command.js';
import { rqlitedNodeOptions } from '../../src/cli/serve-node-options.js';
import { parsed } from '../node/serve-flag-checks.js';

const directory = mkdtempSync(join(tmpdir(), 'quorumlite-restore-cli-'));
after(() => rmSync(directory, { recursive: true, force: true }));

function file(name: string, content: unknown): string {
  const path = join(directory, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const archiveDirectory = join(directory, 'target');
const withArchive = file('backup.json', { version: 1, type: 'file', interval: '1m', sub: { dir: archiveDirectory, name: 'db.gz' }, point_in_time: {} });
const withoutArchive = file('plain.json', { version: 1, type: 'file', interval: '1m', sub: { dir: archiveDirectory, name: 'db.gz' } });

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { stdout: (text) => void out.push(text), stderr: (text) => void err.push(text) });
  return { code, out: out.join(''), err: err.join('') };
}

test('restore: usage errors name the flag and exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['restore'], /--config FILE is required/],
    [['restore', '--config', withoutArchive, '--to-index', '5', '--output', join(directory, 'x')], /has no "point_in_time" object/],
    [['restore', '--config', join(directory, 'missing.json'), '--list'], /--config .*missing\.json: cannot read/],
    [['restore', '--config', withArchive, '--output', join(directory, 'x')], /give --to-time TIME or --to-index N/],
    [['restore', '--config', withArchive, '--to-index', '5', '--to-time', '2026-01-01T00:00:00Z'], /not both/],
    [['restore', '--config', withArchive, '--to-index', 'five', '--output', join(directory, 'x')], /--to-index: "five" is not a log index/],
    [['restore', '--config', withArchive, '--to-index', '0', '--output', join(directory, 'x')], /--to-index: "0" is not a log index/],
    [['restore', '--config', withArchive, '--to-time', 'yesterday', '--output', join(directory, 'x')], /--to-time: "yesterday" is not an RFC 3339 time/],
    [['restore', '--config', withArchive, '--to-index', '5'], /--output FILE is required/],
    [['restore', '--config', withArchive, '--to-index', '5', '--output', withArchive], /the file exists; give a new path/],
    [['restore', '--config', withArchive, '--list', 'extra'], /unexpected argument "extra"/],
    [['restore', '--config', withArchive, '--to-index', '5', '--output', join(directory, 'x'), '--db', '-bad'], /--db: database name may hold only/],
  ];
  for (const [argv, pattern] of cases) {
    const outcome = await cli(argv);
    assert.equal(outcome.code, 2, argv.join(' '));
    assert.match(outcome.err, /^quorumlite restore: /);
    assert.match(outcome.err, pattern, argv.join(' '));
  }
  const help = await cli(['restore', '--help']);
  assert.equal(help.code, 0);
  assert.equal(help.out, restoreUsage);
  assert.match((await cli(['help'])).out, /restore +point-in-time restore/);
});

test('restore: an archive without a base is a clear error (exit 1); --list says so', async () => {
  const listed = await cli(['restore', '--config', withArchive, '--list']);
  assert.equal(listed.code, 0);
  assert.match(listed.out, /no base snapshot yet: nothing to restore/);
  const outcome = await cli(['restore', '--config', withArchive, '--to-index', '3', '--output', join(directory, 'out.sqlite')]);
  assert.equal(outcome.code, 1);
  assert.match(outcome.err, /^quorumlite restore: the archive at dir:.* holds no base snapshot yet/);
});

test('--to-time reads RFC 3339 with an offset and a fraction (to the millisecond)', () => {
  assert.equal(parseRestoreTime('2026-01-02T03:04:05Z', '--to-time'), Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.equal(parseRestoreTime('2026-01-02T04:04:05.250+01:00', '--to-time'), Date.UTC(2026, 0, 2, 3, 4, 5, 250));
  assert.equal(parseRestoreTime('2026-01-02t03:04:05.123456789z', '--to-time'), Date.UTC(2026, 0, 2, 3, 4, 5, 123));
  assert.equal(parseRestoreTime('2026-01-02T03:04:05.5Z', '--to-time'), Date.UTC(2026, 0, 2, 3, 4, 5, 500));
  for (const bad of ['2026-01-02 03:04:05Z', '2026-01-02T03:04:05', '2026-13-02T03:04:05Z', '1767323045000']) {
    assert.throws(() => parseRestoreTime(bad, '--to-time'), /is not an RFC 3339 time/, bad);
  }
});

test('the progress bar draws on a terminal only, in place, and ends with a newline', () => {
  assert.equal(progressLine('replaying', 45, 100), `replaying [${'#'.repeat(14)}${'-'.repeat(16)}]  45%  45/100 entries`);
  assert.equal(progressLine('replaying', 0, 0), `replaying [${'#'.repeat(30)}] 100%  0/0 entries`);
  const piped: string[] = [];
  const quiet = new ProgressBar({ isTTY: false, write: (text: string) => piped.push(text) });
  quiet.update('replaying', 1, 2, true);
  quiet.finish();
  assert.deepEqual(piped, []);
  const drawn: string[] = [];
  const bar = new ProgressBar({ isTTY: true, write: (text: string) => drawn.push(text) });
  bar.update('replaying', 1, 4, true);
  bar.update('replaying', 2, 4);
  bar.update('replaying', 4, 4, true);
  bar.finish();
  assert.equal(drawn.length, 3, 'a redraw within 100 ms is skipped unless forced');
  assert.equal(drawn[0], `\r\u001b[2K${progressLine('replaying', 1, 4)}`);
  assert.match(progressLine('replaying', 1, 4), /^replaying \[#{8}-{22}\] {2}25%/);
  assert.equal(drawn.at(-1), '\n');
});

test('serve: -auto-backup and -auto-restore files reach the node options, parsed', () => {
  const restore = file('restore.json', { version: 1, type: 'file', sub: { dir: archiveDirectory, name: 'db.gz' } });
  const options = rqlitedNodeOptions(parsed(['-auto-backup', withArchive, '-auto-restore', restore]));
  assert.equal(options.backups?.autoBackup?.pointInTime?.path, 'pitr');
  assert.equal(options.backups?.autoRestore?.timeoutMs, 30_000);
  assert.equal(rqlitedNodeOptions(parsed([])).backups, undefined);
});
