/**
 * Runs the datadriven interaction scripts in testdata/. Each script is prose (lines
 * starting with #) and blocks of a command, a line `----`, and the expected output up
 * to the next blank line. `REWRITE=1 node --import tsx --test test/raft/interaction.test.ts`
 * (or `node --import tsx test/raft/interaction.test.ts --rewrite`) regenerates the
 * expected output in place; review the diff before committing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InteractionEnv, parseCommand } from './interaction-env.js';

const testdata = new URL('./testdata/', import.meta.url).pathname;
const rewrite = process.env['REWRITE'] === '1' || process.argv.includes('--rewrite');

interface Block {
  readonly command: string;
  readonly line: number;
  readonly expected: string;
}

/** Splits a script into its prose (kept verbatim for rewriting) and command blocks. */
function parseScript(text: string): { pieces: (string | Block)[] } {
  const lines = text.split('\n');
  const pieces: (string | Block)[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (line.trim() === '' || line.startsWith('#')) {
      pieces.push(line);
      i++;
      continue;
    }
    const commandLine = i + 1;
    if (lines[i + 1] !== '----') throw new Error(`line ${commandLine}: command without ---- separator`);
    i += 2;
    const output: string[] = [];
    while (i < lines.length && (lines[i] ?? '') !== '') output.push(lines[i++] ?? '');
    pieces.push({ command: line, line: commandLine, expected: output.join('\n') });
  }
  return { pieces };
}

for (const file of readdirSync(testdata)
  .filter((name) => name.endsWith('.txt'))
  .sort()) {
  test(`interaction: ${file}`, () => {
    const path = join(testdata, file);
    const { pieces } = parseScript(readFileSync(path, 'utf8'));
    const env = new InteractionEnv();
    const rewritten: string[] = [];
    for (const piece of pieces) {
      if (typeof piece === 'string') {
        rewritten.push(piece);
        continue;
      }
      const actual = env.run(parseCommand(piece.command));
      rewritten.push(piece.command, '----', actual);
      if (!rewrite) assert.equal(actual, piece.expected, `${file}:${piece.line}: ${piece.command}`);
    }
    if (rewrite) writeFileSync(path, rewritten.join('\n'));
  });
}
