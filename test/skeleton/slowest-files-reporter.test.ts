/**
 * scripts/slowest-files-reporter.mjs: a file's time is the sum of its top-level tests
 * (nested tests and other events not counted twice); a file the runner failed as a whole
 * counts its whole time once; only the slowest shown, slowest first, paths relative to
 * the repository.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { repositoryRoot } from '../cluster/harness.js';

type Event = { type: string; data: { file?: string; name: string; nesting: number; details?: { duration_ms: number } } };

const reporterUrl = new URL('../../scripts/slowest-files-reporter.mjs', import.meta.url).href;
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
  const lines = (await report(events)).trimEnd().split('\n');
  assert.equal(lines[0], "# slowest test files (their tests' time, hooks not counted):");
  assert.equal(lines[1], '#      4.0 s  test/b.test.ts');
  assert.equal(lines[2], '#      3.0 s  test/a.test.ts');
  assert.equal(lines.length, 1 + 12, 'the slowest 12 only');
  assert.equal(lines[12], '#      0.0 s  test/many/3.test.ts');
});
