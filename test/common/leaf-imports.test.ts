/** src/common holds leaves: each file imports only other src/common files. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { it } from 'node:test';

const directory = new URL('../../src/common/', import.meta.url);

it('src/common files import only each other (no other layer, no Node module)', () => {
  const files = readdirSync(directory).filter((name) => name.endsWith('.ts'));
  assert.ok(files.length >= 4);
  for (const file of files) {
    const source = readFileSync(new URL(file, directory), 'utf8');
    for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
      const specifier = match[1] as string;
      assert.match(specifier, /^\.\/[a-z0-9-]+\.js$/, `${file} imports ${specifier}`);
    }
    assert.doesNotMatch(source, /\bimport\(|\brequire\(/, `${file} loads a module dynamically`);
  }
});
