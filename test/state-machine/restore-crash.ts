/**
 * A restore killed at one of its steps, in a child process (fixtures/restore-child.ts):
 * copies the old database (and its internal file) to a fresh path, has the child apply one
 * more entry and restore `snapshotPath` there, and returns the path with the checksum the
 * child printed before the restore, for the caller to compare with what reopens.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RestoreStep } from '../../src/state-machine/options.js';

/** Every step a restore can be killed after, and 'none' for a restore that finishes. */
export const restoreSteps: readonly (RestoreStep | 'none')[] = ['staged', 'closed', 'wal-removed', 'renamed', 'none'];

const childScript = new URL('./fixtures/restore-child.ts', import.meta.url).pathname;

export function restoreKilledAfter(
  directory: string,
  oldDatabasePath: string,
  snapshotPath: string,
  step: RestoreStep | 'none',
): { path: string; oldChecksum: { checksum: string; appliedIndex: number } } {
  const path = join(directory, `crash-${step}.sqlite`);
  copyFileSync(oldDatabasePath, path);
  copyFileSync(`${oldDatabasePath}.internal`, `${path}.internal`);
  const child = spawnSync(process.execPath, ['--import', 'tsx', childScript, path, snapshotPath, step], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TZ: 'UTC' },
  });
  assert.equal(child.signal, step === 'none' ? null : 'SIGKILL', `${step}: ${child.stderr}`);
  const oldChecksum = JSON.parse(child.stdout.split('\n')[0] ?? '') as { checksum: string; appliedIndex: number };
  return { path, oldChecksum };
}
