/** `npm run jepsen -- --check DIR`: a run's history judged again from its files. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Prng } from '../sim/prng.js';
import { serialListAppendHistory } from './checkers/serial-histories.js';
import type { ListAppendOperation } from './history.js';
import { recheckRun } from './recheck.js';
import { type RunSummary, writeReport } from './report.js';

const directory = mkdtempSync(join(tmpdir(), 'quorumlite-recheck-'));
after(() => rmSync(directory, { recursive: true, force: true }));

function recordRun(operations: readonly ListAppendOperation[]): void {
  const summary: RunSummary = {
    title: 'list-append, recorded',
    startedAt: '2026-12-04T00:00:00.000Z',
    workload: 'list-append',
    nemeses: [],
    nodeNames: ['n1', 'n2', 'n3'],
    durationMs: 1000,
    operations,
    nemesisEvents: [{ kind: 'kill', description: 'kill -9 n1', targets: ['n1'], startMs: 10, endMs: 20 }],
    verdicts: [],
    failoverMs: [],
    finalChecks: [{ name: 'every node converged', passed: true, detail: 'recorded' }],
    notes: ['seed 1'],
  };
  writeReport(directory, summary);
}

describe('recheckRun', () => {
  test('a valid history is judged valid again, and the report is rewritten with its faults', () => {
    recordRun(serialListAppendHistory(new Prng(5), 400));
    const result = recheckRun(directory);
    assert.equal(result.valid, true, result.text);
    assert.match(readFileSync(result.htmlPath, 'utf8'), /kill -9 n1/);
    assert.match(result.text, /^VALID/);
  });

  test('a history with a read that lost an element is judged invalid', () => {
    const history = serialListAppendHistory(new Prng(5), 400);
    const index = history.findIndex(
      (operation) => operation.outcome === 'ok' && (operation.output ?? []).some((micro) => micro[0] === 'r' && (micro[2]?.length ?? 0) >= 2),
    );
    assert.ok(index >= 0, 'the generated history has a read of two elements or more');
    const operation = history[index] as ListAppendOperation;
    const output = (operation.output ?? []).map((micro) =>
      micro[0] === 'r' && (micro[2]?.length ?? 0) >= 2 ? (['r', micro[1], [...(micro[2] ?? [])].reverse()] as const) : micro,
    );
    history[index] = { ...operation, output };
    recordRun(history);
    const result = recheckRun(directory);
    assert.equal(result.valid, false, result.text);
  });

  test('a history of exactly historyBytesMax bytes is read; one byte more is refused before reading', () => {
    recordRun(serialListAppendHistory(new Prng(7), 20));
    const bytes = statSync(join(directory, 'history.jsonl')).size;
    assert.equal(recheckRun(directory, bytes).valid, true);
    assert.throws(() => recheckRun(directory, bytes - 1), new RegExp(`holds ${bytes} bytes, more than the ${bytes - 1} a history may have`));
  });

  test('a directory that is not a run, or a history that is not JSON, is refused clearly', () => {
    assert.throws(() => recheckRun(join(directory, 'missing')), /history.jsonl does not exist: not a run directory/);
    recordRun(serialListAppendHistory(new Prng(6), 10));
    writeFileSync(join(directory, 'history.jsonl'), '{"id": 1}\nnot json\n');
    assert.throws(() => recheckRun(directory), /history.jsonl:2: not JSON/);
  });
});
