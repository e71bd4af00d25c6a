/**
 * A process killed after each step of a snapshot capture (snapshot-capture.ts) that
 * touches the live files: the database reopens at the same index with the same content
 * and dedup state, and the next capture (given the proof of the last snapshot the store
 * would hold) is a delta if the WAL still holds everything since it, a base otherwise;
 * either way the chain restores exactly the live state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SnapshotStep } from '../../src/state-machine/options.js';
import type { CapturedSnapshot } from '../../src/state-machine/snapshot-capture.js';
import type { SnapshotChain } from '../../src/state-machine/snapshot-chains.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { applyThrough, captureEntry } from './fixtures/capture-entries.js';
import { temporaryDirectory } from './helpers.js';

const childScript = new URL('./fixtures/capture-crash-child.ts', import.meta.url).pathname;
const databaseFiles = ['', '-wal', '.internal', '.internal-wal'];

function copyDatabase(fromPath: string, toPath: string): void {
  for (const suffix of databaseFiles) if (existsSync(`${fromPath}${suffix}`)) copyFileSync(`${fromPath}${suffix}`, `${toPath}${suffix}`);
}

function reference(directory: string, lastIndex: number): { checksum: string; remembered: number } {
  const machine = new SqliteStateMachine({ path: join(directory, `reference-${lastIndex}.sqlite`) });
  try {
    applyThrough(machine, lastIndex);
    return { checksum: machine.checksum().checksum, remembered: machine.rememberedRequestCount() };
  } finally {
    machine.close();
  }
}

/** Restores `chain` into a fresh machine: its content and dedup state. */
async function restored(directory: string, label: string, chain: SnapshotChain): Promise<{ checksum: string; remembered: number; appliedIndex: number }> {
  const machine = new SqliteStateMachine({ path: join(directory, `${label}-restored.sqlite`) });
  try {
    const { appliedIndex } = await machine.restore(chain);
    return { checksum: machine.checksum().checksum, remembered: machine.rememberedRequestCount(), appliedIndex };
  } finally {
    machine.close();
  }
}

const deltaSteps: readonly (SnapshotStep | 'none')[] = ['delta-copied', 'checkpointed', 'generation-marked', 'exported', 'none'];
const baseSteps: readonly (SnapshotStep | 'none')[] = ['checkpointed', 'generation-marked', 'base-copied', 'exported', 'none'];

test('killed after any step of a capture: the database is intact and the next capture continues or starts the chain again', async () => {
  const directory = temporaryDirectory('capture-crash');
  try {
    const origin = join(directory.path, 'origin.sqlite');
    const machine = new SqliteStateMachine({ path: origin });
    applyThrough(machine, 20);
    const baseTarget = { dataPath: join(directory.path, 'base.data'), internalPath: join(directory.path, 'base.internal') };
    const base = await machine.captureSnapshot(baseTarget, undefined);
    machine.close();
    const expected = reference(directory.path, 26);
    for (const [kind, steps] of [
      ['delta', deltaSteps],
      ['base', baseSteps],
    ] as const) {
      for (const step of steps) {
        const label = `${kind}-${step}`;
        const path = join(directory.path, `${label}.sqlite`);
        copyDatabase(origin, path);
        const proof = kind === 'delta' ? base.proof : '-';
        const child = spawnSync(process.execPath, ['--import', 'tsx', childScript, path, '25', join(directory.path, `${label}-killed`), proof, step], {
          encoding: 'utf8',
          timeout: 60_000,
          env: { ...process.env, TZ: 'UTC' },
        });
        assert.equal(child.signal, step === 'none' ? null : 'SIGKILL', `${label}: ${child.stderr}`);
        const reopened = new SqliteStateMachine({ path });
        try {
          assert.equal(reopened.appliedIndex, 25, label);
          reopened.apply(26, captureEntry(26));
          assert.deepEqual({ checksum: reopened.checksum().checksum, remembered: reopened.rememberedRequestCount() }, expected, `${label}: the live state`);
          // The store holds the base (the killed capture never reached it): the next capture continues from the base's proof.
          const target = { dataPath: join(directory.path, `${label}-next.data`), internalPath: join(directory.path, `${label}-next.internal`) };
          const next: CapturedSnapshot = await reopened.captureSnapshot(target, base.proof);
          const walKept = kind === 'delta' && step === 'delta-copied';
          assert.equal(next.format, walKept ? 'delta' : 'base', `${label}: the WAL ${walKept ? 'still holds' : 'no longer holds'} everything since the base`);
          const chain: SnapshotChain =
            next.format === 'delta'
              ? {
                  root: { dataPath: baseTarget.dataPath, index: base.appliedIndex },
                  deltas: [{ dataPath: target.dataPath, index: 26 }],
                  internalPath: target.internalPath,
                }
              : { root: { dataPath: target.dataPath, index: 26 }, deltas: [], internalPath: target.internalPath };
          assert.deepEqual(await restored(directory.path, label, chain), { ...expected, appliedIndex: 26 }, `${label}: the chain restores the live state`);
        } finally {
          reopened.close();
        }
      }
    }
  } finally {
    directory.cleanup();
  }
});
