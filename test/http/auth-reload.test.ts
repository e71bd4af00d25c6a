/**
 * The -auth file is reloaded without a restart: a good new file takes over (new users
 * in, removed users out, changed permissions in force); a bad one (not JSON, an unknown
 * permission, a user twice, the file gone) leaves the previous users in force and the
 * log says why; the next good file is taken up again.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import type { NodeLogger } from '../../src/node/logger.js';
import { waitFor } from '../cluster/harness.js';
import { basic, startAuthNode, type AuthNode } from './auth-fixture.js';

interface LogLine {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

const lines: LogLine[] = [];
const recording: NodeLogger = {
  debug: () => undefined,
  info: (fields, message) => void lines.push({ level: 'info', fields, message }),
  warn: (fields, message) => void lines.push({ level: 'warn', fields, message }),
  error: (fields, message) => void lines.push({ level: 'error', fields, message }),
};

let node: AuthNode;

before(async () => {
  node = await startAuthNode('auth-reload', [{ username: 'alice', password: 'alice secret', perms: ['status'] }], { logger: recording });
});

after(async () => {
  await node?.close();
});

async function statusAs(username: string, password: string): Promise<number> {
  const response = await fetch(`${node.baseUrl}/status`, { headers: basic(username, password) });
  await response.arrayBuffer();
  return response.status;
}

function events(event: string): LogLine[] {
  return lines.filter((line) => line.fields.event === event);
}

async function refusedWith(reason: RegExp): Promise<void> {
  await waitFor(`a logged refusal matching ${reason}`, () =>
    events('auth-reload-failed').some((line) => reason.test(String(line.fields.error))) ? true : undefined,
  );
}

it('a good new file takes over at once, without a restart', async () => {
  assert.equal(await statusAs('alice', 'alice secret'), 200);
  node.writeUsers([
    { username: 'bob', password: 'bob secret', perms: ['status'] },
    { username: 'alice', password: 'alice secret', perms: ['query'] },
  ]);
  await waitFor('bob let in', async () => ((await statusAs('bob', 'bob secret')) === 200 ? true : undefined), 10_000);
  assert.equal(await statusAs('alice', 'alice secret'), 403, 'alice lost status');
  const reloaded = events('auth-reloaded');
  assert.equal(reloaded.length, 1);
  assert.equal(reloaded[0]?.fields.users, 2);
  assert.equal(reloaded[0]?.fields.path, node.authPath);
});

it('a bad new file keeps the previous users, and the log says why; a good one is taken up again', async () => {
  const bad: readonly (readonly [string, () => void, RegExp])[] = [
    ['not JSON', () => writeFileSync(node.authPath, '[{"username": "bob",'), /not valid JSON/],
    ['an unknown permission', () => node.writeUsers([{ username: 'eve', password: 'x', perms: ['everything'] }]), /unknown permission "everything"/],
    ['a user twice', () => node.writeUsers([{ username: 'eve' }, { username: 'eve' }]), /user "eve" appears more than once/],
    ['the file gone', () => rmSync(node.authPath), /ENOENT/],
  ];
  for (const [what, write, reason] of bad) {
    write();
    await refusedWith(reason);
    assert.equal(await statusAs('bob', 'bob secret'), 200, `${what}: bob still in`);
    assert.equal(await statusAs('eve', 'x'), 401, `${what}: eve not in`);
    const refusal = events('auth-reload-failed').at(-1);
    assert.equal(refusal?.level, 'error');
    assert.match(refusal?.message ?? '', /previous users stay in force/);
  }
  node.writeUsers([{ username: 'eve', password: 'x', perms: ['status'] }]);
  await waitFor('eve let in', async () => ((await statusAs('eve', 'x')) === 200 ? true : undefined), 10_000);
  assert.equal(await statusAs('bob', 'bob secret'), 401);
});
