#!/usr/bin/env node
// src/raft/ is a pure state machine: no clock, no randomness, no timers, no I/O, no
// Promises, and no imports outside src/raft/. This check keeps it that way.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('../src/raft/', import.meta.url).pathname;
const forbidden = [
  [/\bDate\.now\b|\bnew Date\b|\bperformance\.now\b|\bprocess\.hrtime\b/, 'reads the clock'],
  [/\bMath\.random\b|\bcrypto\b/, 'uses ambient randomness'],
  [/\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/, 'uses timers'],
  [/\bPromise\b|\basync\b|\bawait\b/, 'uses Promises'],
  [/from\s+['"]node:|require\(|from\s+['"](fs|net|path|os|child_process|http)['"]/, 'imports Node I/O'],
  [/from\s+['"]\.\.\//, 'imports from outside src/raft/'],
  [/\bprocess\./, 'touches the process'],
];
const problems = [];
for (const name of readdirSync(dir)) {
  if (!name.endsWith('.ts')) continue;
  const lines = readFileSync(join(dir, name), 'utf8').split('\n');
  lines.forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, '');
    if (/^\s*\*/.test(code)) return; // inside a doc comment
    for (const [pattern, why] of forbidden) {
      if (pattern.test(code)) problems.push(`src/raft/${name}:${i + 1}: ${why}: ${line.trim()}`);
    }
  });
}
if (problems.length > 0) {
  console.error(`src/raft must stay pure:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('src/raft is pure');
