import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { loadHistory, readStreamText, saveHistory } from '../../src/cli/shell-terminal.js';
import { readDepthMax } from '../../src/cli/shell-commands.js';
import { ShellSession, type ShellFiles } from '../../src/cli/shell-session.js';
import { createClient } from '../../src/client/index.js';

function session(files: ShellFiles, pendingCharactersMax?: number) {
  const written: string[] = [];
  const errors: string[] = [];
  // Nothing listens there: these tests never reach the network.
  const client = createClient({ nodes: ['http://127.0.0.1:9'], discoverNodes: false });
  const shell = new ShellSession(
    client,
    { write: (text) => written.push(text), writeError: (text) => errors.push(text) },
    { mode: 'column', headers: true, timer: false, consistency: 'weak' },
    files,
    pendingCharactersMax,
  );
  return { shell, written, errors, client };
}

const noFiles: ShellFiles = {
  readFile: async () => assert.fail('no file expected'),
  writeFile: async () => assert.fail('no file expected'),
};

describe('ShellSession', () => {
  it('holds unfinished SQL up to pendingSqlCharactersMax and discards it beyond', async () => {
    const { shell, errors, client } = session(noFiles, 20);
    await shell.processLine('SELECT 1,');
    await shell.processLine('2, 3, 4,'); // 10 + 9 = 19 characters with newlines
    assert.ok(shell.hasPendingSql);
    assert.deepEqual(errors, []);
    await shell.processLine('');
    assert.deepEqual(errors, [], 'exactly at the bound is kept');
    await shell.processLine('5');
    assert.match(errors[0] ?? '', /statement longer than 20 characters/);
    assert.equal(shell.hasPendingSql, false);
    assert.equal(shell.errorCount, 1);
    await client.close();
  });

  it('settings commands change the session; bad ones report usage and count as errors', async () => {
    const { shell, written, errors, client } = session(noFiles);
    await shell.processScript('.mode json\n.headers off\n.timer on\n.consistency strong\n.consistency', false);
    assert.deepEqual(shell.settings, { mode: 'json', headers: false, timer: true, consistency: 'strong' });
    assert.deepEqual(written, ['strong\n']);
    await shell.processScript('.mode box\n.headers maybe\n.frobnicate\n.remove\n.exit 300', false);
    assert.deepEqual(errors, [
      'Error: usage: .mode column|csv|json|line\n',
      'Error: usage: .headers on|off\n',
      'Error: unknown command or invalid arguments: "frobnicate". Enter ".help" for help\n',
      'Error: usage: .remove ID\n',
      'Error: usage: .exit [CODE]\n',
    ]);
    await shell.processLine('.exit 3');
    assert.equal(shell.exitCode, 3);
    await client.close();
  });

  it(`stops .read recursion at readDepthMax (${readDepthMax})`, async () => {
    let reads = 0;
    const files: ShellFiles = {
      readFile: async () => {
        reads += 1;
        return new TextEncoder().encode('.read self.sql\n');
      },
      writeFile: async () => assert.fail('no write expected'),
    };
    const { shell, errors, client } = session(files);
    await shell.processLine('.read self.sql');
    assert.equal(reads, readDepthMax);
    assert.deepEqual(errors, [`Error: .read nested deeper than ${readDepthMax}\n`]);
    await client.close();
  });

  it('reports a missing .read file clearly', async () => {
    const { shell, errors, client } = session({
      readFile: (path) => readFile(path).then((buffer) => new Uint8Array(buffer)),
      writeFile: async () => undefined,
    });
    await shell.processLine('.read /nonexistent/quorumlite.sql');
    assert.match(errors[0] ?? '', /^Error: ENOENT: no such file or directory/);
    await client.close();
  });
});

describe('shell bounds', () => {
  it('keeps the newest historyLinesMax lines', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'quorumlite-history-'));
    try {
      const path = join(directory, 'history');
      await writeFile(path, `${['l1', 'l2', 'l3', 'l4', 'l5'].join('\n')}\n`);
      assert.deepEqual(await loadHistory(path, 5), ['l5', 'l4', 'l3', 'l2', 'l1']);
      assert.deepEqual(await loadHistory(path, 3), ['l5', 'l4', 'l3']);
      await saveHistory(path, ['n4', 'n3', 'n2', 'n1'], 3);
      assert.equal(await readFile(path, 'utf8'), 'n2\nn3\nn4\n');
      assert.deepEqual(await loadHistory(join(directory, 'missing'), 3), []);
      await saveHistory(join(directory, 'no', 'such', 'dir'), ['x'], 3);
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });

  it('reads stdin up to stdinBytesMax and refuses more', async () => {
    assert.equal(await readStreamText(Readable.from([Buffer.from('abc'), Buffer.from('de')]), 5), 'abcde');
    await assert.rejects(readStreamText(Readable.from([Buffer.from('abc'), Buffer.from('def')]), 5), /more than 5 bytes/);
  });
});
