/**
 * Runs a child that applies entries to the database at `path` (it prints `start N` when it
 * begins applying at index N and `done` when it finished), SIGKILLing it at random moments
 * a bounded number of times, until a run finishes. Shared by the crash tests of one
 * database (crash.test.ts) and of several (multi-database-crash.test.ts).
 */
import { spawn } from 'node:child_process';
import { SplitMix64 } from '../../src/state-machine/prng.js';

export interface KillRunSettings {
  /** The child script, run through tsx with the path as its one argument. */
  readonly childScript: string;
  readonly path: string;
  readonly seed: bigint;
  readonly killCountMax: number;
  /** Each kill lands a random 0..killDelayMsMax ms after the child started applying. */
  readonly killDelayMsMax: number;
  /** A child running longer than this is killed and counts as failed. */
  readonly childTimeoutMs: number;
  /** Called after every run (killed or not), before the next: to check what a crash left. */
  readonly afterEachRun?: () => void;
}

export interface KillRunOutcome {
  readonly finished: boolean;
  readonly kills: number;
  /** The index each run began applying at. */
  readonly startIndexes: readonly number[];
}

/** Runs the child; kills it `killDelayMs` after it started applying (or lets it finish). */
function runChild(settings: KillRunSettings, killDelayMs: number | undefined): Promise<{ readonly startIndex: number; readonly finished: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', settings.childScript, settings.path], {
      env: { ...process.env, TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let errorOutput = '';
    let killTimer: NodeJS.Timeout | undefined;
    const watchdog = setTimeout(() => child.kill('SIGKILL'), settings.childTimeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (killDelayMs !== undefined && killTimer === undefined && output.includes('start')) killTimer = setTimeout(() => child.kill('SIGKILL'), killDelayMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (errorOutput += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (killTimer !== undefined) clearTimeout(killTimer);
      const startMatch = /start (\d+)/.exec(output);
      if (startMatch === null || (code !== 0 && signal !== 'SIGKILL')) {
        reject(new Error(`child failed (code ${code}, signal ${signal}): ${errorOutput}`));
        return;
      }
      resolve({ startIndex: Number(startMatch[1]), finished: output.includes('done') });
    });
  });
}

/** Kills up to killCountMax times, then lets the child finish; at most killCountMax + 5 runs. */
export async function runWithRandomKills(settings: KillRunSettings): Promise<KillRunOutcome> {
  const random = new SplitMix64(settings.seed);
  const childRunCountMax = settings.killCountMax + 5;
  let kills = 0;
  let finished = false;
  const startIndexes: number[] = [];
  for (let run = 0; run < childRunCountMax && !finished; run++) {
    const killDelayMs = kills < settings.killCountMax ? Number(random.next() % BigInt(settings.killDelayMsMax)) : undefined;
    const outcome = await runChild(settings, killDelayMs);
    startIndexes.push(outcome.startIndex);
    settings.afterEachRun?.();
    finished = outcome.finished;
    if (!finished) kills++;
  }
  return { finished, kills, startIndexes };
}
