import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Entry } from '../../src/raft/types.js';

/** A fresh directory under os.tmpdir(); remove it with removeDirectory. */
export function makeTemporaryDirectory(label: string): string {
  return fs.mkdtempSync(join(tmpdir(), `quorumlite-storage-${label}-`));
}

export function removeDirectory(path: string): void {
  fs.rmSync(path, { recursive: true, force: true });
}

/** Deterministic entry data from (index, term, length): a checker can recompute it. */
export function entryData(index: number, term: number, length: number): Uint8Array {
  const data = new Uint8Array(length);
  let block = createHash('sha256').update(`${index}/${term}`).digest();
  for (let position = 0; position < length; position++) {
    if (position > 0 && position % block.length === 0) block = createHash('sha256').update(block).digest();
    data[position] = block[position % block.length]!;
  }
  return data;
}

export function makeEntries(firstIndex: number, count: number, term: number, dataBytes = 16): Entry[] {
  const entries: Entry[] = [];
  for (let offset = 0; offset < count; offset++) {
    const index = firstIndex + offset;
    entries.push({ index, term, type: offset % 7 === 3 ? 'conf-change' : 'normal', data: entryData(index, term, dataBytes) });
  }
  return entries;
}

export function summary(entries: readonly Entry[]): string[] {
  return entries.map((entry) => `${entry.index}/${entry.term}/${entry.type}/${Buffer.from(entry.data).toString('hex')}`);
}
