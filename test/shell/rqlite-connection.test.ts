/**
 * rqlite's connection flags on a real node: `-u` Basic credentials, HTTPS with `-s`,
 * `-c`, `-i`, `-d`/`-k` (a local TLS proxy with openssl-made certificates in front of
 * the node), `-t`, `-a` fallbacks, `-P` prefix, RQLITE_HOST, redirects to the leader,
 * and the built `quorumlite shell` process itself (`-v`, `-h`, a bad flag).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliPath, freePort, type TestCluster } from '../cluster/harness.js';
import { ShellHttpClient } from '../../src/cli/shell-http.js';
import { rqliteCommands } from '../../src/cli/shell-rqlite-commands.js';
import { RqliteSession } from '../../src/cli/shell-rqlite-session.js';
import { runStatement } from '../../src/cli/shell-rqlite-sql.js';
import { on, startNodeProxy, type NodeProxy } from './node-proxy.js';
import { banner, hostFlags, makeCertificates, runShellWith, startOneNode, type Certificates } from './rqlite-harness.js';

const opensslAvailable = spawnSync('openssl', ['version']).status === 0;
const clientLogLine = /^\[client\] \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} /;

let cluster: TestCluster;
let url: string;
let directory: string;
const proxies: NodeProxy[] = [];

async function proxy(options: Parameters<typeof startNodeProxy>[0]): Promise<NodeProxy> {
  const started = await startNodeProxy(options);
  proxies.push(started);
  return started;
}

before(async () => {
  ({ cluster, url } = await startOneNode());
  directory = mkdtempSync(join(tmpdir(), 'quorumlite-shell-connection-'));
});

after(async () => {
  for (const started of proxies) await started.close();
  await cluster?.close();
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

describe('-u user:password', () => {
  it('sends HTTP Basic credentials on every request', async () => {
    const recorder = await proxy({ target: url });
    const outcome = await runShellWith([...hostFlags(recorder.url), '-u', 'bob:s3cret'], 'SELECT 1 AS one\n.status node\n');
    assert.equal(outcome.code, 0, outcome.stdout);
    assert.ok(recorder.requests.length >= 3);
    for (const request of recorder.requests) assert.equal(request.headers.authorization, `Basic ${Buffer.from('bob:s3cret').toString('base64')}`, request.path);
    const anonymous = await proxy({ target: url });
    await runShellWith([...hostFlags(anonymous.url), '--command', 'SELECT 1']);
    assert.equal(anonymous.requests[0]?.headers.authorization, undefined);
  });

  it('reports a refusal as rqlite does', async () => {
    const refusing = await proxy({ target: url });
    refusing.rules.push(on('POST', '/db/request', { status: 401, body: 'unauthorized\n' }), on('GET', '/nodes', { status: 401 }));
    const outcome = await runShellWith([...hostFlags(refusing.url), '--command', 'SELECT 1\n.leader']);
    assert.equal(outcome.stdout, 'ERR! server responded with 401 Unauthorized: unauthorized\nERR! unauthorized\n');
  });
});

describe('HTTPS: -s https, -c/--ca-cert, -i/--insecure, -d/--client-cert with -k/--client-key', { skip: !opensslAvailable && 'openssl not installed' }, () => {
  let certificates: Certificates;
  let secure: NodeProxy;
  let tlsFlags: string[];

  before(async () => {
    certificates = makeCertificates(directory);
    secure = await proxy({ target: url, tls: { key: certificates.serverKey, cert: certificates.serverCert, clientCa: certificates.clientCert } });
    tlsFlags = [...hostFlags(secure.url), '-s', 'https'];
  });

  it('trusts the server through --ca-cert', async () => {
    const outcome = await runShellWith([...tlsFlags, '--ca-cert', certificates.serverCertPath], 'SELECT 7 AS seven\n');
    assert.equal(outcome.stdout, `${(await banner(url)).replace(url, secure.url)}+-------+\n| seven |\n+-------+\n| 7     |\n+-------+\nbye~\n`);
    assert.equal(outcome.code, 0);
  });

  it('refuses an unverified server, and -i skips the verification', async () => {
    const refused = await runShellWith(tlsFlags, 'SELECT 1\n');
    assert.equal(refused.stdout, 'ERR! no host available to perform the request\n');
    const logLines = refused.stderr.trimEnd().split('\n');
    assert.equal(logLines.length, 2, refused.stderr);
    assert.match(logLines[0] ?? '', clientLogLine);
    assert.match(logLines[0] ?? '', /host '127\.0\.0\.1:\d+' is unavailable \(.*certificate.*\), retrying with the next available host$/);
    assert.match(logLines[1] ?? '', /none of the available hosts are responsive$/);
    assert.equal(refused.code, 1);
    const insecure = await runShellWith([...tlsFlags, '-i', '--command', 'SELECT 1 AS one']);
    assert.equal(insecure.stdout, '+-----+\n| one |\n+-----+\n| 1   |\n+-----+\n');
  });

  it('presents the client certificate given by -d and -k', async () => {
    secure.requests.length = 0;
    await runShellWith([
      ...tlsFlags,
      '-c',
      certificates.serverCertPath,
      '-d',
      certificates.clientCertPath,
      '-k',
      certificates.clientKeyPath,
      '--command',
      'SELECT 1',
    ]);
    assert.equal(secure.requests.at(-1)?.clientAuthorized, true);
    await runShellWith([...tlsFlags, '-c', certificates.serverCertPath, '--command', 'SELECT 1']);
    assert.equal(secure.requests.at(-1)?.clientAuthorized, false);
  });

  it('reports an unreadable certificate file as Go does', async () => {
    const missing = join(directory, 'missing.pem');
    const outcome = await runShellWith([...tlsFlags, '--ca-cert', missing, '--command', 'SELECT 1']);
    assert.equal(outcome.stdout, `ERR! open ${missing}: no such file or directory\n`);
    assert.equal(outcome.code, 1);
  });

  it('the sqlite3 style takes the same TLS flags', async () => {
    const outcome = await runShellWith([
      '--style',
      'sqlite3',
      ...tlsFlags,
      '-c',
      certificates.serverCertPath,
      '--mode',
      'csv',
      '--command',
      'SELECT 5 AS five;',
    ]);
    assert.equal(outcome.stdout, 'five\r\n5\r\n');
    assert.equal(outcome.code, 0);
  });
});

describe('nodes: -t, -a, -P, RQLITE_HOST, redirects', () => {
  it('-t/--http-timeout bounds each exchange', async () => {
    const slow = await proxy({ target: url });
    slow.rules.push(on('GET', '/status', { status: 200, body: '{}', delayMs: 3_000 }));
    const outcome = await runShellWith([...hostFlags(slow.url), '-t', '300ms'], 'SELECT 1\n');
    assert.equal(outcome.stdout, 'ERR! no host available to perform the request\n');
    assert.match(outcome.stderr, /is unavailable \(no reply within 0\.3s\), retrying with the next available host\n/);
  });

  it('-a/--alternatives: a node that does not answer hands over to the next, named on stderr', async () => {
    const deadPort = await freePort('127.0.0.1');
    const nodePort = new URL(url).port;
    const outcome = await runShellWith(['-H', '127.0.0.1', '-p', String(deadPort), '-a', `127.0.0.1:${nodePort}`], 'SELECT 3 AS three\n');
    assert.equal(outcome.stdout, `${(await banner(url)).replace(nodePort, String(deadPort))}+-------+\n| three |\n+-------+\n| 3     |\n+-------+\nbye~\n`);
    assert.match(
      outcome.stderr,
      new RegExp(`host '127\\.0\\.0\\.1:${deadPort}' is unavailable \\(.*ECONNREFUSED.*\\), retrying with the next available host\\n$`),
    );
    // The prompt then names the node that answered, as rqlite's does.
    const http = await ShellHttpClient.open({
      hosts: [`http://127.0.0.1:${deadPort}`, url],
      user: undefined,
      tls: { caCertPath: undefined, clientCertPath: undefined, clientKeyPath: undefined, insecure: false },
      timeoutMs: 10_000,
      log: () => undefined,
    });
    const ignore = { name: 'stdout', write: () => undefined, close: () => undefined };
    const settings = {
      blobArray: false,
      changes: false,
      consistency: 'weak' as const,
      forceWrites: false,
      mode: 'column' as const,
      timer: false,
      database: 'main',
    };
    const session = new RqliteSession(http, { write: () => undefined, colors: false }, ignore, { commands: rqliteCommands, runSql: runStatement }, settings);
    assert.equal(session.prompt, `127.0.0.1:${deadPort}> `);
    await session.processLine('SELECT 1');
    assert.equal(session.prompt, `127.0.0.1:${nodePort}> `);
    await http.close();
    const alone = await runShellWith(['-H', '127.0.0.1', '-p', String(deadPort)], 'SELECT 1\n');
    assert.equal(alone.stdout, `ERR! Unable to connect to rqlited at http://127.0.0.1:${deadPort} - is it running?\n`);
    assert.equal(alone.code, 1);
  });

  it('-P/--prefix puts every path under the prefix', async () => {
    const prefixed = await proxy({ target: url, prefix: '/rqlite' });
    const outcome = await runShellWith([...hostFlags(prefixed.url), '-P', '/rqlite/', '--command', 'SELECT 4 AS four\n.ready\n.snapshot']);
    assert.match(outcome.stdout, /^\+------\+\n\| four \|\n\+------\+\n\| 4 {4}\|\n\+------\+\nready\n/);
    assert.ok(prefixed.requests.every((request) => request.path.startsWith('/rqlite/')));
    const unprefixed = await runShellWith([...hostFlags(prefixed.url), '--command', '.ready']);
    assert.equal(unprefixed.stdout, 'not ready\n');
  });

  it('RQLITE_HOST names the node when no -H, -p or -s is given', async () => {
    const outcome = await runShellWith(['--command', 'SELECT 6 AS six'], '', { RQLITE_HOST: url });
    assert.equal(outcome.stdout, '+-----+\n| six |\n+-----+\n| 6   |\n+-----+\n');
    const invalid = await runShellWith([], '', { RQLITE_HOST: 'ftp://x' });
    assert.deepEqual(invalid, { code: 2, stdout: 'ERR! unsupported protocol ftp\n', stderr: '' });
  });

  it('follows 301 redirects to the leader, at most 21 of them', async () => {
    const redirecting = await proxy({ target: url });
    let redirects = 0;
    redirecting.rules.push(
      on('POST', '/db/request', () => {
        redirects += 1;
        return { status: 301, headers: { location: `${url}/db/request` } };
      }),
    );
    const outcome = await runShellWith([...hostFlags(redirecting.url), '--command', 'SELECT 8 AS eight']);
    assert.equal(outcome.stdout, '+-------+\n| eight |\n+-------+\n| 8     |\n+-------+\n');
    assert.equal(redirects, 1);
    const looping = await proxy({ target: url });
    looping.rules.push(on('POST', '/db/request', { status: 301, headers: { location: '/db/request' } }));
    const loop = await runShellWith([...hostFlags(looping.url), '--command', 'SELECT 1']);
    assert.equal(loop.stdout, 'ERR! no host available to perform the request\n');
    assert.match(loop.stderr, /too many redirects from host: '127\.0\.0\.1:\d+'\n/);
    assert.equal(looping.requests.length, 22);
  });
});

describe('the quorumlite shell process', () => {
  function cli(args: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
    const environment = { ...process.env };
    delete environment.RQLITE_HOST;
    delete environment.QUORUMLITE_HOST;
    return spawnSync(process.execPath, [cliPath, 'shell', ...args], { input, encoding: 'utf8', timeout: 60_000, env: { ...environment, HOME: directory } });
  }

  it('-v prints the version, -h the flags; an unknown flag is refused in rqlite words, exit 2', () => {
    assert.match(cli(['-v']).stdout, /^Version v\d+\.\d+\.\d+\S*, commit unknown, built on unknown\n$/);
    const help = cli(['-h']);
    assert.equal(help.status, 0);
    for (const flag of [
      '-a, --alternatives',
      '-s, --scheme[=http]',
      '-H, --host[=127.0.0.1]',
      '-p, --port[=4001]',
      '-P, --prefix[=/]',
      '-i, --insecure[=false]',
      '-c, --ca-cert',
      '-d, --client-cert',
      '-k, --client-key',
      '-u, --user',
      '-v, --version',
      '-t, --http-timeout[=30s]',
    ]) {
      assert.ok(help.stdout.includes(`\n  ${flag}\n`), flag);
    }
    const bad = cli(['--frobnicate']);
    assert.deepEqual([bad.status, bad.stdout, bad.stderr], [2, 'ERR! undefined flag --frobnicate\n', '']);
  });

  it('greets, runs piped input and says bye~', async () => {
    const outcome = cli(hostFlags(url), '.mode csv\nSELECT 9 AS nine\n');
    assert.equal(outcome.stdout, `${await banner(url)}nine\n9\nbye~\n`);
    assert.equal(outcome.status, 0);
  });
});
