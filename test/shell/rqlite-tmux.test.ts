/**
 * The rqlite-style shell in a real pseudo-terminal (tmux) on a real node: greeting,
 * rqlite's `host:port> ` prompt, a statement a line, a red `ERR!`, Ctrl-C dropping the
 * typed line, history, and `bye~` on `.exit`. The tmux server runs on its own socket
 * name, so only ours is ever killed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { tmuxAvailable, tmuxSession } from './tmux-session.js';
import { startOneNode } from './rqlite-harness.js';

const shellMain = fileURLToPath(new URL('../../src/cli/shell-main.ts', import.meta.url));
const socketName = `quorumlite-rqlite-shell-test-${process.pid}`;
const sessionName = 'rqlite';
/** Polling bounds: a guard against a hang, not a speed requirement. */
const { tmux, waitFor, type, waitForFile, killServer } = tmuxSession(socketName, sessionName, 1_200);

it('interactive rqlite-style session in a pseudo-terminal', { skip: !tmuxAvailable && 'tmux not installed' }, async () => {
  const { cluster, url } = await startOneNode();
  const home = await mkdtemp(join(tmpdir(), 'quorumlite-rqlite-tmux-'));
  const exitFile = join(home, 'exit-code');
  const { hostname, port } = new URL(url);
  try {
    const shell = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(shellMain)} -H ${hostname} -p ${port}`;
    const command = `cd ${JSON.stringify(process.cwd())} && HOME=${JSON.stringify(home)} ${shell}; echo $? > ${JSON.stringify(exitFile)}`;
    // remain-on-exit: the pane (and the server) outlive the shell, so 'bye~' can still be read after it exited.
    tmux('set-option', '-g', 'remain-on-exit', 'on', ';', 'new-session', '-d', '-s', sessionName, '-x', '160', '-y', '50', command);
    const prompt = `${hostname}:${port}>`;
    let screen = await waitFor((text) => text.includes(prompt), 'the prompt');
    assert.match(
      screen,
      new RegExp(`Welcome to the rqlite CLI\\.\\nEnter "\\.help" for usage hints\\.\\nConnected to ${url.replaceAll('.', '\\.')} running version \\S+\\n`),
    );

    type('CREATE TABLE tm (id INTEGER NOT NULL PRIMARY KEY, name TEXT)');
    await waitFor((text) => text.includes('0 row affected'), 'the write');
    type("INSERT INTO tm(name) VALUES('fiona')");
    type('select * from tm');
    screen = await waitFor((text) => text.includes('| 1  | fiona |'), 'the table');
    assert.match(screen, /\+----\+-------\+\n\| id \| name {2}\|\n\+----\+-------\+\n\| 1 {2}\| fiona \|\n\+----\+-------\+/);

    type('.TIMER on');
    type('SELECT name FROM tm');
    await waitFor((text) => /Run Time: \d+\.\d{6} seconds/.test(text), 'the timing');
    // A half-typed line dropped by Ctrl-C: the next line runs alone.
    tmux('send-keys', '-t', sessionName, '-l', 'SELECT garbage');
    tmux('send-keys', '-t', sessionName, 'C-c');
    await waitFor((text) => text.includes('^C'), 'the interrupt');
    type('SELECT 40 + 2 AS answer');
    await waitFor((text) => /\| 42 {5}\|/.test(text), 'the statement after Ctrl-C');
    type('.frobnicate');
    await waitFor(
      (text) => text.includes('\u001b[31mERR!\u001b[0m unknown command .frobnicate') || text.includes('\u001b[31mERR!\u001b[39m unknown command .frobnicate'),
      'a red ERR!',
      true,
    );
    type('.exit');
    await waitFor((text) => text.includes('bye~'), 'bye~');
    assert.equal(await waitForFile(exitFile), '0');

    const history = await readFile(join(home, '.quorumlite_history'), 'utf8');
    assert.deepEqual(history.trim().split('\n'), [
      'CREATE TABLE tm (id INTEGER NOT NULL PRIMARY KEY, name TEXT)',
      "INSERT INTO tm(name) VALUES('fiona')",
      'select * from tm',
      '.TIMER on',
      'SELECT name FROM tm',
      'SELECT 40 + 2 AS answer',
      '.frobnicate',
      '.exit',
    ]);
  } finally {
    killServer();
    await cluster.close();
    await rm(home, { recursive: true, force: true });
  }
});
