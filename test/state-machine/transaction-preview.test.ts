/**
 * Interactive transactions in the state machine: a preview never writes a WAL frame (even
 * a transaction larger than the page cache), never changes what an applied entry sees of
 * its connection, and is rolled back; the commit entry applies on two machines alike, and
 * a commit whose recorded result no longer holds is rolled back with the conflict result
 * on both; a retried "missing" commit answers the first commit's result through the dedup
 * table; a read-only statement is not replayed while no other connection committed.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeCommand } from '../../src/state-machine/command-codec.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import type { PreviewedStatement, PreviewTransaction } from '../../src/state-machine/transaction-preview.js';
import { transactionConflictCode, transactionMissingCode } from '../../src/state-machine/transaction-replay.js';
import type { Statement } from '../../src/state-machine/types.js';
import { entry, statement, temporaryDirectory } from './helpers.js';

interface Held {
  transaction: PreviewTransaction;
}

function open(): Held {
  return { transaction: { timestampMs: 1_700_000_000_000, seed: 7n, statements: [], seen: null } };
}

function preview(machine: SqliteStateMachine, held: Held, statements: readonly Statement[]) {
  const outcome = machine.previewTransaction(held.transaction, statements, false);
  if (outcome.kind === 'ran') {
    held.transaction = { ...held.transaction, statements: [...held.transaction.statements, ...outcome.statements], seen: outcome.seen };
  }
  return outcome;
}

function commitEntry(held: Held, requestId: string): Uint8Array {
  const statements: readonly PreviewedStatement[] = held.transaction.statements;
  return encodeCommand({
    statements: statements.map((previewed) => previewed.statement),
    transaction: true,
    timestampMs: 1_700_000_000_500,
    seed: held.transaction.seed,
    requestId,
    interactive: { timestampMs: held.transaction.timestampMs, resultHashes: statements.map((previewed) => previewed.resultHash), missing: false },
  });
}

describe('transaction previews and commits', () => {
  const directory = temporaryDirectory('transactions');
  let first: SqliteStateMachine;
  let second: SqliteStateMachine;
  let index = 0;
  const applyBoth = (data: Uint8Array) => {
    index += 1;
    const outcomes = [first.apply(index, data), second.apply(index, data)];
    assert.deepEqual(outcomes[0]?.results, outcomes[1]?.results, 'both machines answer alike');
    return outcomes[0];
  };

  before(() => {
    first = new SqliteStateMachine({ path: join(directory.path, 'first.sqlite') });
    second = new SqliteStateMachine({ path: join(directory.path, 'second.sqlite') });
    applyBoth(entry(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', "INSERT INTO t VALUES (1, 'one')"]));
  });
  after(() => {
    first.close();
    second.close();
    directory.cleanup();
  });

  it('writes no WAL frame, even past the page cache, and leaves applied entries their own connection values', () => {
    const walPath = `${first.path}-wal`;
    const walBytesBefore = statSync(walPath).size;
    const held = open();
    const insertBig = preview(first, held, [
      statement("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000) INSERT INTO t (v) SELECT printf('%.5000c', 'x') FROM n"),
    ]);
    assert.equal(insertBig.kind, 'ran');
    assert.equal(statSync(walPath).size, walBytesBefore, 'a 30 MB preview (past the 16 MB page cache) left the WAL as it was');
    assert.deepEqual(first.query([statement('SELECT count(*) FROM t')])[0], { kind: 'rows', columns: ['count(*)'], types: ['integer'], rows: [[1]] });
    const applied = applyBoth(entry(['UPDATE t SET v = v WHERE id = 1']));
    assert.deepEqual(applied?.results, [{ kind: 'write', lastInsertId: 0, rowsAffected: 1 }]);
  });

  it('applies a commit on every machine alike, and rolls back with the conflict result when a result changed', () => {
    const held = open();
    const read = preview(first, held, [statement('SELECT v FROM t WHERE id = 1'), statement("INSERT INTO t (v) VALUES ('two' || random())")]);
    assert.equal(read.kind, 'ran');
    const committed = applyBoth(commitEntry(held, 'commit-1'));
    assert.deepEqual(committed?.results, []);
    assert.deepEqual(first.checksum().checksum, second.checksum().checksum);

    const stale = open();
    assert.equal(preview(first, stale, [statement('SELECT v FROM t WHERE id = 1'), statement("UPDATE t SET v = 'three' WHERE id = 1")]).kind, 'ran');
    applyBoth(entry(["UPDATE t SET v = 'changed' WHERE id = 1"]));
    const conflict = applyBoth(commitEntry(stale, 'commit-2'));
    assert.equal(conflict?.results.length, 1);
    assert.equal(conflict?.results[0]?.kind === 'error' ? conflict.results[0].sqliteCode : undefined, transactionConflictCode);
    assert.deepEqual(first.query([statement('SELECT v FROM t WHERE id = 1')])[0], { kind: 'rows', columns: ['v'], types: ['text'], rows: [['changed']] });
    assert.equal(preview(first, stale, [statement('SELECT 1')]).kind, 'conflict', 'the next preview sees the change too');
  });

  it('answers a retried "missing" commit from the dedup table, and records a never-applied one as missing', () => {
    const missing = (requestId: string) =>
      encodeCommand({
        statements: [],
        transaction: true,
        timestampMs: 1_700_000_001_000,
        seed: 0n,
        requestId,
        interactive: { timestampMs: 0, resultHashes: [], missing: true },
      });
    const repeated = applyBoth(missing('commit-1'));
    assert.deepEqual(repeated?.results, []);
    assert.equal(repeated?.deduplicated, true);
    const never = applyBoth(missing('commit-never'));
    assert.equal(never?.results[0]?.kind === 'error' ? never.results[0].sqliteCode : undefined, transactionMissingCode);
  });

  it('skips a read-only statement while the database is unchanged, and replays it once another connection committed', () => {
    const held = open();
    preview(first, held, [statement('SELECT count(*) FROM t')]);
    const seenBefore = held.transaction.seen;
    preview(first, held, [statement('SELECT 1')]);
    assert.deepEqual(held.transaction.seen, seenBefore, 'no commit in between: the same data_version');
    applyBoth(entry(["INSERT INTO t (v) VALUES ('four')"]));
    assert.equal(preview(first, held, [statement('SELECT 2')]).kind, 'conflict', 'the count changed: replayed and found different');
  });
});
