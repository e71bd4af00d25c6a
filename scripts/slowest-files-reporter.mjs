// A test reporter (node --test-reporter) that prints, after the run, the test files that
// took longest: the sum of each file's top-level tests (hooks not counted), or the whole
// file when the runner failed it as a file (a crash, or past run-tests.mjs's timeout).
// It keeps CI's time in view: run-tests.mjs bounds each file, and .ci/run the whole run.
const shownCount = 12;

export default async function* slowestFiles(source) {
  const totals = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { file, nesting, details } = event.data;
    if (nesting !== 0 || file === undefined || typeof details?.duration_ms !== 'number') continue;
    // The runner's own event for a failed file carries the whole file's time.
    const ms = event.data.name === file ? Math.max(details.duration_ms, totals.get(file) ?? 0) : (totals.get(file) ?? 0) + details.duration_ms;
    totals.set(file, ms);
  }
  const slowest = [...totals].sort((left, right) => right[1] - left[1]).slice(0, shownCount);
  const root = new URL('..', import.meta.url).pathname;
  yield `# slowest test files (their tests' time, hooks not counted):\n`;
  for (const [file, ms] of slowest) yield `#   ${(ms / 1000).toFixed(1).padStart(6)} s  ${file.startsWith(root) ? file.slice(root.length) : file}\n`;
}
