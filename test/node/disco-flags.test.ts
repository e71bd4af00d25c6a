/**
 * rqlited's discovery flags (-disco-mode, -disco-key, -disco-config) as `quorumlite serve`
 * parses them: rqlite's modes, defaults and config fields, the config given inline or as a
 * file with environment variables expanded, and every malformed input refused (exit 2)
 * with a message naming the problem.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsed, refused } from './serve-flag-checks.js';
import { runCli } from '../../src/cli/main.js';
import { expandEnvironment } from '../../src/cli/serve-disco-flags.js';
import { decodeLeaderRecord } from '../../src/server/etcd-discovery.js';

const directory = mkdtempSync(join(tmpdir(), 'quorumlite-disco-flags-'));
after(() => rmSync(directory, { recursive: true, force: true }));

test('without -disco-mode there is no discovery; -disco-key and -disco-config are then unused, as in rqlited', () => {
  assert.equal(parsed([]).discovery, undefined);
  assert.equal(parsed(['-disco-key', 'other', '-disco-config', '{"name":"x"}']).discovery, undefined);
});

test('etcd-kv: rqlite defaults (key rqlite, endpoint localhost:2379), endpoints normalised to URLs', () => {
  assert.deepEqual(parsed(['-disco-mode', 'etcd-kv']).discovery, {
    mode: 'etcd-kv',
    key: 'rqlite',
    etcd: { endpoints: ['http://localhost:2379'], username: undefined, password: undefined, dialTimeoutMs: 5000 },
  });
  const given = parsed([
    '-disco-mode=etcd-kv',
    '-disco-key=cluster1',
    '-disco-config',
    '{"Endpoints":["127.0.2.1:2379","https://etcd.example:2379"],"Username":"u","Password":"p","DialTimeout":2000000000}',
  ]).discovery;
  assert.deepEqual(given, {
    mode: 'etcd-kv',
    key: 'cluster1',
    etcd: { endpoints: ['http://127.0.2.1:2379', 'https://etcd.example:2379'], username: 'u', password: 'p', dialTimeoutMs: 2000 },
  });
});

test('dns and dns-srv: rqlite defaults (name and service rqlite), the port, and our resolver field', () => {
  assert.deepEqual(parsed(['-disco-mode', 'dns', '-bootstrap-expect', '3']).discovery, {
    mode: 'dns',
    dns: { name: 'rqlite', port: undefined, resolver: undefined },
  });
  assert.deepEqual(
    parsed(['-disco-mode', 'dns', '-bootstrap-expect', '3', '-disco-config', '{"name":"rqlite.cluster","port":4002,"resolver":"127.0.3.1:5353"}']).discovery,
    {
      mode: 'dns',
      dns: { name: 'rqlite.cluster', port: 4002, resolver: '127.0.3.1:5353' },
    },
  );
  assert.deepEqual(parsed(['-disco-mode', 'dns-srv', '-bootstrap-expect', '3', '-disco-config', '{"name":"rqlite.local","service":"rqlite-raft"}']).discovery, {
    mode: 'dns-srv',
    dnsSrv: { name: 'rqlite.local', service: 'rqlite-raft', resolver: undefined },
  });
  // DNS discovery stands in for -bootstrap-expect's -join list.
  assert.equal(parsed(['-disco-mode', 'dns', '-bootstrap-expect', '3']).bootstrapExpect, 3);
});

test('-disco-config names a file when one exists (rqlited reads it), with $NAME and {NAME} after a $ expanded from the environment', () => {
  const path = join(directory, 'disco.json');
  const braced = '$' + '{QUORUMLITE_TEST_ETCD_HOST}';
  writeFileSync(path, `{"endpoints": ["${braced}:$QUORUMLITE_TEST_ETCD_PORT"]}`);
  process.env.QUORUMLITE_TEST_ETCD_HOST = '127.0.2.9';
  process.env.QUORUMLITE_TEST_ETCD_PORT = '2400';
  try {
    const discovery = parsed(['-disco-mode', 'etcd-kv', '-disco-config', path]).discovery;
    assert.deepEqual(discovery?.mode === 'etcd-kv' ? discovery.etcd.endpoints : undefined, ['http://127.0.2.9:2400']);
  } finally {
    delete process.env.QUORUMLITE_TEST_ETCD_HOST;
    delete process.env.QUORUMLITE_TEST_ETCD_PORT;
  }
  assert.equal(expandEnvironment(`a $NOPE_UNSET b $${'{X}'}`, { X: 'x' }), 'a  b x');
});

test('bad input: an unknown mode, consul-kv, malformed configs and conflicting flags are usage errors', () => {
  refused(['-disco-mode', 'zookeeper'], /^invalid disco mode zookeeper \(etcd-kv, dns or dns-srv\)$/);
  refused(['-disco-mode', 'consul-kv'], /-disco-mode consul-kv: not supported: quorumlite has no Consul client/);
  refused(['-disco-mode', 'etcd-kv', '-disco-config', '{"endpoints":'], /-disco-config: not valid JSON/);
  refused(['-disco-mode', 'etcd-kv', '-disco-config', '[1]'], /-disco-config: must be a JSON object/);
  refused(['-disco-mode', 'etcd-kv', '-disco-config', '{"endpoints":"127.0.0.1:2379"}'], /"endpoints" must be a non-empty array of strings/);
  refused(['-disco-mode', 'etcd-kv', '-disco-config', '{"endpoints":["ftp://x:1"]}'], /"endpoints": "ftp:\/\/x:1" is not http\(s\)/);
  refused(['-disco-mode', 'etcd-kv', '-disco-config', '{"password":"p"}'], /"password" without "username"/);
  refused(['-disco-mode', 'etcd-kv', '-disco-key', ''], /-disco-key must be 1-256 characters/);
  refused(['-disco-mode', 'dns', '-bootstrap-expect', '3', '-disco-config', '{"port":"4002"}'], /"port" must be a port number/);
  refused(['-disco-mode', 'dns', '-bootstrap-expect', '3', '-disco-config', '{"name":"a b"}'], /"name": "a b" is not a DNS name/);
  refused(['-disco-mode', 'dns', '-bootstrap-expect', '3', '-disco-config', '{"resolver":"dns.example"}'], /"resolver": "dns.example" is not IP\[:PORT\]/);
  refused(['-disco-mode', 'dns'], /-disco-mode dns needs -bootstrap-expect/);
  refused(['-disco-mode', 'etcd-kv', '-bootstrap-expect', '3'], /-bootstrap-expect does not apply to -disco-mode etcd-kv/);
  refused(['-disco-mode', 'dns-srv', '-bootstrap-expect', '3', '-join', '127.0.0.1:4002'], /-disco-mode dns-srv and -join: give one of them/);
});

test('the CLI exits 2 on a malformed -disco-config, naming it', async () => {
  const err: string[] = [];
  const code = await runCli(['serve', '-disco-mode', 'etcd-kv', '-disco-config', '{nope}'], { stdout: () => undefined, stderr: (text) => void err.push(text) });
  assert.equal(code, 2);
  assert.match(err.join(''), /^quorumlite serve: -disco-config: not valid JSON/);
});

test("the etcd record is rqlite's {id, api_addr, addr}; anything else reads as no record", () => {
  assert.deepEqual(decodeLeaderRecord('{"id":"n1","api_addr":"http://127.0.0.1:4001","addr":"127.0.0.1:4002"}'), {
    id: 'n1',
    apiUrl: 'http://127.0.0.1:4001',
    raftAddress: '127.0.0.1:4002',
  });
  assert.equal(decodeLeaderRecord('{"id":"n1"}'), undefined);
  assert.equal(decodeLeaderRecord('not json'), undefined);
});
