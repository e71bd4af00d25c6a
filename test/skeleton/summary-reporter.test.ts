/**
 * scripts/summary-reporter.mjs: a file's time is the sum of its top-level tests (nested
 * tests and other events not counted twice); a file the runner failed as a whole counts
 * its whole time once; only the slowest shown, slowest first, paths relative to the
 * repository. Then, last, each failed test with its file and its error's first lines (4,
 * at most 600 characters); a test failed only by its subtests is not listed; past 40 the
 * rest are counted; nothing when all passed. Also run over a real run of Node's runner.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { repositoryRoot } from '../cluster/harness.js';

type Event = { type: string; data: { file?: string; name: string; nesting: number; details?: { duration_ms: number; error?: unknown } } };

const reporterUrl = new URL('../../scripts/summary-reporter.mjs', import.meta.url).href;
const { default: slowestFiles } = (await import(reporterUrl)) as { default: (source: AsyncIterable<Event>) => AsyncIterable<string> };

async function report(events: readonly Event[]): Promise<string> {
  async function* source(): AsyncGenerator<Event> {
    yield* events;
  }
  let text = '';
  for await (const line of slowestFiles(source())) text += line;
  return text;
}

const file = (name: string): string => `${repositoryRoot}test/${name}.test.ts`;
const pass = (path: string, name: string, ms: number, nesting = 0): Event => ({
  type: 'test:pass',
  data: { file: path, name, nesting, details: { duration_ms: ms } },
});

test('sums top-level tests per file, counts a failed file once, and shows the slowest 12, slowest first', async () => {
  const events: Event[] = [
    pass(file('a'), 'one', 1_000),
    pass(file('a'), 'nested', 5_000, 1),
    { type: 'test:fail', data: { file: file('a'), name: 'two', nesting: 0, details: { duration_ms: 2_000 } } },
    { type: 'test:diagnostic', data: { file: file('a'), name: 'x', nesting: 0, details: { duration_ms: 9_000 } } },
    pass(file('b'), 'one', 500),
    // The runner's own event for a file it failed (a crash, or past its bound) carries the file's whole time.
    pass(file('b'), 'two', 700),
    { type: 'test:fail', data: { file: file('b'), name: file('b'), nesting: 0, details: { duration_ms: 4_000 } } },
  ];
  for (let index = 0; index < 13; index += 1) events.push(pass(file(`many/${index}`), 'one', 10 + index));
  const text = await report(events);
  const lines = text.slice(0, text.indexOf('# failed tests')).trimEnd().split('\n');
  assert.equal(lines[0], "# slowest test files (their tests' time, hooks not counted):");
  assert.equal(lines[1], '#      4.0 s  test/b.test.ts');
  assert.equal(lines[2], '#      3.0 s  test/a.test.ts');
  assert.equal(lines.length, 1 + 12, 'the slowest 12 only');
  assert.equal(lines[12], '#      0.0 s  test/many/3.test.ts');
});

test('lists each failed test last, with its file and error; a parent failed by a subtest is not listed again', async () => {
  const failure = (cause: unknown, failureType = 'testCodeFailure'): Error => Object.assign(new Error('test failed'), { failureType, cause });
  const assertion = new assert.AssertionError({ message: '5 reads of the leader key\nsecond line\nthird\nfourth\nfifth' });
  const events: Event[] = [
    pass(file('a'), 'one', 1_000),
    { type: 'test:fail', data: { file: file('a'), name: 'inner', nesting: 1, details: { duration_ms: 5, error: failure(assertion) } } },
    {
      type: 'test:fail',
      data: { file: file('a'), name: 'outer', nesting: 0, details: { duration_ms: 9, error: failure('1 subtest failed', 'subtestsFailed') } },
    },
    {
      type: 'test:fail',
      data: {
        file: file('b'),
        name: file('b'),
        nesting: 0,
        details: { duration_ms: 4_000, error: Object.assign(failure('test failed'), { exitCode: 1, signal: null }) },
      },
    },
  ];
  const text = await report(events);
  const failed = text.slice(text.indexOf('# failed tests'));
  assert.equal(
    failed,
    [
      '# failed tests (2):',
      '#   test/a.test.ts: inner',
      '#       AssertionError: 5 reads of the leader key',
      '#       second line',
      '#       third',
      '#       fourth',
      '#   test/b.test.ts: (the whole file)',
      '#       test failed (exit code 1, signal null)',
      '',
    ].join('\n'),
  );
  assert.ok(!(await report([pass(file('a'), 'one', 1)])).includes('failed'), 'nothing when all passed');
});

test("an error's first lines are cut at 600 characters: 600 shown whole, 601 cut with an ellipsis", async () => {
  const failed = (name: string, message: string): Event => ({
    type: 'test:fail',
    data: { file: file('a'), name, nesting: 0, details: { duration_ms: 1, error: Object.assign(new Error('test failed'), { cause: new Error(message) }) } },
  });
  const prefix = 'Error: '.length;
  const lines = (await report([failed('at', 'x'.repeat(600 - prefix)), failed('over', 'y'.repeat(601 - prefix))])).split('\n');
  assert.equal(lines[lines.indexOf('#   test/a.test.ts: at') + 1], `#       Error: ${'x'.repeat(600 - prefix)}`);
  assert.equal(lines[lines.indexOf('#   test/a.test.ts: over') + 1], `#       Error: ${'y'.repeat(600 - prefix)}…`);
});

test('a subtest cancelled because its parent ended first is listed, its parent not; past 40 failures the rest are counted', async () => {
  const failure = (cause: unknown, failureType = 'testCodeFailure'): Error => Object.assign(new Error('test failed'), { failureType, cause });
  const failed = (name: string, error: Error, nesting = 0): Event => ({
    type: 'test:fail',
    data: { file: file('a'), name, nesting, details: { duration_ms: 1, error } },
  });
  const cancelled = await report([
    failed('child', failure('test did not finish before its parent and was cancelled', 'cancelledByParent'), 1),
    failed('parent', failure('1 subtest failed', 'subtestsFailed')),
  ]);
  assert.match(cancelled, /# failed tests \(1\):\n# {3}test\/a\.test\.ts: child\n# {7}test did not finish before its parent and was cancelled\n$/);

  const many = Array.from({ length: 41 }, (_, index) => failed(`failure ${index}`, failure(new Error(`number ${index}`))));
  const lines = (await report(many)).split('\n');
  const listed = lines.filter((line) => line.startsWith('#   test/a.test.ts: failure '));
  assert.equal(
    lines.find((line) => line.startsWith('# failed tests')),
    '# failed tests (41):',
  );
  assert.equal(listed.length, 40, 'the first 40 listed');
  assert.equal(listed[39], '#   test/a.test.ts: failure 39');
  assert.ok(lines.includes('#   … and 1 more (above, as "not ok")'), lines.slice(-3).join('\n'));
});

test("over a real run of Node's test runner: the failed assertion and the file that exited are named at the end", () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-reporter-'));
  try {
    writeFileSync(
      join(directory, 'a.test.mjs'),
      "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\n" +
        "test('outer', async (t) => { await t.test('inner', () => assert.equal(1, 2, 'one is not two')); });\ntest('passes', () => {});\n",
    );
    writeFileSync(join(directory, 'b.test.mjs'), 'process.exit(3);\n');
    const reporter = fileURLToPath(reporterUrl);
    // Without this file's own runner context, which would make the child skip its files.
    const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
    const run = spawnSync(process.execPath, ['--test', '--test-reporter', reporter, '--test-reporter-destination', 'stdout', 'a.test.mjs', 'b.test.mjs'], {
      cwd: directory,
      encoding: 'utf8',
      env,
    });
    assert.equal(run.status, 1, run.stderr);
    const failed = run.stdout.slice(run.stdout.indexOf('# failed tests'));
    assert.match(failed, /^# failed tests \(2\):\n/);
    assert.match(failed, /a\.test\.mjs: inner\n# {7}AssertionError: one is not two\n/);
    assert.match(failed, /b\.test\.mjs: \(the whole file\)\n# {7}test failed \(exit code 3, signal null\)\n$/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
