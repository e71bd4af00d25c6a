/**
 * Queued batches (`?queue`): one entry carries many clients' requests. Each request keeps
 * its own `transaction` and idempotency key; the batch's own `transaction`
 * (-write-queue-tx) makes the whole batch one transaction; the batch's id makes a batch
 * sent again apply once. Applied alone and inside applyBatch alike, and the codec
 * round-trips and bounds batches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { commandLimits, decodeCommand, encodeCommand } from '../../src/state-machine/command-codec.js';
import { StateMachineError } from '../../src/state-machine/errors.js';
import { decodeMaintenanceCommand, encodeMaintenanceCommand, isMaintenanceCommand } from '../../src/state-machine/maintenance.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import type { Command, QueuedRequest } from '../../src/state-machine/types.js';
import { entry, statement, temporaryDirectory } from './helpers.js';

function request(sqls: readonly string[], options: { transaction?: boolean; requestId?: string } = {}): QueuedRequest {
  return {
    statements: sqls.map((sql) => statement(sql)),
    transaction: options.transaction ?? false,
    ...(options.requestId === undefined ? {} : { requestId: options.requestId }),
  };
}

function batch(requests: readonly QueuedRequest[], options: { transaction?: boolean; id?: string; timestampMs?: number } = {}): Command {
  return {
    statements: [],
    queued: requests,
    transaction: options.transaction ?? false,
    timestampMs: options.timestampMs ?? 1_700_000_000_000,
    seed: 7n,
    requestId: options.id ?? 'queue n1 0 1',
  };
}

function withMachine(label: string, body: (machine: SqliteStateMachine) => void): void {
  const directory = temporaryDirectory(label);
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    machine.apply(1, entry(['CREATE TABLE t (v TEXT UNIQUE)']));
    body(machine);
  } finally {
    machine.close();
    directory.cleanup();
  }
}

function values(machine: SqliteStateMachine): string[] {
  const [result] = machine.query([statement('SELECT v FROM t ORDER BY rowid')]);
  assert.equal(result?.kind, 'rows');
  return result.kind === 'rows' ? result.rows.map((row) => String(row[0])) : [];
}

test('a queued batch round-trips through the codec, each request with its own flags and key', () => {
  const command = batch([request(['INSERT INTO t VALUES (1)'], { transaction: true, requestId: 'key-1' }), request([]), request(['SELECT 1', 'SELECT 2'])], {
    transaction: true,
  });
  const decoded = decodeCommand(encodeCommand(command));
  assert.deepEqual(decoded.statements, []);
  assert.equal(decoded.transaction, true);
  assert.equal(decoded.requestId, 'queue n1 0 1');
  assert.deepEqual(
    decoded.queued?.map((queued) => ({ sqls: queued.statements.map((item) => item.sql), transaction: queued.transaction, requestId: queued.requestId })),
    [
      { sqls: ['INSERT INTO t VALUES (1)'], transaction: true, requestId: 'key-1' },
      { sqls: [], transaction: false, requestId: undefined },
      { sqls: ['SELECT 1', 'SELECT 2'], transaction: false, requestId: undefined },
    ],
  );
  assert.equal(decodeCommand(encodeCommand(batch([]))).queued?.length, 0);
});

test('a batch is bounded by request count and by statements across its requests, on encode and on decode', () => {
  const tooManyRequests = batch(Array.from({ length: commandLimits.queuedRequestCountMax + 1 }, () => request([])));
  assert.throws(
    () => encodeCommand(tooManyRequests),
    (error: unknown) => error instanceof StateMachineError && error.code === 'COMMAND_TOO_LARGE',
  );
  const half = Array.from({ length: commandLimits.statementCountMax / 2 }, () => 'SELECT 1');
  assert.doesNotThrow(() => encodeCommand(batch([request(half), request(half)])), 'exactly statementCountMax across the batch');
  assert.throws(
    () => encodeCommand(batch([request(half), request([...half, 'SELECT 1'])])),
    (error: unknown) => error instanceof StateMachineError && error.code === 'COMMAND_TOO_LARGE',
  );
  // A forged entry past the bound: the second request's count is checked against what the first left.
  const forged = encodeCommand(batch([request(half), request(half)]));
  new DataView(forged.buffer, forged.byteOffset, forged.byteLength).setUint32(findLastCount(forged, half.length), half.length + 1, true);
  assert.throws(
    () => decodeCommand(forged),
    (error: unknown) => error instanceof StateMachineError && error.code === 'BAD_COMMAND' && /more than the bound 5000/.test(error.message),
  );
  // Unknown flags on a request inside a batch are refused like a command's.
  const flagged = encodeCommand(batch([request([], { requestId: 'r' })]));
  const requestFlagsOffset = flagged.length - 4 - 4 - 1 - 1; // after it: u32 id length, 'r', u32 statement count
  assert.equal(flagged[requestFlagsOffset], 2);
  flagged[requestFlagsOffset] = 0x82;
  assert.throws(
    () => decodeCommand(flagged),
    (error: unknown) => error instanceof StateMachineError && /unknown queued request flags/.test(error.message),
  );
});

/**
 * A plain command's bytes written by hand, as builds before queued batches wrote them
 * (magic 'Q', version 1, flags, i64 time, u64 seed, one statement without parameters):
 * entries already in a log must decode the same.
 */
function handWrittenCommand(flags: number, sql: string): Uint8Array {
  const sqlBytes = Buffer.from(sql, 'utf8');
  const bytes = new Uint8Array(3 + 8 + 8 + 4 + 4 + sqlBytes.length + 4 + 4);
  const view = new DataView(bytes.buffer);
  bytes.set([0x51, 1, flags]);
  view.setBigInt64(3, 1_700_000_000_000n, true);
  view.setBigUint64(11, 9n, true);
  view.setUint32(19, 1, true);
  view.setUint32(23, sqlBytes.length, true);
  bytes.set(sqlBytes, 27);
  return bytes;
}

test('the three kinds of entry stay apart: a plain command (qualify columns is flag 4), a queued batch (flag 8), a maintenance entry (its own magic)', () => {
  // Entries of each kind as earlier builds wrote them still decode as that kind.
  const plain = decodeCommand(handWrittenCommand(0, 'SELECT 1'));
  assert.deepEqual([plain.statements.map((item) => item.sql), plain.qualifyColumns, plain.queued], [['SELECT 1'], undefined, undefined]);
  const qualified = decodeCommand(handWrittenCommand(4, 'SELECT * FROM t'));
  assert.deepEqual([qualified.statements.map((item) => item.sql), qualified.qualifyColumns, qualified.queued], [['SELECT * FROM t'], true, undefined]);
  const maintenance = encodeMaintenanceCommand({ kind: 'optimize', timestampMs: 5 });
  assert.equal(isMaintenanceCommand(maintenance), true);
  assert.deepEqual(decodeMaintenanceCommand(maintenance), { kind: 'optimize', timestampMs: 5 });
  assert.throws(
    () => decodeCommand(maintenance),
    (error: unknown) => error instanceof StateMachineError && /not a quorumlite command/.test(error.message),
  );
  // A batch carries flag 8 (with 2: its id), never 4; neither a command nor a batch looks like maintenance.
  const queued = encodeCommand(batch([request(['INSERT INTO t VALUES (1)'])]));
  assert.equal(queued[2], 8 | 2);
  assert.equal(encodeCommand({ ...plain, qualifyColumns: true })[2], 4);
  assert.equal(isMaintenanceCommand(queued) || isMaintenanceCommand(handWrittenCommand(4, 'SELECT 1')), false);
  assert.equal(decodeCommand(queued).qualifyColumns, undefined);
  // A batch returns no rows to qualify: the pair is refused both ways.
  assert.throws(
    () => encodeCommand({ ...batch([]), qualifyColumns: true }),
    (error: unknown) => error instanceof StateMachineError && error.code === 'INVALID_VALUE',
  );
  const both = encodeCommand(batch([]));
  both[2] = (both[2] ?? 0) | 4;
  assert.throws(
    () => decodeCommand(both),
    (error: unknown) => error instanceof StateMachineError && error.code === 'BAD_COMMAND' && /queued batch with qualified columns/.test(error.message),
  );
});

/** The offset of the last little-endian u32 equal to `count` (the second request's statement count). */
function findLastCount(bytes: Uint8Array, count: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let offset = bytes.length - 4; offset >= 0; offset--) if (view.getUint32(offset, true) === count) return offset;
  throw new Error('count not found');
}

test('without the batch transaction each request keeps its own: a failing transaction request undoes only itself', () => {
  withMachine('queued-own', (machine) => {
    const outcome = machine.apply(
      2,
      encodeCommand(
        batch([
          request(["INSERT INTO t VALUES ('a')", "INSERT INTO t VALUES ('a')", "INSERT INTO t VALUES ('b')"]),
          request(["INSERT INTO t VALUES ('c')", "INSERT INTO t VALUES ('b')", "INSERT INTO t VALUES ('d')"], { transaction: true }),
          request(["INSERT INTO t VALUES ('e')"]),
        ]),
      ),
    );
    assert.deepEqual(outcome.results, [], 'queued writes report no results');
    assert.equal(outcome.deduplicated, false);
    assert.deepEqual(values(machine), ['a', 'b', 'e'], "the first request's error skips one statement; the transaction request is undone whole");
  });
});

test('with the batch transaction (-write-queue-tx) one failing statement undoes every request of the batch', () => {
  withMachine('queued-tx', (machine) => {
    machine.apply(
      2,
      encodeCommand(batch([request(["INSERT INTO t VALUES ('a')"]), request(["INSERT INTO t VALUES ('b')"])], { transaction: true, id: 'q 1' })),
    );
    assert.deepEqual(values(machine), ['a', 'b']);
    machine.apply(
      3,
      encodeCommand(
        batch(
          [request(["INSERT INTO t VALUES ('c')"], { requestId: 'k-c' }), request(["INSERT INTO t VALUES ('a')"]), request(["INSERT INTO t VALUES ('d')"])],
          {
            transaction: true,
            id: 'q 2',
          },
        ),
      ),
    );
    assert.deepEqual(values(machine), ['a', 'b'], 'nothing of the failed batch applied');
    // Its keyed request was not recorded either: sent again, it applies.
    machine.apply(4, encodeCommand(batch([request(["INSERT INTO t VALUES ('c')"], { requestId: 'k-c' })], { id: 'q 3' })));
    assert.deepEqual(values(machine), ['a', 'b', 'c']);
  });
});

test('a batch sent again under its id applies once; keyed requests apply once across and within batches', () => {
  withMachine('queued-dedup', (machine) => {
    const first = batch([request(["INSERT INTO t VALUES ('a')"]), request(["INSERT INTO t VALUES ('k')"], { requestId: 'client-key' })], {
      id: 'queue n1 9 100',
    });
    assert.equal(machine.apply(2, encodeCommand(first)).deduplicated, false);
    // The same batch again (its first send's answer was lost): a later leader clock, a new seed, the same id.
    const again = machine.apply(3, encodeCommand({ ...first, timestampMs: first.timestampMs + 5_000, seed: 99n }));
    assert.equal(again.deduplicated, true);
    assert.deepEqual(values(machine), ['a', 'k']);
    // Another batch repeating the client's key, twice: skipped; the rest of the batch applies.
    machine.apply(
      4,
      encodeCommand(
        batch(
          [
            request(["INSERT INTO t VALUES ('k2')"], { requestId: 'client-key' }),
            request(["INSERT INTO t VALUES ('b')"]),
            request(["INSERT INTO t VALUES ('x')"], { requestId: 'fresh' }),
            request(["INSERT INTO t VALUES ('x2')"], { requestId: 'fresh' }),
          ],
          { id: 'queue n1 9 200' },
        ),
      ),
    );
    assert.deepEqual(values(machine), ['a', 'k', 'b', 'x']);
  });
});

test('queued batches inside applyBatch give the same database as applied one by one', () => {
  const entries = [
    encodeCommand(
      batch([request(["INSERT INTO t VALUES ('a')"]), request(["INSERT INTO t VALUES ('a')", "INSERT INTO t VALUES ('b')"], { transaction: true })], {
        id: 'q 1',
      }),
    ),
    entry(["INSERT INTO t VALUES ('c')"]),
    encodeCommand(batch([request(["INSERT INTO t VALUES ('d')"]), request(["INSERT INTO t VALUES ('c')"])], { transaction: true, id: 'q 2' })),
    encodeCommand(
      batch([request(["INSERT INTO t VALUES ('e')"], { requestId: 'e' }), request(["INSERT INTO t VALUES ('f')"], { requestId: 'e' })], { id: 'q 3' }),
    ),
    encodeCommand(batch([request(["INSERT INTO t VALUES ('g')"])], { id: 'q 1' })),
  ];
  const one: string[][] = [];
  for (const mode of ['single', 'batched'] as const) {
    withMachine(`queued-${mode}`, (machine) => {
      if (mode === 'single') {
        for (const [position, data] of entries.entries()) machine.apply(position + 2, data);
      } else {
        machine.applyBatch(entries.map((data, position) => ({ index: position + 2, data })));
      }
      one.push(values(machine));
    });
  }
  assert.deepEqual(one[0], ['a', 'c', 'e']);
  assert.deepEqual(one[1], one[0]);
});

/**
 * The requests' records live in the internal store, a file of its own that the database's
 * savepoints and ROLLBACK cannot undo: a request undone with its batch must leave no record,
 * or the same key sent again would be answered as applied while nothing of it is stored.
 */
test('a request undone with its one-transaction batch leaves no record: the same key sent again applies', () => {
  withMachine('queued-undone-record', (machine) => {
    const failing = batch([request(["INSERT INTO t VALUES ('k1')"], { requestId: 'k1' }), request(["INSERT INTO t VALUES ('k1')"])], {
      transaction: true,
      id: 'queue n1 0 2',
    });
    machine.apply(2, encodeCommand(failing));
    assert.deepEqual(values(machine), [], 'the batch failed whole');
    machine.apply(3, encodeCommand(batch([request(["INSERT INTO t VALUES ('again')"], { requestId: 'k1' })], { id: 'queue n1 0 3' })));
    assert.deepEqual(values(machine), ['again'], 'k1 was not recorded by the undone batch');
  });
});

test('a ROLLBACK conflict that ends the entry undoes the earlier requests of the batch and their records', () => {
  // Only a legacy schema (made outside quorumlite, which refuses ROLLBACK conflict resolution) can do it.
  const directory = temporaryDirectory('queued-rollback-record');
  const path = join(directory.path, 'db.sqlite');
  const legacy = new Database(path);
  legacy.exec('CREATE TABLE r(a UNIQUE ON CONFLICT ROLLBACK); CREATE TABLE t (v TEXT UNIQUE)');
  legacy.close();
  const machine = new SqliteStateMachine({ path });
  try {
    machine.apply(1, entry(['INSERT INTO r VALUES (1)']));
    const rolledBack = batch([request(["INSERT INTO t VALUES ('first')"], { requestId: 'k2' }), request(['INSERT INTO r VALUES (1)'])], {
      id: 'queue n1 0 4',
    });
    machine.apply(2, encodeCommand(rolledBack));
    assert.deepEqual(values(machine), [], "the ROLLBACK undid the first request's insert");
    machine.apply(3, encodeCommand(batch([request(["INSERT INTO t VALUES ('first')"], { requestId: 'k2' })], { id: 'queue n1 0 5' })));
    assert.deepEqual(values(machine), ['first'], 'k2 was not recorded, so it applies now');
  } finally {
    machine.close();
    directory.cleanup();
  }
});
