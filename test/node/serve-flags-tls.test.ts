/**
 * rqlited's TLS flags together: what each combination gives the node, the combinations
 * refused because they cannot mean anything, and the warning a node listening beyond
 * loopback without TLS logs at start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exposureWarnings, isLoopbackHost } from '../../src/cli/serve-exposure.js';
import { commonNameLengthMax, serverNameLengthMax } from '../../src/cli/serve-tls-flags.js';
import { parsed, refused } from './serve-flag-checks.js';

const httpsFlags = ['-http-cert', '/tls/server.crt', '-http-key', '/tls/server.key'];
const nodeFlags = ['-node-cert', '/tls/node.crt', '-node-key', '/tls/node.key'];

test('no TLS flag: plain HTTP and plain TCP between nodes', () => {
  assert.deepEqual(parsed([]).tls, {});
});

test('-http-cert and -http-key serve HTTPS; -http-ca-cert, -http-verify-client and -http-verify-common-name qualify it', () => {
  assert.deepEqual(parsed(httpsFlags).tls, { http: { certPath: '/tls/server.crt', keyPath: '/tls/server.key', verifyClient: false } });
  const mutual = parsed([...httpsFlags, '-http-ca-cert', '/tls/ca.crt', '-http-verify-client', '-http-verify-common-name', 'app']).tls;
  assert.deepEqual(mutual, {
    http: { certPath: '/tls/server.crt', keyPath: '/tls/server.key', caPath: '/tls/ca.crt', verifyClient: true, clientCommonName: 'app' },
  });
  // Alone, -http-ca-cert is what an https:// -join trusts (rqlited uses it for that too).
  assert.deepEqual(parsed(['-http-ca-cert', '/tls/ca.crt']).tls, { http: { caPath: '/tls/ca.crt', verifyClient: false } });
});

test('-node-cert and -node-key turn on node-to-node TLS; every other -node-* flag qualifies it', () => {
  assert.deepEqual(parsed(nodeFlags).tls, { peers: { certPath: '/tls/node.crt', keyPath: '/tls/node.key', verifyClient: false, noVerify: false } });
  const everything = parsed([
    ...nodeFlags,
    '-node-ca-cert=/tls/ca.crt',
    '-node-verify-client',
    '-node-no-verify=false',
    '-node-verify-server-name',
    'nodes.example',
    '-node-verify-common-name',
    'member',
  ]).tls;
  assert.deepEqual(everything, {
    peers: {
      certPath: '/tls/node.crt',
      keyPath: '/tls/node.key',
      caPath: '/tls/ca.crt',
      verifyClient: true,
      noVerify: false,
      serverName: 'nodes.example',
      clientCommonName: 'member',
    },
  });
  assert.equal(parsed([...nodeFlags, '--node-no-verify']).tls.peers?.noVerify, true);
});

test('refused: half a pair, and a qualifier without the TLS it qualifies', () => {
  refused(['-http-cert', '/c'], /^either both -http-cert and -http-key must be set, or neither$/);
  refused(['-node-key', '/k'], /^either both -node-cert and -node-key must be set, or neither$/);
  refused(['--http-verify-client', '-http-verify-common-name=app'], /^--http-verify-client, -http-verify-common-name needs -http-cert and -http-key/);
  refused([...httpsFlags, '-http-verify-common-name', 'app'], /-http-verify-common-name: needs -http-verify-client/);
  refused(
    ['-node-ca-cert', '/ca', '-node-verify-client'],
    /^-node-ca-cert, -node-verify-client needs -node-cert and -node-key: without them nodes talk plain TCP$/,
  );
  refused([...nodeFlags, '-node-verify-common-name', 'member'], /-node-verify-common-name: needs -node-verify-client/);
  // The "off" values ask for nothing and are accepted, as rqlited's defaults.
  assert.deepEqual(parsed(['-node-verify-client=false', '-http-verify-client=false', '-node-ca-cert=', '-http-cert=']).tls, {});
});

test('bounds: paths, Common Names and server names', () => {
  refused([...nodeFlags, '-node-verify-client', '-node-verify-common-name', 'c'.repeat(commonNameLengthMax + 1)], /-node-verify-common-name: longer than 64/);
  refused([...nodeFlags, '-node-verify-server-name', `${'n'.repeat(serverNameLengthMax)}.x`], /-node-verify-server-name: longer than 253/);
  refused([...httpsFlags, '-http-verify-client', '-http-verify-common-name', 'a\nb'], /contains a control character/);
});

test('loopback: localhost and 127/8 and ::1 are; wildcards and other names are not', () => {
  for (const host of ['localhost', '127.0.0.1', '127.3.2.1', '::1', '[::1]', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['0.0.0.0', '::', '10.0.0.5', 'db1.example', '192.168.1.1', 'fe80::1']) assert.equal(isLoopbackHost(host), false, host);
});

test('a node listening beyond loopback without TLS is warned about, one sentence per listener', () => {
  assert.deepEqual(exposureWarnings(parsed([])), [], 'loopback needs no TLS');
  const exposed = exposureWarnings(parsed(['-http-addr', '0.0.0.0:4001', '-raft-addr', '10.0.0.5:4002']));
  assert.equal(exposed.length, 2);
  assert.match(exposed[0] ?? '', /^the HTTP API listens on 0\.0\.0\.0:4001, which is not a loopback address, without TLS: .* Set -http-cert and -http-key/);
  assert.match(
    exposed[1] ?? '',
    /^the Raft port listens on 10\.0\.0\.5:4002, which is not a loopback address, without TLS: .*any process that reaches the port can act as a node/,
  );
  const onewayTls = exposureWarnings(parsed(['-raft-addr', '10.0.0.5:4002', ...nodeFlags]));
  assert.equal(onewayTls.length, 1);
  assert.match(onewayTls[0] ?? '', /without mutual TLS: any process that reaches the port can connect/);
  const hardened = parsed([
    '-http-addr',
    '0.0.0.0:4001',
    '-raft-addr',
    '0.0.0.0:4002',
    ...httpsFlags,
    ...nodeFlags,
    '-node-ca-cert',
    '/ca',
    '-node-verify-client',
  ]);
  assert.deepEqual(exposureWarnings(hardened), []);
  assert.equal(
    exposureWarnings(parsed(['-raft-addr', '0.0.0.0:4002', ...nodeFlags, '-node-verify-client', '-node-no-verify'])).length,
    1,
    '-node-no-verify checks nothing',
  );
});
