/**
 * The shells' `.open NAME` and `.databases` (ours: several databases per cluster) against
 * a real node: the rqlite style, and the sqlite3 style (`--style sqlite3`).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { TestCluster } from '../cluster/harness.js';
import { banner, hostFlags, runShellWith, startOneNode } from './rqlite-harness.js';

let cluster: TestCluster;
let url: string;

before(async () => {
  ({ cluster, url } = await startOneNode());
  const created = await fetch(`${url}/db/create?db=sales`, { method: 'POST' });
  assert.equal(created.status, 200, await created.text());
});

after(async () => {
  await cluster?.close();
});

it('.open switches the database SQL and .tables address; .databases lists them, the one in use marked', async () => {
  const lines = [
    'CREATE TABLE home (id INTEGER)',
    '.open sales',
    '.open',
    'CREATE TABLE orders (id INTEGER)',
    'INSERT INTO orders VALUES (1)',
    '.tables',
    '.databases',
    '.open nowhere',
    '.open main',
    '.tables',
  ];
  const outcome = await runShellWith(hostFlags(url), `${lines.join('\n')}\n`);
  const body = outcome.stdout.slice((await banner(url)).length);
  assert.equal(
    body,
    [
      '0 row affected',
      'sales',
      '0 row affected',
      '1 row affected',
      '+--------+',
      '| name   |',
      '+--------+',
      '| orders |',
      '+--------+',
      '  main',
      '* sales',
      'ERR! database "nowhere" does not exist',
      '+------+',
      '| name |',
      '+------+',
      '| home |',
      '+------+',
      'bye~',
      '',
    ].join('\n'),
  );
});

it('the sqlite3-style shell: .open addresses SQL and .tables to the database opened; .databases marks it; a missing one is refused', async () => {
  const lines = [
    'CREATE TABLE IF NOT EXISTS home (id INTEGER);',
    '.open sales',
    '.open',
    'CREATE TABLE invoices (id INTEGER);',
    'INSERT INTO invoices VALUES (7);',
    '.tables',
    '.databases',
    'SELECT id FROM invoices;',
    '.open main',
    '.tables',
    // A script stops at its first error: this one is last.
    '.open nowhere',
  ];
  const outcome = await runShellWith(['--style', 'sqlite3', '--host', url], `${lines.join('\n')}\n`);
  assert.equal(outcome.stderr, 'Error: database "nowhere" does not exist\n');
  assert.equal(outcome.code, 1, 'the refused .open counts as an error');
  assert.equal(outcome.stdout, ['sales', 'invoices  orders', '  main', '* sales', 'id', '--', '7 ', 'home', ''].join('\n'));
});
