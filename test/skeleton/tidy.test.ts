import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, test } from 'node:test';

// scripts/tidy.mjs runs against a small repository made here, so that each rule is seen
// to pass a clean tree and to object to a violation planted in it.
const script = new URL('../../scripts/tidy.mjs', import.meta.url).pathname;
const lineWidth = 60;
// Built from pieces so that this file does not trip the rule it tests.
const outsideDesign = ['DESIGN', 'md'].join('.');
const outsideSharedFolder = ['..', 'shared'].join('/');
const outsideShared = `${outsideSharedFolder}/notes.txt`;

const cleanTree: Record<string, string> = {
  'biome.jsonc': `{\n  // the width the line-length rule reads\n  "formatter": { "lineWidth": ${lineWidth} }\n}\n`,
  'src/raft/types.ts': 'export interface Entry {\n  readonly index: number;\n}\nexport const raftVersion = 1;\n',
  'src/raft/raw-node.ts': "import type { Entry } from './types.js';\n\nexport class RawNode {\n  readonly entries: Entry[] = [];\n}\n",
  'src/storage/store.ts': "import type { Entry } from '../raft/types.js';\n\nexport function save(entry: Entry): number {\n  return entry.index;\n}\n",
  'src/node/node.ts': [
    "import { RawNode } from '../raft/raw-node.js';",
    "import { save } from '../storage/store.js';",
    '',
    'export function makeNode(): RawNode {',
    '  save({ index: 1 });',
    '  return new RawNode();',
    '}',
    '',
  ].join('\n'),
  'src/index.ts': "export { makeNode } from './node/node.js';\n",
  'src/client/client.ts': "export function createClient(): string {\n  return 'client';\n}\n",
  'src/client/index.ts': "export { createClient } from './client.js';\n",
  'src/client/browser.ts': "export * from './client.js';\n",
  'test/raft.test.ts': "import { raftVersion } from '../src/raft/types.js';\n\nvoid raftVersion;\n",
  'docs/history.md': `The design notes once lived in ${outsideDesign}.\n`,
};

const copies: string[] = [];
afterEach(() => {
  for (const copy of copies.splice(0)) rmSync(copy, { recursive: true, force: true });
});

function makeTree(changes: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'quorumlite-tidy-'));
  copies.push(root);
  for (const [path, text] of Object.entries({ ...cleanTree, ...changes })) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function tidy(root: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });
}

function assertObjects(root: string, rule: string, expected: readonly string[]): void {
  const run = tidy(root);
  assert.equal(run.status, 1, run.stdout);
  const problems = run.stderr.split('\n').filter((line) => line.startsWith(`${rule}: `));
  assert.deepEqual(
    problems.map((line) => line.slice(rule.length + 2)),
    expected,
  );
}

test('tidy accepts a clean tree and reads every module of it', () => {
  const run = tidy(makeTree());
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /tidy: checked 11 files, 9 modules, 8 imports, 8 exports/);
  assert.match(run.stdout, /tidy: clean/);
});

test('layers: a lower layer may not import a higher one, and some pairs only by type', () => {
  const root = makeTree({
    'src/client/client.ts': "import { makeNode } from '../node/node.js';\n\nexport const createClient = makeNode;\n",
    'src/storage/store.ts': "import { RawNode } from '../raft/raw-node.js';\n\nexport const save = (): number => new RawNode().entries.length;\n",
    'src/raft/raw-node.ts': "import '../storage/store.js';\n\nexport class RawNode {\n  readonly entries: number[] = [];\n}\n",
  });
  assertObjects(root, 'layers', [
    'src/client/client.ts:1: src/client may not import src/node: ../node/node.js',
    'src/raft/raw-node.ts:1: src/raft may not import src/storage: ../storage/store.js',
    'src/storage/store.ts:1: src/storage may not import src/raft (types only: use `import type`, or values from src/raft/types.ts): ../raft/raw-node.js',
  ]);
});

test('layers: storage may import values from the storage contract in src/raft/types.ts', () => {
  const root = makeTree({
    'src/storage/store.ts': [
      "import { raftVersion, type Entry } from '../raft/types.js';",
      '',
      'export function save(entry: Entry): number {',
      '  return entry.index + raftVersion;',
      '}',
      '',
    ].join('\n'),
  });
  const run = tidy(root);
  assert.equal(run.status, 0, run.stderr);
});

test('layers: a folder missing from the table is reported rather than let through', () => {
  const root = makeTree({ 'src/metrics/gauge.ts': "import { makeNode } from '../node/node.js';\n\nvoid makeNode;\n" });
  assertObjects(root, 'layers', ['src/metrics/gauge.ts:1: src/metrics is not a known layer (add it to the table in scripts/tidy.mjs)']);
});

test('layers: the ORM drivers may import the client, and nothing outside them may import the drivers', () => {
  const driver = "import { createClient } from '../../client/client.js';\n\nexport const dialect = createClient;\n";
  const root = makeTree({
    'src/drivers/kysely/index.ts': driver,
    'src/drivers/drizzle/index.ts': "import { makeNode } from '../../node/node.js';\n\nexport const database = makeNode;\n",
    'src/index.ts': "export { makeNode } from './node/node.js';\nexport { dialect } from './drivers/kysely/index.js';\n",
    'src/cli/main.ts': "import { dialect } from '../drivers/kysely/index.js';\n\nvoid dialect;\n",
    'src/client/index.ts': "export { createClient } from './client.js';\nexport type { dialect } from '../drivers/kysely/index.js';\n",
  });
  assertObjects(root, 'layers', [
    'src/cli/main.ts:1: nothing outside src/drivers may import it (optional peer dependencies): ../drivers/kysely/index.js',
    'src/client/index.ts:2: nothing outside src/drivers may import it (optional peer dependencies): ../drivers/kysely/index.js',
    'src/client/index.ts:2: src/client may not import src/drivers: ../drivers/kysely/index.js',
    'src/drivers/drizzle/index.ts:1: src/drivers may not import src/node: ../../node/node.js',
    'src/index.ts:2: nothing outside src/drivers may import it (optional peer dependencies): ./drivers/kysely/index.js',
  ]);
});

test('dead-exports: an export nobody imports, directly or through a barrel, is reported', () => {
  const root = makeTree({
    'src/storage/store.ts': [
      "import type { Entry } from '../raft/types.js';",
      '',
      'export const storeVersion = 2;',
      'export type Saved = number;',
      'export function save(entry: Entry): number {',
      '  return entry.index;',
      '}',
      '',
    ].join('\n'),
    'src/storage/index.ts': "export { save } from './store.js';\n",
  });
  assertObjects(root, 'dead-exports', [
    "src/storage/index.ts:1: 'save' is exported but no other file imports it",
    "src/storage/store.ts:3: 'storeVersion' is exported but no other file imports it",
    "src/storage/store.ts:4: 'Saved' is exported but no other file imports it",
  ]);
});

test('dead-exports: a use through `import type`, a namespace import or a dynamic import keeps an export alive', () => {
  const root = makeTree({
    'src/raft/types.ts': 'export interface Entry {\n  readonly index: number;\n}\nexport const raftVersion = 1;\nexport const raftName = "raft";\n',
    'test/raft.test.ts': "import * as types from '../src/raft/types.js';\n\nvoid types;\n",
    'src/storage/extra.ts': 'export const loaded = 1;\nexport const unloaded = 2;\n',
    'test/storage.test.ts': "const { loaded } = await import('../src/storage/extra.js');\n\nvoid loaded;\n",
  });
  assertObjects(root, 'dead-exports', ["src/storage/extra.ts:2: 'unloaded' is exported but no other file imports it"]);
});

test('dead-exports: a public entry keeps alive everything it re-exports, through `export *` cycles too', () => {
  const root = makeTree({
    'src/client/first.ts': "export * from './second.js';\nexport const first = 1;\n",
    'src/client/second.ts': "export * from './first.js';\nexport const second = 2;\n",
    'src/client/browser.ts': "export * from './client.js';\nexport * from './first.js';\n",
  });
  const run = tidy(root);
  assert.equal(run.status, 0, run.stderr);
});

test('line-length: a line over the formatter width is reported, one at the width is not', () => {
  const atWidth = `// ${'x'.repeat(lineWidth - 3)}`;
  const root = makeTree({ 'test/long.test.ts': `${atWidth}\n${atWidth}y\n` });
  assertObjects(root, 'line-length', [`test/long.test.ts:2: ${lineWidth + 1} characters, over the width of ${lineWidth}`]);
});

test('file-length: a file in src/ over 500 lines is reported, one of 500 is not', () => {
  const lines = (count: number): string => `${Array.from({ length: count }, (_, index) => `// line ${index + 1}`).join('\n')}\n`;
  const root = makeTree({ 'src/raft/long.ts': lines(501), 'src/raft/full.ts': lines(500), 'test/long.test.ts': lines(900) });
  assertObjects(root, 'file-length', ['src/raft/long.ts: 501 lines, over the limit of 500']);
});

test('outside-refs: a reference to a file outside the repository is reported anywhere but docs/', () => {
  const root = makeTree({
    'README.md': `See ${outsideDesign} for the architecture.\n`,
    'src/raft/notes.ts': `// measured in ${outsideShared}\nexport {};\n`,
  });
  assertObjects(root, 'outside-refs', [
    `README.md:1: refers to ${outsideDesign}, which is outside the repository`,
    `src/raft/notes.ts:1: refers to ${outsideSharedFolder}, which is outside the repository`,
  ]);
});

test('tidy reads a git checkout through git, so ignored files are not checked', () => {
  // scratch/ is not one of the folders the fallback walk skips: only git's ignore rules keep it out.
  const root = makeTree({ '.gitignore': 'scratch/\n', 'scratch/notes.ts': `// ${outsideDesign}\n` });
  const git = spawnSync('git', ['init', '--quiet'], { cwd: root, encoding: 'utf8' });
  assert.equal(git.status, 0, git.stderr);
  const run = tidy(root);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /tidy: checked 12 files/);
});
