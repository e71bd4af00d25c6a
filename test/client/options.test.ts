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
