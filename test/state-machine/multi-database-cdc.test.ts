/**
 * Change data capture with several databases: the capture follows the default database
 * only (docs/ARCHITECTURE.md, "Change data capture"). An extra database's entry must not
 * report its rows as the default database's, nor replace what the default recorded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ChangeCapture, type CapturedEntry } from '../../src/state-machine/change-capture.js';
import { encodeCatalogEntry, encodeTargetedEntry } from '../../src/state-machine/database-entries.js';
import { MultiDatabaseMachine } from '../../src/state-machine/multi-database-machine.js';
import { entry, temporaryDirectory } from './helpers.js';

test('with several databases, only the default database’s rows are captured, each at its own index', () => {
  const directory = temporaryDirectory('cdc-several-databases');
  const recorded = new Map<number, CapturedEntry>();
  /** Every change ever handed to the sink, also those a later record replaced. */
  const everRecorded: string[] = [];
  const capture = new ChangeCapture(
    { tableFilter: undefined, rowIdsOnly: false, entryChangeCountMax: 100_000 },
    {
      record(firstIndex, lastIndex, entries) {
        for (let index = firstIndex; index <= lastIndex; index++) recorded.delete(index);
        for (const captured of entries) recorded.set(captured.index, captured);
        for (const captured of entries) everRecorded.push(...captured.changes.map((change) => change.table));
      },
    },
  );
  const machine = new MultiDatabaseMachine({ path: join(directory.path, 'db.sqlite'), databaseCountMax: 4, changeCapture: capture });
  try {
    const entries = [
      encodeCatalogEntry('create', 'b'),
      entry(['CREATE TABLE t(v)', "INSERT INTO t VALUES ('main')"]),
      encodeTargetedEntry('b', entry(['CREATE TABLE u(v)', "INSERT INTO u VALUES ('b')"])),
      entry(["INSERT INTO t VALUES ('main2')"]),
    ];
    for (const [position, data] of entries.entries()) machine.apply(position + 1, data);
    const tables = [...recorded.values()].flatMap((captured) => captured.changes.map((change) => `${captured.index}:${change.table}:${change.after}`));
    assert.deepEqual(tables, ['2:t:{"v":"main"}', '4:t:{"v":"main2"}']);
    assert.deepEqual(everRecorded, ['t', 't'], 'no change of database b reached the sink, not even for a moment');
  } finally {
    machine.close();
    directory.cleanup();
  }
});
