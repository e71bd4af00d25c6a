import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { createClient } from '../../src/client/browser.js';
import { startMiniRqlite } from './helpers/mini-rqlite.js';

const clientDirectory = fileURLToPath(new URL('../../src/client/', import.meta.url));

/** Every module browser.ts reaches, following relative imports (type-only ones too). */
function reachableImports(file: string, seen = new Set<string>()): { files: Set<string>; externals: Set<string> } {
  const externals = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    const source = readFileSync(path, 'utf8');
    for (const match of source.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const specifier = match[1] as string;
      if (specifier.startsWith('.')) visit(join(dirname(path), specifier.replace(/\.js$/, '.ts')));
      else externals.add(specifier);
    }
  };
  visit(file);
  return { files: seen, externals };
}

it('the browser entry reaches no Node-only module (no node:*, no undici)', () => {
  const { files, externals } = reachableImports(join(clientDirectory, 'browser.ts'));
  assert.deepEqual([...externals], []);
  assert.ok(![...files].some((file) => file.endsWith('undici-transport.ts')));
  assert.ok(files.has(join(clientDirectory, 'client.ts')));
  const nodeEntry = reachableImports(join(clientDirectory, 'index.ts'));
  assert.deepEqual([...nodeEntry.externals], ['undici'], 'the Node entry differs only by undici');
});

it('the browser entry works over fetch, without redirects, through a forwarding node', async () => {
  const mini = await startMiniRqlite();
  const client = createClient({ nodes: [mini.url], discoverNodes: false });
  try {
    await client.execute('CREATE TABLE browser (b BLOB)');
    await client.execute({ sql: 'INSERT INTO browser VALUES (?)', args: [new Uint8Array([7])] });
    assert.ok(!mini.node.requests.at(-1)?.query.has('redirect'));
    const read = await client.query('SELECT b FROM browser', { consistency: 'strong' });
    assert.deepEqual(read.results[0]?.rows, [{ b: new Uint8Array([7]) }]);
    assert.ok(!mini.node.requests.at(-1)?.query.has('redirect'));
  } finally {
    await client.close();
    await mini.close();
  }
});
