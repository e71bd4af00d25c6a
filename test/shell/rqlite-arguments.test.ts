/** rqlite's shell flags, parsed by the rules of rqlite's flag library, with rqlite's error texts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseShellArguments, type ShellArguments } from '../../src/cli/shell-arguments.js';

function run(argv: string[], environment: Record<string, string> = {}): ShellArguments {
  const parsed = parseShellArguments(argv, environment);
  assert.equal(parsed.kind, 'run', JSON.stringify(parsed));
  if (parsed.kind !== 'run') throw new Error('unreachable');
  return parsed.arguments;
}

function rqliteError(argv: string[], environment: Record<string, string> = {}): string {
  const parsed = parseShellArguments(argv, environment);
  assert.equal(parsed.kind, 'error', argv.join(' '));
  if (parsed.kind !== 'error') throw new Error('unreachable');
  return parsed.rqliteMessage;
}

describe("rqlite's connection flags", () => {
  it('defaults to http://127.0.0.1:4001, the rqlite style, no TLS and no credentials', () => {
    const parsed = run([]);
    assert.deepEqual(parsed.hosts, ['http://127.0.0.1:4001']);
    assert.equal(parsed.style, 'rqlite');
    assert.deepEqual(parsed.tls, { caCertPath: undefined, clientCertPath: undefined, clientKeyPath: undefined, insecure: false });
    assert.equal(parsed.user, undefined);
    assert.equal(parsed.httpTimeoutMs, undefined);
  });

  it('-H/--host, -p/--port, -s/--scheme, -P/--prefix in every spelling', () => {
    assert.deepEqual(run(['-H', 'db.example', '-p', '4101', '-s', 'https']).hosts, ['https://db.example:4101']);
    assert.deepEqual(run(['--host=db.example', '--port=4101', '--scheme=https']).hosts, ['https://db.example:4101']);
    assert.deepEqual(run(['-Hdb.example', '-p4101']).hosts, ['http://db.example:4101']);
    assert.deepEqual(run(['-H=localhost', '-p=80']).hosts, ['http://localhost']);
    assert.deepEqual(run(['-P', '/rqlite/']).hosts, ['http://127.0.0.1:4001/rqlite']);
    assert.deepEqual(run(['--prefix', 'a/b']).hosts, ['http://127.0.0.1:4001/a/b']);
    assert.deepEqual(run(['-H', '::1', '-p', '5001']).hosts, ['http://[::1]:5001']);
    assert.deepEqual(run(['-H', 'http://a:1,https://b:2/x']).hosts, ['http://a:1', 'https://b:2/x']);
  });

  it('-a/--alternatives adds fallback host:port pairs in the same scheme', () => {
    assert.deepEqual(run(['-H', 'a', '-a', 'b:4003, c:4005', '-s', 'https']).hosts, ['https://a:4001', 'https://b:4003', 'https://c:4005']);
    assert.deepEqual(run(['--alternatives=b']).hosts, ['http://127.0.0.1:4001', 'http://b:4001']);
  });

  it('-u/--user, -c/--ca-cert, -d/--client-cert, -k/--client-key, -i/--insecure, -t/--http-timeout', () => {
    const parsed = run(['-u', 'bob:se:cret', '-c', 'ca.pem', '-d', 'client.pem', '-k', 'client.key', '-i', '-t', '1m30s']);
    assert.deepEqual(parsed.user, { username: 'bob', password: 'se:cret' });
    assert.deepEqual(parsed.tls, { caCertPath: 'ca.pem', clientCertPath: 'client.pem', clientKeyPath: 'client.key', insecure: true });
    assert.equal(parsed.httpTimeoutMs, 90_000);
    const long = run(['--user=u:p', '--ca-cert=a', '--client-cert=b', '--client-key=c', '--insecure=false', '--http-timeout=500ms']);
    assert.deepEqual(long.tls, { caCertPath: 'a', clientCertPath: 'b', clientKeyPath: 'c', insecure: false });
    assert.equal(long.httpTimeoutMs, 500);
    assert.equal(run(['--insecure=yes']).tls.insecure, true);
    assert.equal(run(['--insecure=0']).tls.insecure, false);
  });

  it('-h/--help and -v/--version, also folded with other boolean flags', () => {
    assert.deepEqual(parseShellArguments(['-h'], {}), { kind: 'help' });
    assert.deepEqual(parseShellArguments(['--help'], {}), { kind: 'help' });
    assert.deepEqual(parseShellArguments(['-v'], {}), { kind: 'version' });
    assert.deepEqual(parseShellArguments(['--version'], {}), { kind: 'version' });
    assert.deepEqual(parseShellArguments(['-iv'], {}), { kind: 'version' });
  });

  it('RQLITE_HOST when no -H, -p or -s is given; then QUORUMLITE_HOST', () => {
    assert.deepEqual(run([], { RQLITE_HOST: 'https://db.example:4101' }).hosts, ['https://db.example:4101']);
    assert.deepEqual(run([], { RQLITE_HOST: 'http://db.example' }).hosts, ['http://db.example:4001']);
    assert.deepEqual(run(['-p', '5000'], { RQLITE_HOST: 'https://db.example:4101' }).hosts, ['http://127.0.0.1:5000']);
    assert.deepEqual(run([], { RQLITE_HOST: 'http://a:1', QUORUMLITE_HOST: 'http://b:2' }).hosts, ['http://a:1']);
    assert.deepEqual(run([], { QUORUMLITE_HOST: 'http://b:2,http://c:3' }).hosts, ['http://b:2', 'http://c:3']);
    assert.equal(rqliteError([], { RQLITE_HOST: 'ftp://x' }), 'unsupported protocol ftp');
    assert.equal(rqliteError([], { RQLITE_HOST: 'localhost' }), 'RQLITE_HOST does not contain a hostname');
  });

  it("refuses what rqlite refuses, in rqlite's words", () => {
    const cases: [string[], string][] = [
      [['--frobnicate'], 'undefined flag --frobnicate'],
      [['--frobnicate=1'], 'undefined flag --frobnicate'],
      [['-x'], 'undefined flag -x'],
      [['-ix'], 'undefined flag -x'],
      [['-iu'], 'each fold flag should be boolean, but -u not'],
      [['-'], 'unexpected single dash'],
      [['-p', 'abc'], "`abc` couldn't convert to an uint value"],
      [['-p', '70000'], 'value overflow'],
      [['-t', 'soon'], 'time: invalid duration "soon"'],
      [['--insecure=maybe'], "`maybe` couldn't convert to a bool value"],
      [['-u', 'nocolon'], 'invalid Basic Auth credential format'],
      [['-s', 'ftp'], 'unsupported protocol scheme "ftp"'],
      [['-H'], '-H needs a value'],
      [['-H', '-p', '1'], '-H needs a value'],
      [['stray'], 'unexpected argument "stray"'],
      [['--style', 'duckdb'], '--style must be rqlite or sqlite3'],
      [['--headers', 'on'], '--headers needs --style sqlite3'],
    ];
    for (const [argv, message] of cases) assert.equal(rqliteError(argv), message, argv.join(' '));
  });

  it("keeps quorumlite's own flags: --command, --consistency, --mode, --history, --style", () => {
    const parsed = run(['--command', 'SELECT 1', '--consistency', 'strong', '--mode', 'json', '--history', '/tmp/h', '--style', 'sqlite3', '--headers', 'off']);
    assert.equal(parsed.command, 'SELECT 1');
    assert.equal(parsed.consistency, 'strong');
    assert.equal(parsed.mode, 'json');
    assert.equal(parsed.historyFile, '/tmp/h');
    assert.equal(parsed.style, 'sqlite3');
    assert.equal(parsed.headers, false);
  });
});
