import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

test('the purity check accepts src/raft as it is', () => {
  const run = spawnSync(process.execPath, [join(root, 'scripts/check-raft-purity.mjs')], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
});

test('the purity check rejects a clock read, a timer and a node: import', () => {
  const copy = mkdtempSync(join(tmpdir(), 'quorumlite-purity-'));
  try {
    cpSync(join(root, 'scripts'), join(copy, 'scripts'), { recursive: true });
    cpSync(join(root, 'src/raft'), join(copy, 'src/raft'), { recursive: true });
    writeFileSync(join(copy, 'src/raft/planted.ts'), "import { readFileSync } from 'node:fs';\nexport const t = Date.now();\nsetTimeout(() => {}, 1);\n");
    const run = spawnSync(process.execPath, [join(copy, 'scripts/check-raft-purity.mjs')], { encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /planted\.ts:1: imports Node I\/O/);
    assert.match(run.stderr, /planted\.ts:2: reads the clock/);
    assert.match(run.stderr, /planted\.ts:3: uses timers/);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
