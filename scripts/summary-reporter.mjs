// A test reporter (node --test-reporter) that prints, after the run:
// - the test files that took longest: the sum of each file's top-level tests (hooks not
//   counted), or the whole file when the runner failed it as a file (a crash, or past
//   run-tests.mjs's timeout). It keeps CI's time in view: run-tests.mjs bounds each file,
//   and .ci/run the whole run;
// - last, every failed test with its file and the first lines of its error, so that the
//   end of a long log (all that a CI summary may keep) names what failed. A test that
//   failed only because a subtest did is not listed again (a subtest cancelled because
//   its parent ended first is listed: it may be all there is to see); past
//   failuresShownMax the rest are counted.
const shownCount = 12;
const failuresShownMax = 40;
const errorLinesShown = 4;
const errorCharsShown = 600;

/** The first lines of a failed test's error: the assertion's own when the runner wrapped it. */
function errorText(error) {
  const cause = error?.cause ?? error;
  let text = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause ?? 'failed');
  // A file the runner failed as a whole: how its process ended.
  if (typeof error?.exitCode === 'number' || typeof error?.signal === 'string') text += ` (exit code ${error.exitCode}, signal ${error.signal})`;
  const lines = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .slice(0, errorLinesShown);
  const shown = lines.join('\n');
  return shown.length > errorCharsShown ? `${shown.slice(0, errorCharsShown)}…` : shown;
}

export default async function* summary(source) {
  const totals = new Map();
  const failures = [];
  let failureCount = 0;
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { file, nesting, details } = event.data;
    if (event.type === 'test:fail' && details?.error?.failureType !== 'subtestsFailed') {
      failureCount += 1;
      if (failures.length < failuresShownMax) failures.push({ file: file ?? '(no file)', name: event.data.name, error: errorText(details?.error) });
    }
    if (nesting !== 0 || file === undefined || typeof details?.duration_ms !== 'number') continue;
    // The runner's own event for a failed file carries the whole file's time.
    const ms = event.data.name === file ? Math.max(details.duration_ms, totals.get(file) ?? 0) : (totals.get(file) ?? 0) + details.duration_ms;
    totals.set(file, ms);
  }
  const root = new URL('..', import.meta.url).pathname;
  const shortPath = (file) => (file.startsWith(root) ? file.slice(root.length) : file);
  const slowest = [...totals].sort((left, right) => right[1] - left[1]).slice(0, shownCount);
  yield `# slowest test files (their tests' time, hooks not counted):\n`;
  for (const [file, ms] of slowest) yield `#   ${(ms / 1000).toFixed(1).padStart(6)} s  ${shortPath(file)}\n`;
  if (failureCount === 0) return;
  yield `# failed tests (${failureCount}):\n`;
  for (const { file, name, error } of failures) {
    yield `#   ${shortPath(file)}: ${name === file ? '(the whole file)' : name}\n`;
    for (const line of error.split('\n')) yield `#       ${line}\n`;
  }
  if (failureCount > failures.length) yield `#   … and ${failureCount - failures.length} more (above, as "not ok")\n`;
}
