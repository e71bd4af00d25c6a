/**
 * rqlite's -auth file format and its rule (the store's `check` and `allows`), and what
 * happens at start: a file that cannot be used (not JSON, an unknown permission, a user
 * twice, missing), or a -join-as user the file does not hold, is a usage error (exit 2)
 * naming the problem, before anything starts; a node started from code refuses it too.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { authExposureWarning, isLoopbackHost } from '../../src/cli/serve-auth-flags.js';
import { basicCredentials } from '../../src/http/auth-check.js';
import bcrypt from 'bcryptjs';
import { AuthFileError, authFileLimits, parseAuthFile, readAuthFile } from '../../src/server/auth-file.js';
import { CredentialStore, verifiedPasswordCountMax } from '../../src/server/auth-store.js';
import { silentLogger } from '../../src/node/logger.js';
import { QuorumNode, type QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { hashedPassword, hashedPasswordHash } from './auth-fixture.js';

const directory = mkdtempSync(join(tmpdir(), 'quorumlite-auth-files-'));

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

function fileWith(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

describe('the file format', () => {
  it("reads rqlite's example: cleartext and bcrypt passwords, perms, and * without a password", () => {
    const users = parseAuthFile(
      JSON.stringify([
        { username: 'bob', password: 'secret1', perms: ['all'] },
        { username: 'mary', password: hashedPasswordHash, perms: ['query', 'backup', 'join'], comment: 'ignored, as rqlite ignores it' },
        { username: '*', perms: ['status', 'ready', 'join-read-only'] },
        { username: 'nobody' },
      ]),
    );
    assert.deepEqual(
      users.map((user) => [user.username, user.password, [...user.permissions]]),
      [
        ['bob', 'secret1', ['all']],
        ['mary', hashedPasswordHash, ['query', 'backup', 'join']],
        ['*', '', ['status', 'ready', 'join-read-only']],
        ['nobody', '', []],
      ],
    );
  });

  it('accepts every permission rqlite defines', () => {
    const perms = ['all', 'execute', 'query', 'load', 'backup', 'snapshot', 'status', 'ready', 'join', 'join-read-only', 'join-read-replica'];
    const users = parseAuthFile(JSON.stringify([{ username: 'u', perms: [...perms, 'remove', 'leader-ops', 'cdc-hwm-update', 'ui'] }]));
    assert.equal(users[0]?.permissions.size, perms.length + 4);
  });

  it('refuses what rqlite would take silently or not at all, naming the problem', () => {
    for (const [text, message] of [
      ['[{"username": "bob"', /^not valid JSON: /],
      ['{"username": "bob"}', /must be a JSON array of users/],
      ['[{"username": "bob", "perms": ["exceute"]}]', /user "bob": unknown permission "exceute" \(known: all, execute, /],
      ['[{"username": "bob"}, {"username": "bob", "perms": ["all"]}]', /user "bob" appears more than once/],
      ['[{"username": "bob", "perms": "all"}]', /user "bob": "perms" must be an array/],
      ['[{"username": "bob", "password": 7}]', /user "bob": "password" must be a string/],
      ['[{"password": "x"}]', /user 1: "username" must be a string/],
      ['[{"username": "a:b"}]', /user "a:b": a user name cannot contain ':'/],
      ['[7]', /user 1: must be an object/],
    ] as const) {
      assert.throws(
        () => parseAuthFile(text),
        (error: unknown) => error instanceof AuthFileError && message.test(error.message),
        text,
      );
    }
  });
});

describe("rqlite's rule", () => {
  const store = new CredentialStore(
    parseAuthFile(
      JSON.stringify([
        { username: 'writer', password: 'w', perms: ['execute'] },
        { username: 'replica', password: 'r', perms: ['join-read-replica'] },
        { username: 'hashed', password: hashedPasswordHash, perms: ['all'] },
        { username: '*', perms: ['query'] },
      ]),
    ),
  );

  it('a permission * holds needs no credentials, and wrong ones do not matter: it runs anonymously', async () => {
    assert.deepEqual(await store.check(null, ['query']), { allowed: true, caller: null });
    assert.deepEqual(await store.check({ username: 'writer', password: 'wrong' }, ['query']), { allowed: true, caller: null });
  });

  it('several permissions: each from * or the user (/db/request with * holding query and the user execute)', async () => {
    assert.deepEqual(await store.check({ username: 'writer', password: 'w' }, ['execute', 'query']), { allowed: true, caller: 'writer' });
    assert.equal((await store.check(null, ['execute', 'query'])).allowed, false);
  });

  it('a forwarded caller is checked by name alone: anonymous needs *, a user its permissions here', () => {
    assert.deepEqual(store.allows(null, ['query']), { allowed: true, caller: null });
    assert.deepEqual(store.allows('writer', ['execute']), { allowed: true, caller: 'writer' });
    assert.deepEqual(store.allows(null, ['execute']), { allowed: false, code: 'UNAUTHORIZED', message: 'unauthorized' });
    const stranger = store.allows('mallory', ['execute']);
    assert.ok(!stranger.allowed && stranger.code === 'FORBIDDEN' && /not a user in this node's auth file/.test(stranger.message));
  });

  it('join-read-replica (rqlite 10) is join-read-only; all grants everything; a bcrypt password checks either way', async () => {
    assert.equal(store.allows('replica', ['join-read-only']).allowed, true);
    assert.equal(store.allows('replica', ['join']).allowed, false);
    assert.equal((await store.check({ username: 'hashed', password: hashedPassword }, ['join', 'remove'])).allowed, true);
    assert.equal((await store.check({ username: 'hashed', password: 'nope' }, ['join'])).allowed, false);
  });

  it('HTTP Basic is read as Go reads it: the password after the first colon, anything malformed as no credentials', () => {
    const header = (text: string): string => `Basic ${Buffer.from(text).toString('base64')}`;
    assert.deepEqual(basicCredentials(header('bob:se:cret')), { username: 'bob', password: 'se:cret' });
    assert.deepEqual(basicCredentials(`bAsIc ${Buffer.from('bob:x').toString('base64')}`), { username: 'bob', password: 'x' });
    assert.equal(basicCredentials(header('no colon')), null);
    assert.equal(basicCredentials('Basic not*base64'), null);
    assert.equal(basicCredentials('Bearer abc'), null);
    assert.equal(basicCredentials(undefined), null);
  });
});

describe('at start', () => {
  function capture(): { io: { stdout: (t: string) => void; stderr: (t: string) => void }; err: string[] } {
    const err: string[] = [];
    return { io: { stdout: () => undefined, stderr: (t) => void err.push(t) }, err };
  }

  it('a file that cannot be used, or a -join-as user it lacks: exit 2 naming the problem, nothing started', async () => {
    const good = fileWith('good.json', '[{"username": "joiner", "password": "j", "perms": ["join"]}]');
    const data = join(directory, 'never-created');
    for (const [argv, message] of [
      [['-auth', fileWith('malformed.json', '[{')], /^quorumlite serve: -auth .*malformed\.json: not valid JSON: /],
      [['-auth', fileWith('unknown.json', '[{"username": "u", "perms": ["sudo"]}]')], /unknown\.json: user "u": unknown permission "sudo"/],
      [['-auth', fileWith('twice.json', '[{"username": "u"}, {"username": "u"}]')], /twice\.json: user "u" appears more than once/],
      [['-auth', join(directory, 'missing.json')], /missing\.json: ENOENT/],
      [['-auth', good, '-join-as', 'stranger'], /-join-as stranger: no such user in .*good\.json/],
      [['-auth', good, '-join-as', '*'], /-join-as \*: no such user/],
      [['-join-as', 'joiner'], /-join-as joiner: needs -auth FILE/],
    ] as const) {
      const output = capture();
      assert.equal(await runCli(['serve', ...argv, data], output.io), 2, argv.join(' '));
      assert.match(output.err.join(''), message);
    }
    assert.throws(() => rmSync(data), /ENOENT/, 'no data directory was created');
  });

  it('QuorumNode.start refuses a bad file, and a joinAs user the file lacks, before opening anything', async () => {
    const start = (overrides: Partial<QuorumNodeOptions>): Promise<QuorumNode> =>
      QuorumNode.start({
        nodeId: 'n1',
        raftAdvertisedAddress: '127.0.0.1:1',
        apiAdvertisedAddress: '127.0.0.1:2',
        dataDirectory: join(directory, 'node-never-created'),
        httpListen: { host: '127.0.0.1', port: 0 },
        raftListen: '127.0.0.1:0',
        logger: silentLogger,
        version: 'test',
        ...overrides,
      });
    await assert.rejects(start({ authFile: fileWith('bad.json', 'nope') }), AuthFileError);
    const good = fileWith('good-node.json', '[{"username": "u", "password": "p"}]');
    await assert.rejects(start({ authFile: good, joinAs: 'v' }), /-join-as v: no such user in the -auth file/);
    assert.throws(() => rmSync(join(directory, 'node-never-created')), /ENOENT/);
  });
});

describe('the start-up warning', () => {
  it('is given for an HTTP API other machines can reach without authentication, and only then', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(host), host);
    for (const host of ['0.0.0.0', '::', '10.0.0.2', 'db.example', '128.0.0.1']) assert.ok(!isLoopbackHost(host), host);
    assert.match(authExposureWarning('0.0.0.0', { authFile: null }) ?? '', /listens on 0\.0\.0\.0, reachable beyond this machine, without authentication/);
    assert.equal(authExposureWarning('0.0.0.0', { authFile: '/etc/auth.json' }), undefined);
    assert.equal(authExposureWarning('127.0.0.1', { authFile: null }), undefined);
  });
});

describe('limits of an -auth file, at the bound and one past it', () => {
  const { fileBytesMax, userCountMax, usernameLengthMax, passwordLengthMax } = authFileLimits;
  const user = (username: string, password = 'p'): { username: string; password: string; perms: string[] } => ({ username, password, perms: ['query'] });

  it('users in a file', () => {
    const users = (count: number): string => JSON.stringify(Array.from({ length: count }, (_, position) => user(`u${position}`)));
    assert.equal(parseAuthFile(users(userCountMax)).length, userCountMax);
    assert.throws(() => parseAuthFile(users(userCountMax + 1)), /more than 10000 users/);
  });

  it('user name and password lengths', () => {
    assert.equal(parseAuthFile(JSON.stringify([user('u'.repeat(usernameLengthMax))]))[0]?.username.length, usernameLengthMax);
    assert.throws(() => parseAuthFile(JSON.stringify([user('u'.repeat(usernameLengthMax + 1))])), /"username" must be a string of 1-256 characters/);
    assert.equal(parseAuthFile(JSON.stringify([user('u', 'p'.repeat(passwordLengthMax))]))[0]?.password.length, passwordLengthMax);
    assert.throws(
      () => parseAuthFile(JSON.stringify([user('u', 'p'.repeat(passwordLengthMax + 1))])),
      /"password" must be a string of at most 1024 characters/,
    );
  });

  it('file size', () => {
    const text = JSON.stringify([user('u')]);
    const padded = (bytes: number): string => text + ' '.repeat(bytes - Buffer.byteLength(text));
    assert.equal(readAuthFile(fileWith('at-bound.json', padded(fileBytesMax))).length, 1);
    assert.throws(() => readAuthFile(fileWith('over-bound.json', padded(fileBytesMax + 1))), /larger than 1048576 bytes/);
  });

  it('bcrypt outcomes remembered: at most verifiedPasswordCountMax, the oldest forgotten first', async () => {
    // A cost-4 hash keeps the 1,025 comparisons quick; the bound is what is checked.
    const store = new CredentialStore(parseAuthFile(JSON.stringify([{ username: 'u', password: bcrypt.hashSync('right', 4), perms: ['query'] }])));
    for (let attempt = 0; attempt < verifiedPasswordCountMax; attempt += 1) {
      await store.check({ username: 'u', password: `wrong ${attempt}` }, ['query']);
    }
    assert.equal(store.rememberedVerdictCount, verifiedPasswordCountMax);
    assert.equal((await store.check({ username: 'u', password: 'right' }, ['query'])).allowed, true);
    assert.equal(store.rememberedVerdictCount, verifiedPasswordCountMax, 'one more outcome pushes the oldest out');
  });
});
