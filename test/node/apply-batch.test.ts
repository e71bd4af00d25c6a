/**
 * Committed entries apply in batches (one SQLite transaction per run of commands):
 * the split at membership changes and at the batch bound, and, end to end, concurrent
 * writes that commit together apply as one batch (on the leader while the next entries
 * are being saved) and each gets its own results.
 */
import { startTestNode } from './start-node.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { executeRequest, statement } from './requests.js';
import { planApplyRuns } from '../../src/node/runtime.js';
import type { Entry } from '../../src/raft/types.js';
import { encodeLoadEntry, type LoadEntry } from '../../src/state-machine/load-entries.js';
import { applyBatchEntryCountMax } from '../../src/state-machine/state-machine.js';
import { waitFor } from '../cluster/harness.js';

const directories: string[] = [];
const saveDelayMs = 5;
const writeSpacingMs = 1;
const context = { signal: new AbortController().signal };

after(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

function command(index: number): Entry {
  return { index, term: 1, type: 'normal', data: new Uint8Array([index % 256]) };
}

function confChange(index: number): Entry {
  return { index, term: 1, type: 'conf-change', data: new Uint8Array([1]) };
}

const indexesOf = (runs: Entry[][]): number[][] => runs.map((run) => run.map((entry) => entry.index));

test('apply runs: membership changes alone, commands in runs of at most the bound, order kept', () => {
  assert.deepEqual(indexesOf(planApplyRuns([], 3)), []);
  const entries = [command(1), command(2), confChange(3), command(4), command(5), command(6), command(7), confChange(8), confChange(9)];
  assert.deepEqual(indexesOf(planApplyRuns(entries, 3)), [[1, 2], [3], [4, 5, 6], [7], [8], [9]]);
  assert.deepEqual(indexesOf(planApplyRuns(entries, 1)), [[1], [2], [3], [4], [5], [6], [7], [8], [9]]);
  assert.throws(() => planApplyRuns(entries, 0), /runEntryCountMax must be >= 1/);
});

test("apply runs: a load's chunks and aborts run together, apart from commands; its commit alone", () => {
  const loadId = 'ab'.repeat(16);
  const load = (index: number, entry: LoadEntry): Entry => ({ index, term: 1, type: 'normal', data: encodeLoadEntry(entry) });
  const chunk = (index: number): Entry => load(index, { kind: 'chunk', loadId, offset: index, data: Uint8Array.of(1) });
  const entries = [
    command(1),
    chunk(2),
    chunk(3),
    chunk(4),
    command(5),
    chunk(6),
    load(7, { kind: 'commit', loadId, totalBytes: 7 }),
    chunk(8),
    load(9, { kind: 'abort', loadId }),
  ];
  assert.deepEqual(indexesOf(planApplyRuns(entries, 2)), [[1], [2, 3], [4], [5], [6], [7], [8, 9]]);
});

test('apply runs at the state machine bound: applyBatchEntryCountMax commands are one run, one more makes two', () => {
  const atBound = Array.from({ length: applyBatchEntryCountMax }, (_, position) => command(position + 1));
  assert.deepEqual(
    planApplyRuns(atBound, applyBatchEntryCountMax).map((run) => run.length),
    [applyBatchEntryCountMax],
  );
  const beyond = [...atBound, command(applyBatchEntryCountMax + 1)];
  assert.deepEqual(
    planApplyRuns(beyond, applyBatchEntryCountMax).map((run) => run.length),
    [applyBatchEntryCountMax, 1],
  );
});

test('concurrent writes committed together apply as one batch, overlapping the next save on the leader, and each write gets its own results', async () => {
  const { node, dataDirectory: directory } = await startTestNode('apply-batch');
  directories.push(directory);
  try {
    await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
    await node.service.execute(executeRequest([statement('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')]), context);
    const stateMachine = node.runtime.stateMachine;
    const storage = node.runtime.storage;
    const batchSizes: number[] = [];
    let savesInFlight = 0;
    let appliedDuringSave = 0;
    const applyBatch = stateMachine.applyBatch.bind(stateMachine);
    Object.assign(stateMachine, {
      applyBatch: (entries: Parameters<typeof applyBatch>[0]) => {
        batchSizes.push(entries.length);
        if (savesInFlight > 0) appliedDuringSave += 1;
        return applyBatch(entries);
      },
    });
    const save = storage.save.bind(storage);
    Object.assign(storage, {
      // A slow disk: each save answers saveDelayMs late, so writes keep arriving during saves.
      save: async (request: Parameters<typeof save>[0]) => {
        savesInFlight += 1;
        try {
          await save(request);
          await new Promise((resolve) => setTimeout(resolve, saveDelayMs));
        } finally {
          savesInFlight -= 1;
        }
      },
    });
    // A steady stream of writes, one every writeSpacingMs: new entries arrive while earlier ones commit.
    const writeCount = 100;
    const answers: Promise<{ value: string; answer: Awaited<ReturnType<typeof node.service.execute>> }>[] = [];
    for (let position = 0; position < writeCount; position += 1) {
      const value = `value-${position}`;
      answers.push(node.service.execute(executeRequest([statement('INSERT INTO t(v) VALUES (?)', value)]), context).then((answer) => ({ value, answer })));
      await new Promise((resolve) => setTimeout(resolve, writeSpacingMs));
    }
    const settled = await Promise.all(answers);
    assert.ok(Math.max(...batchSizes) > 1, `some writes applied together (batch sizes ${batchSizes.join(',')})`);
    assert.equal(
      batchSizes.reduce((sum, size) => sum + size, 0),
      writeCount,
    );
    assert.ok(appliedDuringSave > 0, 'the leader applied committed entries while the next ones were being saved');
    const read = await node.service.query(
      {
        statements: [{ sql: 'SELECT id, v FROM t', positional: [], named: {} }],
        transaction: false,
        timings: false,
        timeoutMs: 10_000,
        dbTimeoutMs: null,
        forward: true,
        level: 'none',
        freshnessMs: null,
        freshnessStrict: false,
        appliedIndexMin: null,
        linearizableTimeoutMs: 10_000,
        qualifyColumns: false,
      },
      context,
    );
    const rows = read.results[0]?.kind === 'rows' ? read.results[0].rows : [];
    const valueById = new Map(rows.map((row) => [Number(row[0]), String(row[1])]));
    assert.equal(settled.length, writeCount);
    for (const { value, answer } of settled) {
      const result = answer.results[0];
      assert.equal(result?.kind, 'write');
      const id = result?.kind === 'write' ? Number(result.lastInsertId) : Number.NaN;
      assert.equal(valueById.get(id), value, `the write of ${value} got the id of its own row`);
    }
  } finally {
    await node.stop({ transferLeadership: false });
  }
});
