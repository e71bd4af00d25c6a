/**
 * -auth on a real in-process node, every endpoint against every permission: a user holding
 * what the endpoint needs gets through (whatever the endpoint then answers), a user
 * without it gets 403, a caller without valid credentials 401 with `WWW-Authenticate`,
 * unless `*` (everyone) holds the permission, which lets anyone through, even with a
 * wrong password (rqlite's rule). Plain and bcrypt passwords; the check comes before the
 * method check; unknown paths and CORS preflights are not checked; /status says auth is on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { endpointPermissions, permissionsFor } from '../../src/http/auth-endpoints.js';
import type { Permission } from '../../src/service/access-control.js';
import { basic, guardedPermissions, hashedPassword, hashedPasswordHash, startAuthNode, type AuthNode } from './auth-fixture.js';

interface Endpoint {
  readonly method: string;
  readonly path: string;
  readonly body?: string;
  readonly needs: readonly Permission[];
}

/** Every endpoint the node serves, with the permissions rqlite asks for it. */
const endpoints: readonly Endpoint[] = [
  { method: 'POST', path: '/db/execute', body: '["CREATE TABLE IF NOT EXISTS t (x)"]', needs: ['execute'] },
  { method: 'GET', path: '/db/query?q=SELECT%201', needs: ['query'] },
  { method: 'POST', path: '/db/query', body: '["SELECT 1"]', needs: ['query'] },
  { method: 'POST', path: '/db/request', body: '["SELECT 1"]', needs: ['execute', 'query'] },
  { method: 'GET', path: '/status', needs: ['status'] },
  { method: 'GET', path: '/nodes', needs: ['status'] },
  { method: 'GET', path: '/debug/vars', needs: ['status'] },
  { method: 'GET', path: '/metrics', needs: ['status'] },
  { method: 'GET', path: '/readyz', needs: ['ready'] },
  { method: 'GET', path: '/leader', needs: ['leader-ops'] },
  // A lone leader has no one to hand over to: 503 once through the check.
  { method: 'POST', path: '/leader', body: '', needs: ['leader-ops'] },
  { method: 'DELETE', path: '/remove', body: '{"id":"nobody"}', needs: ['remove'] },
  { method: 'GET', path: '/db/backup', needs: ['backup'] },
  // Not a SQLite file nor SQL that runs: refused once through the check, nothing loaded.
  { method: 'POST', path: '/db/load', body: 'NOT SQL', needs: ['load'] },
  { method: 'POST', path: '/boot', body: 'not a SQLite file', needs: ['load'] },
  { method: 'POST', path: '/snapshot', body: '', needs: ['snapshot'] },
  { method: 'POST', path: '/reap', body: '', needs: ['snapshot'] },
  // Ours: interactive transactions (an unknown id is a 404 once through the check).
  { method: 'POST', path: '/db/begin', body: '', needs: ['execute'] },
  { method: 'POST', path: '/db/commit?tx=unknown', body: '', needs: ['execute'] },
  { method: 'POST', path: '/db/rollback?tx=unknown', body: '', needs: ['execute'] },
  // Ours: an embedded replica's feed (a from beyond the applied index is a 400 once through the check, no stream stays open).
  { method: 'GET', path: '/db/stream?from=999999999', needs: ['backup'] },
  { method: 'GET', path: '/db/copy', needs: ['backup'] },
];

let node: AuthNode;

before(async () => {
  node = await startAuthNode('auth-endpoints');
});

after(async () => {
  await node?.close();
});

async function call(endpoint: Endpoint, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`${node.baseUrl}${endpoint.path}`, {
    method: endpoint.method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(endpoint.body === undefined ? {} : { body: endpoint.body }),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

function permissionList(permissions: readonly Permission[]): string {
  return permissions.length === 1 ? `the ${permissions[0]} permission` : `the ${permissions.join(' and ')} permissions`;
}

describe('every endpoint × every permission', () => {
  for (const endpoint of endpoints) {
    it(`${endpoint.method} ${endpoint.path} needs ${endpoint.needs.join(' and ')}`, async () => {
      for (const permission of guardedPermissions) {
        const answer = await call(endpoint, basic(`only-${permission}`, `pw-${permission}`));
        const lacking = endpoint.needs.filter((needed) => needed !== permission && needed !== 'ready');
        if (lacking.length === 0) {
          assert.ok(answer.status !== 401 && answer.status !== 403, `only-${permission}: ${answer.status} ${answer.text}`);
          continue;
        }
        assert.equal(answer.status, 403, `only-${permission}: ${answer.text}`);
        assert.equal(answer.headers.get('x-quorumlite-error'), 'FORBIDDEN');
        assert.equal(answer.headers.get('www-authenticate'), null);
        assert.equal(answer.text, `forbidden: user "only-${permission}" lacks ${permissionList(lacking)}\n`);
      }
      for (const [username, password] of [
        ['root', 'root secret'],
        ['writer', 'writer secret'],
      ] as const) {
        const answer = await call(endpoint, basic(username, password));
        const allowed = username === 'root' || endpoint.needs.every((needed) => needed === 'execute' || needed === 'query' || needed === 'ready');
        assert.equal(answer.status === 403, !allowed, `${username}: ${answer.status} ${answer.text}`);
        assert.notEqual(answer.status, 401);
      }
    });
  }

  it('/db/request needs both: execute alone or query alone is refused, naming what is missing', async () => {
    const request = endpoints.find((endpoint) => endpoint.path === '/db/request');
    assert.ok(request !== undefined);
    assert.equal((await call(request, basic('only-execute', 'pw-execute'))).text, 'forbidden: user "only-execute" lacks the query permission\n');
    assert.equal((await call(request, basic('only-query', 'pw-query'))).text, 'forbidden: user "only-query" lacks the execute permission\n');
    assert.equal((await call(request, basic('writer', 'writer secret'))).status, 200);
  });
});

describe('without valid credentials: 401 with WWW-Authenticate, unless * holds the permission', () => {
  const attempts: readonly (readonly [string, Record<string, string>])[] = [
    ['anonymous', {}],
    ['a wrong password', basic('root', 'wrong')],
    ['an unknown user', basic('nobody', 'root secret')],
    ['a malformed header (read as none)', { authorization: 'Basic !!!not-base64' }],
    ['another scheme', { authorization: 'Bearer root secret' }],
  ];
  for (const [what, headers] of attempts) {
    it(`${what}`, async () => {
      for (const endpoint of endpoints) {
        const answer = await call(endpoint, headers);
        if (endpoint.needs.every((needed) => needed === 'ready')) {
          assert.equal(answer.status, 200, `${endpoint.path}: * holds ready (${answer.text})`);
          continue;
        }
        assert.equal(answer.status, 401, `${endpoint.method} ${endpoint.path}: ${answer.text}`);
        assert.equal(answer.headers.get('www-authenticate'), 'Basic realm="quorumlite"');
        assert.equal(answer.headers.get('x-quorumlite-error'), 'UNAUTHORIZED');
        assert.equal(answer.text, 'unauthorized\n');
      }
    });
  }

  it('comes before the method check (rqlite checks first), while unknown paths and CORS preflights are not checked', async () => {
    const wrongMethod = await fetch(`${node.baseUrl}/db/execute`);
    assert.equal(wrongMethod.status, 401);
    await wrongMethod.text();
    const allowedWrongMethod = await fetch(`${node.baseUrl}/db/execute`, { headers: basic('root', 'root secret') });
    assert.equal(allowedWrongMethod.status, 405);
    await allowedWrongMethod.text();
    const unknown = await fetch(`${node.baseUrl}/no/such/path`);
    assert.equal(unknown.status, 404);
    await unknown.text();
    const preflight = await fetch(`${node.baseUrl}/db/execute`, { method: 'OPTIONS' });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    await preflight.text();
  });
});

describe('interactive transactions under -auth', () => {
  it("statements with ?tx= need their path's permission, and a transaction is its user's alone", async () => {
    const begun = await call({ method: 'POST', path: '/db/begin', body: '', needs: ['execute'] }, basic('writer', 'writer secret'));
    assert.equal(begun.status, 200, begun.text);
    const id = (JSON.parse(begun.text) as { tx_id: string }).tx_id;
    const inside = { method: 'POST', path: `/db/query?tx=${id}`, body: '["SELECT 1"]', needs: ['query'] } as const;
    assert.equal((await call(inside, basic('only-execute', 'pw-execute'))).status, 403);
    const stranger = await call(inside, basic('root', 'root secret'));
    assert.equal(stranger.status, 404, stranger.text);
    assert.equal(stranger.headers.get('x-quorumlite-error'), 'TX_NOT_FOUND');
    assert.equal((await call(inside, basic('writer', 'writer secret'))).status, 200);
    const rollback = { method: 'POST', path: `/db/rollback?tx=${id}`, body: '', needs: ['execute'] } as const;
    assert.equal((await call(rollback, basic('root', 'root secret'))).status, 404, 'another user cannot end it');
    assert.equal((await call(rollback, basic('writer', 'writer secret'))).status, 200);
  });
});

describe('passwords', () => {
  const query = { method: 'GET', path: '/db/query?q=SELECT%201', needs: ['query'] } as const;

  it('a bcrypt hash in the file accepts the cleartext, and the hash itself (rqlite compares the string)', async () => {
    assert.equal((await call(query, basic('hashed', hashedPassword))).status, 200);
    assert.equal((await call(query, basic('hashed', hashedPasswordHash))).status, 200);
    assert.equal((await call(query, basic('hashed', 'hashed secreT'))).status, 401);
    // Remembered outcomes give the same answers.
    assert.equal((await call(query, basic('hashed', hashedPassword))).status, 200);
    assert.equal((await call(query, basic('hashed', 'hashed secreT'))).status, 401);
  });

  it('a cleartext password must match exactly', async () => {
    assert.equal((await call(query, basic('writer', 'writer secret'))).status, 200);
    assert.equal((await call(query, basic('writer', 'writer secret '))).status, 401);
    assert.equal((await call(query, basic('writer', ''))).status, 401);
  });
});

describe('the permission table', () => {
  it('covers every served endpoint; an unlisted path needs all', () => {
    for (const endpoint of endpoints) assert.deepEqual(permissionsFor(endpoint.path.split('?')[0] ?? ''), endpoint.needs, endpoint.path);
    assert.deepEqual(permissionsFor('/anything/else'), ['all']);
  });

  it('every path in the table is served and checked', async () => {
    for (const path of endpointPermissions.keys()) {
      const response = await fetch(`${node.baseUrl}${path}`, { method: 'POST' });
      const text = await response.text();
      // /readyz is open to everyone here (* holds ready), and the console's files need nothing: checked, let through, then refused their method.
      const open = path === '/readyz' || (endpointPermissions.get(path) ?? []).length === 0;
      assert.equal(response.status, open ? 405 : 401, `${path}: ${response.status} ${text}`);
    }
  });
});

it('/status says auth is enabled', async () => {
  const answer = await call({ method: 'GET', path: '/status?key=http', needs: ['status'] }, basic('only-status', 'pw-status'));
  assert.equal((JSON.parse(answer.text) as { auth: string }).auth, 'enabled');
});
