/**
 * The determinism contract: three independent state machines, each with its own clock and
 * process seed, fed the same entries, end with equal checksums and return equal results.
 * The same suite with the overrides disabled (test-only modes) must diverge: proof that
 * the suite can fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import type { DeterminismMode } from '../../src/state-machine/options.js';
import { sqliteTimeText } from '../../src/state-machine/deterministic-functions.js';
import type { StatementResult } from '../../src/state-machine/types.js';
import { entry, temporaryDirectory } from './helpers.js';

interface Case {
  readonly name: string;
  readonly schema: readonly string[];
  readonly statements: readonly string[];
}

const cases: readonly Case[] = [
  { name: 'random()', schema: ['CREATE TABLE r(v)'], statements: ['INSERT INTO r VALUES (random())', 'SELECT random(), random()'] },
  { name: 'randomblob(16)', schema: ['CREATE TABLE r(v)'], statements: ['INSERT INTO r VALUES (randomblob(16))', "SELECT hex(randomblob('3'))"] },
  {
    name: "datetime('now')",
    schema: ['CREATE TABLE r(v)'],
    statements: ["INSERT INTO r VALUES (datetime('now')), (datetime('NOW', 'start of month', '+1 month', 'localtime'))"],
  },
  {
    name: "strftime('%s','now')",
    schema: ['CREATE TABLE r(v)'],
    statements: ["INSERT INTO r VALUES (strftime('%s','now')), (strftime('%Y-%m-%d %H:%M:%f')), (strftime('%s'))"],
  },
  { name: "julianday('now')", schema: ['CREATE TABLE r(v)'], statements: ["INSERT INTO r VALUES (julianday('now')), (julianday())"] },
  { name: 'unixepoch()', schema: ['CREATE TABLE r(v)'], statements: ["INSERT INTO r VALUES (unixepoch()), (unixepoch('now', 'subsec')), (date()), (time())"] },
  { name: 'timediff with now', schema: ['CREATE TABLE r(v)'], statements: ["INSERT INTO r VALUES (timediff('now', '2000-01-01'))"] },
  {
    name: 'CURRENT_TIMESTAMP as a column default',
    schema: [
      'CREATE TABLE r(id INTEGER PRIMARY KEY, at TEXT DEFAULT CURRENT_TIMESTAMP, day DEFAULT CURRENT_DATE, ' +
        'clock DEFAULT CURRENT_TIME, noise DEFAULT (random()))',
    ],
    statements: ['INSERT INTO r(id) VALUES (NULL)', 'INSERT INTO r DEFAULT VALUES'],
  },
  {
    name: "a trigger that writes random() and datetime('now')",
    schema: [
      'CREATE TABLE r(v)',
      'CREATE TABLE audit(noise, at)',
      "CREATE TRIGGER r_audit AFTER INSERT ON r BEGIN INSERT INTO audit VALUES (random(), datetime('now')); END",
    ],
    statements: ['INSERT INTO r VALUES (1), (2)'],
  },
  {
    name: 'INSERT … SELECT … ORDER BY random() LIMIT 3',
    schema: [
      'CREATE TABLE source(v)',
      'CREATE TABLE picked(v)',
      'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) INSERT INTO source SELECT i FROM n',
    ],
    statements: ['INSERT INTO picked SELECT v FROM source ORDER BY random() LIMIT 3', 'SELECT v FROM source ORDER BY random() LIMIT 2'],
  },
  {
    name: 'RETURNING',
    schema: ['CREATE TABLE r(id INTEGER PRIMARY KEY, v, at)'],
    statements: ['INSERT INTO r(v, at) VALUES (random(), CURRENT_TIMESTAMP) RETURNING id, v, at'],
  },
];

/** Each machine's own "wall clock" and process seed: what an unreplicated SQLite would use. */
const machineClocks = [1_000_000_000_000, 1_300_000_000_000, 1_600_000_000_000];
const machineSeeds = [1n, 2n, 3n];

interface RunOutcome {
  readonly checksums: string[];
  readonly results: (readonly StatementResult[])[][];
}

function runCase(testCase: Case, determinism: DeterminismMode): RunOutcome {
  const directory = temporaryDirectory('determinism');
  const machines = machineClocks.map((clockMs, position) => {
    let now = clockMs;
    return new SqliteStateMachine({
      path: join(directory.path, `node-${position}.sqlite`),
      determinism,
      localClock: () => (now += 1_234),
      localSeed: machineSeeds[position] as bigint,
    });
  });
  try {
    const entries = [
      entry(testCase.schema, { timestampMs: 1_700_000_000_123, seed: 11n }),
      entry(testCase.statements, { timestampMs: 1_700_000_060_456, seed: 12n }),
      entry(testCase.statements, { timestampMs: 1_700_086_400_789, seed: 13n, transaction: true }),
    ];
    const results = machines.map((machine) => entries.map((data, position) => machine.apply(position + 1, data).results));
    return { checksums: machines.map((machine) => machine.checksum().checksum), results };
  } finally {
    for (const machine of machines) machine.close();
    directory.cleanup();
  }
}

for (const testCase of cases) {
  test(`deterministic: ${testCase.name} — equal checksums and results on three machines`, () => {
    const outcome = runCase(testCase, 'entry');
    assert.equal(new Set(outcome.checksums).size, 1, `checksums differ: ${outcome.checksums.join(' ')}`);
    assert.deepEqual(outcome.results[1], outcome.results[0]);
    assert.deepEqual(outcome.results[2], outcome.results[0]);
    for (const results of outcome.results[0] ?? []) {
      for (const result of results) assert.notEqual(result.kind, 'error', result.kind === 'error' ? result.error : '');
    }
  });
}

test("with the overrides replaced by each machine's own clock and seed, every case diverges", () => {
  for (const testCase of cases) {
    const outcome = runCase(testCase, 'local-clock');
    assert.equal(new Set(outcome.checksums).size, 3, `${testCase.name}: expected three different checksums`);
  }
});

test("with SQLite's own functions (no overrides), random cases diverge", () => {
  const randomCases = cases.filter((testCase) => /random|RETURNING|trigger/.test(testCase.name));
  assert.ok(randomCases.length >= 4);
  for (const testCase of randomCases) {
    const outcome = runCase(testCase, 'sqlite-builtin');
    assert.equal(new Set(outcome.checksums).size, 3, `${testCase.name}: expected three different checksums`);
  }
});

test("'now' and the CURRENT_* keywords answer the entry's timestamp, to the millisecond", () => {
  const directory = temporaryDirectory('now');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const timestampMs = 1_700_000_000_123;
    const outcome = machine.apply(
      1,
      entry(
        [
          "SELECT datetime('now'), CURRENT_TIMESTAMP, CURRENT_DATE, CURRENT_TIME, unixepoch('now', 'subsec'), " +
            "strftime('%Y-%m-%d %H:%M:%f', 'now'), datetime(0, 'unixepoch'), datetime('now', 'unixepoch')",
        ],
        { timestampMs },
      ),
    );
    assert.equal(sqliteTimeText(timestampMs), '2023-11-14 22:13:20.123');
    assert.deepEqual(outcome.results[0], {
      kind: 'rows',
      columns: [
        "datetime('now')",
        'CURRENT_TIMESTAMP',
        'CURRENT_DATE',
        'CURRENT_TIME',
        "unixepoch('now', 'subsec')",
        "strftime('%Y-%m-%d %H:%M:%f', 'now')",
        "datetime(0, 'unixepoch')",
        "datetime('now', 'unixepoch')",
      ],
      types: ['text', 'text', 'text', 'text', 'real', 'text', 'text', ''],
      rows: [
        ['2023-11-14 22:13:20', '2023-11-14 22:13:20', '2023-11-14', '22:13:20', 1_700_000_000.123, '2023-11-14 22:13:20.123', '1970-01-01 00:00:00', null],
      ],
    });
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('date functions without now keep working in generated columns and expression indexes', () => {
  const directory = temporaryDirectory('generated');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const outcome = machine.apply(
      1,
      entry([
        "CREATE TABLE events(at TEXT, day TEXT AS (date(at)) STORED, weekday AS (strftime('%w', at)))",
        "CREATE INDEX events_by_month ON events(strftime('%Y-%m', at))",
        "INSERT INTO events(at) VALUES ('2024-02-29 10:00:00')",
        "SELECT day, weekday FROM events WHERE strftime('%Y-%m', at) = '2024-02'",
      ]),
    );
    assert.deepEqual(
      outcome.results.map((result) => result.kind),
      ['empty', 'empty', 'write', 'rows'],
    );
    assert.deepEqual((outcome.results[3] as { rows: unknown }).rows, [['2024-02-29', '4']]);
    assert.deepEqual(machine.query([{ sql: 'SELECT day, weekday FROM events', positional: [], named: {} }])[0], {
      kind: 'rows',
      columns: ['day', 'weekday'],
      types: ['text', 'text'],
      rows: [['2024-02-29', '4']],
    });
  } finally {
    machine.close();
    directory.cleanup();
  }
});
