/**
 * A test file's process that runs past its time, or is ended by a signal, still cleans up
 * and says what it was doing.
 *
 * scripts/run-tests.mjs bounds each file's time. Past the bound this module prints the
 * tests still running and what the helpers registered (each live cluster's log tails),
 * and exits with a failure; Node's runner, a little later, would send SIGTERM, which by
 * default ends a process without running its 'exit' listeners: the nodes, etcd members
 * and DNS servers the file started would outlive it, and its iptables rules would stay.
 * So SIGTERM and SIGINT also report and exit through process.exit, and the processes the
 * helpers started (killOnExit) are killed then. scripts/run-tests.mjs loads it into every
 * test file; the helpers that start processes or install rules import it too (a file run
 * alone, without run-tests, still cleans up on a signal).
 * Only in a test file run by the test runner: the jepsen runner and the benchmarks import
 * the same helpers and keep their own signal handling.
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, beforeEach } from 'node:test';

/** The tests running now, by name. */
const running = new Set<string>();
const reporters = new Set<() => string>();
/** What the helpers started: whatever still runs when the process exits is killed. */
const children = new Set<ChildProcess>();

/**
 * Kills `child` (SIGKILL, by PID) if it still runs when this process exits, however it
 * exits: close() not reached, a failed assertion, a bound or a signal (below). Every
 * helper that starts a process registers it here; one listener serves them all.
 */
export function killOnExit(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

process.once('exit', () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // It exited meanwhile.
    }
  }
});

/**
 * A test file run by Node's test runner: the runner sets NODE_TEST_CONTEXT in the file's
 * process, and the processes a test starts inherit it (a benchmark or the jepsen runner
 * started by its test), so the file's name must say it too.
 */
const underTestRunner = process.env.NODE_TEST_CONTEXT !== undefined && /\.test\.[cm]?[jt]s$/.test(process.argv[1] ?? '');

/** Adds what to print if the file is ended by a signal; returns its removal. */
export function reportOnSignal(report: () => string): () => void {
  reporters.add(report);
  return () => reporters.delete(report);
}

/** Prints what the file was running, and what the helpers registered, then exits: every 'exit' listener runs. */
function endWithReport(why: string, code: number): void {
  const lines = [`${why}: ended while running ${running.size === 0 ? 'no test (a hook?)' : [...running].map((name) => JSON.stringify(name)).join(', ')}`];
  for (const report of reporters) {
    try {
      lines.push(report());
    } catch (error) {
      lines.push(`(a report failed: ${String(error)})`);
    }
  }
  process.stderr.write(`${lines.join('\n')}\n`);
  process.exit(code);
}

if (underTestRunner) {
  beforeEach((context) => {
    running.add(context.name);
  });
  afterEach((context) => {
    running.delete(context.name);
  });
  process.once('SIGTERM', () => endWithReport('SIGTERM', 143));
  process.once('SIGINT', () => endWithReport('SIGINT', 130));
  // The file's own bound, set by scripts/run-tests.mjs a little inside the runner's: the
  // runner drops what a file it times out prints, so the file reports and fails first.
  const boundMs = Number(process.env.QUORUMLITE_TEST_FILE_BOUND_MS);
  if (Number.isSafeInteger(boundMs) && boundMs > 0) {
    setTimeout(() => endWithReport(`past the file's bound of ${boundMs / 1000} s`, 1), boundMs).unref();
  }
}
