/**
 * An interactive `quorumlite shell` in a real pseudo-terminal (tmux): prompt,
 * multi-line input, column output, .tables, .mode csv, history file, .exit. The tmux
 * server runs on its own socket name, so only our server is ever killed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { tmuxAvailable, tmuxSession } from './tmux-session.js';
import { startMiniRqlite } from '../client/helpers/mini-rqlite.js';

const shellMain = fileURLToPath(new URL('../../src/cli/shell-main.ts', import.meta.url));
const socketName = `quorumlite-shell-test-${process.pid}`;
const sessionName = 'shell';
/** Polling bounds: a guard against a hang, not a speed requirement. */
const { tmux, pane, waitFor, type, waitForFile, killServer } = tmuxSession(socketName, sessionName, 600);

function occurrences(screen: string, text: string): number {
  return screen.split(text).length - 1;
}

it('interactive session in a pseudo-terminal', { skip: !tmuxAvailable && 'tmux not installed' }, async () => {
  const mini = await startMiniRqlite();
  const home = await mkdtemp(join(tmpdir(), 'quorumlite-tmux-'));
  const exitFile = join(home, 'exit-code');
  try {
    const shell = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(shellMain)} --style sqlite3 --host ${mini.url}`;
    const command = `cd ${JSON.stringify(process.cwd())} && HOME=${JSON.stringify(home)} ${shell}; echo $? > ${JSON.stringify(exitFile)}`;
    tmux('new-session', '-d', '-s', sessionName, '-x', '160', '-y', '50', command);
    // capture-pane drops trailing blanks, so match the prompts without theirs.
    const prompt = `${new URL(mini.url).host}>`;
    await waitFor((screen) => screen.includes(prompt), 'the prompt');

    type('CREATE TABLE tm (id INTEGER PRIMARY KEY,');
    await waitFor((screen) => screen.includes('...>'), 'the continuation prompt');
    type('name TEXT);');
    type("INSERT INTO tm (name) VALUES ('alpha'), ('beta');");
    type('SELECT * FROM tm;');
    let screen = await waitFor((text) => text.includes('2   beta'), 'column output');
    assert.match(screen, /id {2}name *\n-- {2}-----\n1 {3}alpha\n2 {3}beta/);

    type('.tables');
    await waitFor((text) => /\ntm\n/.test(text), '.tables output');
    type('.mode csv');
    type('SELECT * FROM tm;');
    screen = await waitFor((text) => text.includes('2,beta'), 'csv output');
    assert.match(screen, /id,name\n1,alpha\n2,beta/);
    // Ctrl-C drops a half-typed statement: the next one runs alone.
    tmux('send-keys', '-t', sessionName, '-l', "SELECT 'dropped',");
    tmux('send-keys', '-t', sessionName, 'Enter');
    await waitFor((text) => text.trimEnd().endsWith('...>'), 'the continuation prompt after a partial statement');
    tmux('send-keys', '-t', sessionName, 'C-c');
    await waitFor((text) => text.includes('^C'), 'the interrupt');
    type('SELECT 40 + 2 AS answer;');
    // Had the dropped text stayed, this would be a syntax error and print no answer.
    await waitFor((text) => /answer\n42/.test(text), 'the statement after Ctrl-C');
    type('SELECT nope FROM tm;');
    await waitFor((text) => text.includes('Error: no such column: nope'), 'the error message');
    const promptsBefore = occurrences(pane(), prompt);
    type('.exit');
    const exitCode = await waitForFile(exitFile);
    assert.equal(exitCode, '0', 'the shell exits 0 after .exit even when a statement failed earlier');
    assert.ok(promptsBefore >= 6);

    const history = await readFile(join(home, '.quorumlite_history'), 'utf8');
    // Oldest first; a repeated line moves to its latest place.
    assert.deepEqual(history.trim().split('\n'), [
      'CREATE TABLE tm (id INTEGER PRIMARY KEY,',
      'name TEXT);',
      "INSERT INTO tm (name) VALUES ('alpha'), ('beta');",
      '.tables',
      '.mode csv',
      'SELECT * FROM tm;',
      "SELECT 'dropped',",
      'SELECT 40 + 2 AS answer;',
      'SELECT nope FROM tm;',
      '.exit',
    ]);
  } finally {
    killServer();
    await mini.close();
    await rm(home, { recursive: true, force: true });
  }
});
