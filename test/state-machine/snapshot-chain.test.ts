/**
 * Snapshots that cost what changed (snapshot-capture.ts): a base, then deltas of WAL
 * frames; a chain materialises into one self-contained file that restores to exactly the
 * state (content, applied index, dedup state) at its newest index, through restarts,
 * VACUUM, readers that hold the WAL, and a WAL someone else checkpointed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { encodeMaintenanceCommand } from '../../src/state-machine/maintenance.js';
import type { CapturedSnapshot } from '../../src/state-machine/snapshot-capture.js';
import type { SnapshotChain } from '../../src/state-machine/snapshot-chains.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { entry, statement, temporaryDirectory } from './helpers.js';
import { restoreKilledAfter, restoreSteps } from './restore-crash.js';

interface Captured extends CapturedSnapshot {
  readonly dataPath: string;
  readonly internalPath: string;
  /** The source's checksum when it was captured. */
  readonly checksum: string;
}

/** Captures into `directory/<label>.data` and `.internal`, given the previous capture's proof. */
async function capture(machine: SqliteStateMachine, directory: string, label: string, previous: Captured | undefined): Promise<Captured> {
  const target = { dataPath: join(directory, `${label}.data`), internalPath: join(directory, `${label}.internal`) };
  const captured = await machine.captureSnapshot(target, previous?.proof);
  return { ...captured, ...target, checksum: machine.checksum().checksum };
}

function chainOf(links: readonly Captured[]): SnapshotChain {
  const [root, ...deltas] = links;
  assert.ok(root !== undefined);
  return {
    root: { dataPath: root.dataPath, index: root.appliedIndex },
    deltas: deltas.map((delta) => ({ dataPath: delta.dataPath, index: delta.appliedIndex })),
    internalPath: links.at(-1)?.internalPath,
  };
}

function write(machine: SqliteStateMachine, count: number, bodyBytes = 64, requestPrefix?: string): void {
  for (let written = 0; written < count; written++) {
    const index = machine.appliedIndex + 1;
    const sql = index === 1 ? ['CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)'] : [];
    const options = requestPrefix === undefined ? {} : { requestId: `${requestPrefix}:${index}`, timestampMs: 1_700_000_000_000 + index };
    machine.apply(index, entry([...sql, statement('INSERT INTO t(body) VALUES (?)', `${index}-${'x'.repeat(bodyBytes)}`)], options));
  }
}

/** Restores `chain` into a fresh machine and checks it against what was captured. */
async function assertRestores(directory: string, chain: SnapshotChain, expected: Captured, label: string): Promise<void> {
  const target = new SqliteStateMachine({ path: join(directory, `${label}-restored.sqlite`) });
  try {
    const restored = await target.restore(chain);
    assert.equal(restored.appliedIndex, expected.appliedIndex, label);
    assert.equal(target.checksum().checksum, expected.checksum, `${label}: the content at ${expected.appliedIndex}`);
    assert.deepEqual(target.query([statement('PRAGMA integrity_check')])[0], { kind: 'rows', columns: ['integrity_check'], types: ['text'], rows: [['ok']] });
  } finally {
    target.close();
  }
}

test('a base then deltas: each delta holds only the pages that changed, and every chain restores its own index', async () => {
  const directory = temporaryDirectory('chain');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    write(machine, 400, 4000);
    const base = await capture(machine, directory.path, 'base', undefined);
    assert.equal(base.format, 'base');
    assert.ok(base.dataBytes >= 400 * 4000, `a base is the whole database (${base.dataBytes} bytes)`);
    write(machine, 10);
    const first = await capture(machine, directory.path, 'first', base);
    assert.equal(first.format, 'delta');
    assert.equal(first.appliedIndex, 410);
    assert.ok(first.dataBytes < 24 * 1024, `a delta of 10 small writes holds each changed page once: ${first.dataBytes} bytes`);
    assert.ok(statSync(`${join(directory.path, 'db.sqlite')}-wal`).size < 16 * 1024, 'the live WAL started again');
    write(machine, 5, 64, 'client');
    const second = await capture(machine, directory.path, 'second', first);
    assert.equal(second.format, 'delta');
    await assertRestores(directory.path, chainOf([base]), base, 'base');
    await assertRestores(directory.path, chainOf([base, first]), first, 'first');
    await assertRestores(directory.path, chainOf([base, first, second]), second, 'second');
    const materialised = join(directory.path, 'whole.db');
    assert.equal(await machine.materialiseSnapshot(chainOf([base, first, second]), materialised), second.appliedIndex);
    const whole = new Database(materialised, { readonly: true });
    assert.equal(whole.pragma('journal_mode', { simple: true }), 'delete', 'one self-contained file, as the old format');
    assert.equal(whole.prepare('SELECT count(*) FROM _quorumlite_requests').pluck().get(), 5, 'the dedup table at its index');
    whole.close();
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('deltas continue across a restart; VACUUM, a reader holding the WAL, and a foreign checkpoint keep every chain exact', async () => {
  const directory = temporaryDirectory('chain-events');
  const path = join(directory.path, 'db.sqlite');
  let machine = new SqliteStateMachine({ path });
  try {
    write(machine, 50, 500);
    const links: Captured[] = [await capture(machine, directory.path, 'base', undefined)];
    write(machine, 5);
    machine.close();
    machine = new SqliteStateMachine({ path });
    write(machine, 5);
    links.push(await capture(machine, directory.path, 'after-restart', links.at(-1)));
    assert.equal(links.at(-1)?.format, 'delta', 'a clean restart keeps the WAL whole');
    machine.apply(machine.appliedIndex + 1, encodeMaintenanceCommand({ kind: 'vacuum', timestampMs: 1_700_000_000_000 }));
    write(machine, 3);
    links.push(await capture(machine, directory.path, 'after-vacuum', links.at(-1)));
    // A reader in a read transaction keeps the checkpoint from starting the WAL again: the next delta repeats frames.
    const reader = new Database(path, { readonly: true });
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM t').get();
    write(machine, 4);
    links.push(await capture(machine, directory.path, 'reader-held', links.at(-1)));
    write(machine, 4);
    reader.exec('COMMIT');
    reader.close();
    links.push(await capture(machine, directory.path, 'after-reader', links.at(-1)));
    assert.deepEqual(
      links.map((link) => link.format),
      ['base', 'delta', 'delta', 'delta', 'delta'],
    );
    for (let length = 1; length <= links.length; length++) {
      const chain = links.slice(0, length);
      await assertRestores(directory.path, chainOf(chain), chain.at(-1) as Captured, `chain-${length}`);
    }
    // Someone else checkpoints the WAL (and so starts it again): the chain cannot go on; the next capture is a base.
    write(machine, 2);
    const foreign = new Database(path);
    foreign.pragma('wal_checkpoint(TRUNCATE)');
    foreign.exec('BEGIN IMMEDIATE; PRAGMA user_version = 0; COMMIT');
    foreign.close();
    const rebased = await capture(machine, directory.path, 'rebased', links.at(-1));
    assert.equal(rebased.format, 'base');
    await assertRestores(directory.path, chainOf([rebased]), rebased, 'rebased');
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a restored self-contained file can root a chain: the next capture is a delta on it', async () => {
  const directory = temporaryDirectory('chain-root');
  const source = new SqliteStateMachine({ path: join(directory.path, 'source.sqlite') });
  const follower = new SqliteStateMachine({ path: join(directory.path, 'follower.sqlite') });
  try {
    write(source, 30, 300, 'client');
    const whole = join(directory.path, 'whole.db');
    await source.snapshot(whole);
    const restored = await follower.restore(whole);
    assert.equal(typeof restored.proof, 'string');
    const root: Captured = {
      appliedIndex: restored.appliedIndex,
      format: 'base',
      proof: restored.proof as string,
      dataBytes: restored.bytes,
      eventLoopMs: 0,
      dataPath: whole,
      internalPath: '',
      checksum: follower.checksum().checksum,
    };
    write(follower, 6);
    const delta = await capture(follower, directory.path, 'delta', root);
    assert.equal(delta.format, 'delta');
    const chain: SnapshotChain = {
      root: { dataPath: whole, index: root.appliedIndex },
      deltas: [{ dataPath: delta.dataPath, index: delta.appliedIndex }],
      internalPath: delta.internalPath,
    };
    await assertRestores(directory.path, chain, delta, 'on-received');
  } finally {
    source.close();
    follower.close();
    directory.cleanup();
  }
});

test('a process killed at each step of a restore from a chain leaves the old or the new database', async () => {
  const directory = temporaryDirectory('chain-restore-crash');
  try {
    const source = new SqliteStateMachine({ path: join(directory.path, 'source.sqlite') });
    write(source, 30, 500, 'client');
    const base = await capture(source, directory.path, 'base', undefined);
    write(source, 6, 64, 'later');
    const delta = await capture(source, directory.path, 'delta', base);
    source.close();
    const chainPath = join(directory.path, 'restore.chain.json');
    writeFileSync(chainPath, JSON.stringify(chainOf([base, delta])));
    const old = new SqliteStateMachine({ path: join(directory.path, 'old.sqlite') });
    old.apply(1, entry(['CREATE TABLE t(id INTEGER PRIMARY KEY, v)']));
    old.close();
    for (const step of restoreSteps) {
      const { path, oldChecksum } = restoreKilledAfter(directory.path, join(directory.path, 'old.sqlite'), chainPath, step);
      const reopened = new SqliteStateMachine({ path });
      try {
        const expectNew = step === 'renamed' || step === 'none';
        const after = reopened.checksum();
        assert.deepEqual(
          { checksum: after.checksum, appliedIndex: after.appliedIndex },
          expectNew ? { checksum: delta.checksum, appliedIndex: delta.appliedIndex } : oldChecksum,
          `killed after ${step}`,
        );
        assert.equal(existsSync(`${path}.restore`), false, 'the staging copy is cleaned up');
      } finally {
        reopened.close();
      }
    }
  } finally {
    directory.cleanup();
  }
});
