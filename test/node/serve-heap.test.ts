/** The V8 heap setting a serving node runs with (src/cli/serve-heap.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serveHeapFlags } from '../../src/cli/serve-heap.js';

test('a serving node lowers the old generation growth to 1.5 times its live size', () => {
  assert.deepEqual(serveHeapFlags([], undefined), ['--heap-growing-percent=50']);
  assert.deepEqual(serveHeapFlags(['--enable-source-maps'], '--max-semi-space-size=4'), ['--heap-growing-percent=50']);
});

test("an operator's own heap growth setting, on the command line or in NODE_OPTIONS, is kept", () => {
  assert.deepEqual(serveHeapFlags(['--heap-growing-percent=80'], undefined), []);
  assert.deepEqual(serveHeapFlags([], '--max-semi-space-size=4 --heap_growing_percent=20'), []);
});
