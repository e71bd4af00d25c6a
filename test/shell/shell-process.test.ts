/** `quorumlite shell` as a child process: -c, stdin scripts, exit codes, file commands. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startMiniRqlite, type MiniRqlite } from '../client/helpers/mini-rqlite.js';

const shellMain = fileURLToPath(new URL('../../src/cli/shell-main.ts', import.meta.url));
/** A guard against a hung child only, not a speed requirement. */
const childWaitMs = 60_000;

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runShell(args: string[], stdin = '', home?: string): Promise<Outcome> {
  // These pin the sqlite3 style (the rqlite style has its own tests).
  const child = spawn(process.execPath, ['--import', 'tsx', shellMain, '--style', 'sqlite3', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, HOME: home ?? tmpdir(), QUORUMLITE_HOST: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  const guard = setTimeout(() => child.kill('SIGKILL'), childWaitMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('quorumlite shell (non-interactive)', () => {
  let mini: MiniRqlite;
  let directory: string;
  before(async () => {
    mini = await startMiniRqlite();
    directory = await mkdtemp(join(tmpdir(), 'quorumlite-shell-'));
  });
  after(async () => {
    await mini.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('--command runs SQL and dot commands and exits 0', async () => {
    const script = "CREATE TABLE c1 (id INTEGER PRIMARY KEY, name TEXT);\nINSERT INTO c1 (name) VALUES ('fiona'), ('x,y');\n.mode csv\nSELECT * FROM c1";
    const outcome = await runShell(['--host', mini.url, '--command', script]);
    assert.equal(outcome.stderr, '');
    assert.equal(outcome.stdout, 'id,name\r\n1,fiona\r\n2,"x,y"\r\n');
    assert.equal(outcome.code, 0);
  });

  it('reads a script from stdin: multi-line statements, modes, headers', async () => {
    const script = [
      'CREATE TABLE s1 (',
      '  a INTEGER,',
      '  b TEXT',
      ');',
      "INSERT INTO s1 VALUES (1, 'one'), (2, NULL);",
      '.mode json',
      'SELECT * FROM s1',
      'ORDER BY a;',
      '.headers off',
      '.mode column',
      'SELECT b, a FROM s1 ORDER BY a;',
      '.exit',
    ].join('\n');
    const outcome = await runShell(['--host', mini.url], script);
    assert.equal(outcome.stderr, '');
    assert.equal(outcome.stdout, '[{"a":1,"b":"one"},\n{"a":2,"b":null}]\none  1\n     2\n');
    assert.equal(outcome.code, 0);
  });

  it('stops at the first error and exits 1', async () => {
    const outcome = await runShell([`--host=${mini.url}`, '--mode', 'csv', '--headers', 'off'], 'SELECT 1;\nSELECT nope;\nSELECT 2;\n');
    assert.equal(outcome.stdout, '1\r\n');
    assert.match(outcome.stderr, /^Error: no such column: nope\n$/);
    assert.equal(outcome.code, 1);
    const badCommand = await runShell(['--host', mini.url, '--command', '.mode box']);
    assert.match(badCommand.stderr, /usage: \.mode column\|csv\|json\|line/);
    assert.equal(badCommand.code, 1);
  });

  it('exits 2 with a clear message on an unknown flag', async () => {
    const outcome = await runShell(['--host', mini.url, '--frobnicate']);
    assert.equal(outcome.code, 2);
    assert.match(outcome.stderr, /unknown flag --frobnicate/);
    assert.match(outcome.stderr, /Usage: quorumlite shell/);
    assert.equal(outcome.stdout, '');
  });

  it('.read runs a file; .dump prints SQL; .restore loads SQL; .backup reports the server error', async () => {
    const scriptFile = join(directory, 'script.sql');
    await writeFile(scriptFile, "CREATE TABLE r1 (v TEXT);\nINSERT INTO r1 VALUES ('from file');\n");
    const dumpFile = join(directory, 'restore.sql');
    await writeFile(dumpFile, 'CREATE TABLE r2 (w INTEGER);\nINSERT INTO r2 VALUES (42);\n');
    const script = [
      `.read ${scriptFile}`,
      `.restore ${dumpFile}`,
      '.mode csv',
      '.headers off',
      'SELECT v FROM r1;',
      'SELECT w FROM r2;',
      '.dump r1',
      '.tables r%',
    ].join('\n');
    const outcome = await runShell(['--host', mini.url], script);
    assert.equal(outcome.stderr, '');
    assert.equal(outcome.code, 0);
    assert.match(outcome.stdout, /^restored .*restore\.sql \(\d+ bytes\)\n"from file"\r\n42\r\n/);
    assert.match(outcome.stdout, /INSERT INTO "r1" VALUES\('from file'\);/);
    assert.match(outcome.stdout, /\nr1 {2}r2\n$/);
    const backup = await runShell(['--host', mini.url, '--command', `.backup ${join(directory, 'copy.db')}`]);
    assert.match(backup.stderr, /answered HTTP 501: mini-rqlite only dumps fmt=sql/);
    assert.equal(backup.code, 1);
    await assert.rejects(readFile(join(directory, 'copy.db')), { code: 'ENOENT' });
  });
});
