/**
 * The TypeScript client and the shell against a real node that checks credentials: they
 * send them (the client's `auth`, or a node URL's `user:password@`; the shell's `-u`, or
 * a `--host` URL's), and without them, or without the permission, the caller is told
 * (the client's UNAUTHORIZED, with the server's code; the shell's rqlite-style errors).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, QuorumliteError, type ClientConfig } from '../../src/client/index.js';
import { hostFlags, runShellWith } from '../shell/rqlite-harness.js';
import { startAuthNode, type AuthNode } from './auth-fixture.js';

let node: AuthNode;

before(async () => {
  node = await startAuthNode('auth-clients');
});

after(async () => {
  await node?.close();
});

function withCredentials(base: string, username: string, password: string): string {
  const url = new URL(base);
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  return url.href;
}

async function withClient<T>(
  config: Partial<ClientConfig> & Pick<ClientConfig, 'nodes'>,
  body: (client: ReturnType<typeof createClient>) => Promise<T>,
): Promise<T> {
  const client = createClient({ discoverNodes: false, retry: { attemptsMax: 1 }, ...config });
  try {
    return await body(client);
  } finally {
    await client.close();
  }
}

async function refusal(promise: Promise<unknown>): Promise<QuorumliteError> {
  const error = await promise.then(
    () => assert.fail('expected a refusal'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof QuorumliteError, String(error));
  return error;
}

describe('the client', () => {
  it('sends `auth` as HTTP Basic', async () => {
    await withClient({ nodes: [node.baseUrl], auth: { username: 'writer', password: 'writer secret' } }, async (client) => {
      await client.execute('CREATE TABLE IF NOT EXISTS through_client (x)');
      const read = await client.query('SELECT 1 AS one');
      assert.deepEqual(read.results[0]?.rows, [{ one: 1 }]);
    });
  });

  it("takes a node URL's user and password when `auth` is not given", async () => {
    await withClient({ nodes: [withCredentials(node.baseUrl, 'writer', 'writer secret')] }, async (client) => {
      assert.deepEqual((await client.query('SELECT 2 AS two')).results[0]?.rows, [{ two: 2 }]);
    });
    const clash = [withCredentials(node.baseUrl, 'writer', 'writer secret'), withCredentials(node.baseUrl, 'root', 'root secret')];
    assert.throws(
      () => createClient({ nodes: clash }),
      (error: unknown) => error instanceof QuorumliteError && error.code === 'INVALID_ARGUMENT' && /different credentials/.test(error.message),
    );
  });

  it('is told UNAUTHORIZED without credentials (401) and without the permission (403), with the server code', async () => {
    await withClient({ nodes: [node.baseUrl] }, async (client) => {
      const anonymous = await refusal(client.query('SELECT 1'));
      assert.equal(anonymous.code, 'UNAUTHORIZED');
      assert.equal(anonymous.httpStatus, 401);
      assert.equal(anonymous.serverCode, 'UNAUTHORIZED');
    });
    await withClient({ nodes: [node.baseUrl], auth: { username: 'only-query', password: 'pw-query' } }, async (client) => {
      const forbidden = await refusal(client.execute('CREATE TABLE nope (x)'));
      assert.equal(forbidden.code, 'UNAUTHORIZED');
      assert.equal(forbidden.httpStatus, 403);
      assert.equal(forbidden.serverCode, 'FORBIDDEN');
      assert.match(forbidden.message, /forbidden: user "only-query" lacks the execute permission/);
    });
  });
});

describe('the shell', () => {
  it('-u user:password gets through; without it, rqlite-style errors', async () => {
    const allowed = await runShellWith([...hostFlags(node.baseUrl), '-u', 'writer:writer secret'], 'SELECT 3 AS three\n');
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /\| three \|[\s\S]*\| 3 +\|/);
    const anonymous = await runShellWith([...hostFlags(node.baseUrl)], 'SELECT 3\n');
    assert.match(anonymous.stdout, /ERR! server responded with 401 Unauthorized: unauthorized\n/);
    const forbidden = await runShellWith([...hostFlags(node.baseUrl), '-u', 'only-query:pw-query'], 'CREATE TABLE nope (x)\n');
    assert.match(forbidden.stdout, /ERR! server responded with 403 Forbidden: forbidden: user "only-query" lacks the execute permission/);
  });

  it("takes a --host URL's user and password (rqlite and sqlite3 styles), -u winning", async () => {
    const host = withCredentials(node.baseUrl, 'writer', 'writer secret');
    const rqliteStyle = await runShellWith(['--host', host], 'SELECT 4 AS four\n');
    assert.match(rqliteStyle.stdout, /\| four \|[\s\S]*\| 4 +\|/, rqliteStyle.stdout);
    const sqliteStyle = await runShellWith(['--style', 'sqlite3', '--host', host], 'SELECT 5 AS five;\n');
    assert.equal(sqliteStyle.code, 0, sqliteStyle.stderr);
    assert.match(sqliteStyle.stdout, /5/);
    const fromEnvironment = await runShellWith(['--command', 'SELECT 6 AS six'], '', { RQLITE_HOST: host });
    assert.match(fromEnvironment.stdout, /\| 6 +\|/, fromEnvironment.stdout);
    const overridden = await runShellWith(['--host', host, '-u', 'only-status:pw-status'], 'SELECT 7\n');
    assert.match(overridden.stdout, /403 Forbidden/);
  });
});
