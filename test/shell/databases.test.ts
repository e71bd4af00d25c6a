/**
 * The rqlite-style shell's `.open NAME` and `.databases` (ours: several databases per
 * cluster) against a real node.
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
