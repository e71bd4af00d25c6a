import assert from 'node:assert/strict';
import { it } from 'node:test';
import { formatDuration } from '../../src/client/options.js';

it('formatDuration passes on Go durations the server accepts and refuses the rest early', () => {
  for (const text of ['500ms', '2s', '1m30s', '1h2m3.5s', '.5s', '1.5µs', '1.5μs', '+2s', '0']) assert.equal(formatDuration(text), text);
  assert.equal(formatDuration(1500.4), '1500ms');
  for (const text of ['soon', '1', '-1s', '1S', '1 s', '']) {
    assert.throws(() => formatDuration(text), { code: 'INVALID_ARGUMENT', message: /^not a duration: invalid duration/ }, text);
  }
  assert.throws(() => formatDuration(-1), { code: 'INVALID_ARGUMENT' });
});

it('tls: cert and key go together, and tls is for the built-in transport only (a browser refuses it)', async () => {
  const { createClient } = await import('../../src/client/index.js');
  const browser = await import('../../src/client/browser.js');
  const nodes = ['https://127.0.0.1:4001'];
  assert.throws(() => createClient({ nodes, tls: { cert: 'PEM' } }), { code: 'INVALID_ARGUMENT', message: /cert and config\.tls\.key go together/ });
  assert.throws(() => createClient({ nodes, tls: { insecure: true }, fetch: globalThis.fetch }), { code: 'INVALID_ARGUMENT', message: /built-in transport/ });
  assert.throws(() => browser.createClient({ nodes, tls: { ca: 'PEM' } }), { code: 'INVALID_ARGUMENT', message: /not available in a browser/ });
  const client = createClient({ nodes, tls: { ca: 'PEM', insecure: false } });
  await client.close();
});

it('the hung-leader check: after 0 turns it off, a negative one is refused; its interval and question timeout are at least 1 ms', async () => {
  const { resolveConfig } = await import('../../src/client/options.js');
  const nodes = ['http://127.0.0.1:4001'];
  assert.deepEqual(
    (({ leaderCheckAfterMs, leaderCheckIntervalMs, leaderCheckTimeoutMs }) => ({ leaderCheckAfterMs, leaderCheckIntervalMs, leaderCheckTimeoutMs }))(
      resolveConfig({ nodes }),
    ),
    { leaderCheckAfterMs: 300, leaderCheckIntervalMs: 100, leaderCheckTimeoutMs: 1_000 },
  );
  assert.equal(resolveConfig({ nodes, leaderCheckAfterMs: 0 }).leaderCheckAfterMs, 0);
  assert.throws(() => resolveConfig({ nodes, leaderCheckAfterMs: -1 }), { code: 'INVALID_ARGUMENT', message: /leaderCheckAfterMs/ });
  for (const name of ['leaderCheckIntervalMs', 'leaderCheckTimeoutMs'] as const) {
    assert.equal(resolveConfig({ nodes, [name]: 1 })[name], 1);
    assert.throws(() => resolveConfig({ nodes, [name]: 0 }), { code: 'INVALID_ARGUMENT', message: new RegExp(name) }, name);
    assert.throws(() => resolveConfig({ nodes, [name]: 1.5 }), { code: 'INVALID_ARGUMENT', message: new RegExp(name) }, name);
  }
});
