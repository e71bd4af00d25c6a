/**
 * `quorumlite status` against a real in-process node started with -auth: without
 * credentials the node refuses (exit 1, its 401 printed); `--user NAME:PASSWORD` or
 * QUORUMLITE_USER with the `status` permission prints the summary; a wrong password or a
 * user without the permission is refused; a credential without a colon is a usage error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../src/cli/main.js';
import { runStatus } from '../../src/cli/status-command.js';
import { startAuthNode, type AuthNode } from '../http/auth-fixture.js';

let node: AuthNode;
let address: string;

before(async () => {
  node = await startAuthNode('status-auth');
  address = node.baseUrl.replace('http://', '');
});

after(async () => {
  await node?.close();
});

async function status(argv: string[], environment: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runStatus(['--http-addr', address, ...argv], (text) => void out.push(text), environment);
  return { code, out: out.join('') };
}

describe('quorumlite status with -auth', () => {
  it('is refused without credentials', async () => {
    const { code, out } = await status([]);
    assert.equal(code, 1, out);
    assert.doesNotMatch(out, /^Node /m);
  });

  it('prints the summary with --user of a user holding the status permission', async () => {
    const { code, out } = await status(['--user', 'only-status:pw-status']);
    assert.equal(code, 0, out);
    assert.match(out, /^Node +\S+ \(Leader, term \d+\)/m);
    assert.match(out, /^MEMBER \(\* this node\)/m);
  });

  it('reads QUORUMLITE_USER when --user is not given, and --user wins over it', async () => {
    assert.equal((await status([], { QUORUMLITE_USER: 'root:root secret' })).code, 0);
    assert.equal((await status(['--user', 'root:wrong'], { QUORUMLITE_USER: 'root:root secret' })).code, 1);
  });

  it('is refused with a wrong password or without the status permission', async () => {
    assert.equal((await status(['--user', 'only-status:wrong'])).code, 1);
    assert.equal((await status(['--user', 'only-query:pw-query'])).code, 1);
  });

  it('answers a usage error (exit 2) for a credential without a colon', async () => {
    const errors: string[] = [];
    const code = await runCli(['status', '--http-addr', address, '--user', 'root'], { stdout: () => undefined, stderr: (text) => void errors.push(text) });
    assert.equal(code, 2);
    assert.match(errors.join(''), /--user must be NAME:PASSWORD/);
  });
});
