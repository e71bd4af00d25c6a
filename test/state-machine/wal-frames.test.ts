/**
 * src/state-machine/wal-frames.ts on its own:
 * - SQLite's WAL checksum, read through a typed view when the words are in this
 *   machine's order and aligned, word by word otherwise: both give the checksum as
 *   sqlite.org/fileformat2.html defines it, for either byte order, at any offset,
 *   continuing from any seed;
 * - a compacted copy of a live WAL, written in batches of frames: SQLite takes it as the
 *   WAL of the checkpointed file and reads what the live database holds, for deltas of
 *   one page, of a batch less one, of a batch exactly, of a batch and one, and of several.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { checksumOf, compactWal } from '../../src/state-machine/wal-frames.js';

/** The definition: s0 += x[i] + s1; s1 += x[i+1] + s0, over 32-bit words in the WAL's byte order. */
function reference(bytes: Buffer, start: number, end: number, bigEndian: boolean, seed: readonly [number, number]): [number, number] {
  let [first, second] = seed;
  for (let offset = start; offset < end; offset += 8) {
    const word = (at: number): number => (bigEndian ? bytes.readUInt32BE(at) : bytes.readUInt32LE(at));
    first = (first + word(offset) + second) % 2 ** 32;
    second = (second + word(offset + 4) + first) % 2 ** 32;
  }
  return [first, second];
}

test('equals the definition for both byte orders, aligned and not, whole pages and headers, from any seed', () => {
  const backing = randomBytes(4_200);
  for (const bigEndian of [false, true]) {
    for (const shift of [0, 1, 2, 3, 4]) {
      const bytes = backing.subarray(shift);
      for (const [start, end] of [
        [0, 8],
        [0, 24],
        [24, 4_120],
        [8, 4_096],
      ] as const) {
        const seed: [number, number] = [backing.readUInt32LE(0), backing.readUInt32LE(4)];
        assert.deepEqual(
          checksumOf(bytes, start, end, bigEndian, seed),
          reference(bytes, start, end, bigEndian, seed),
          `${bigEndian ? 'BE' : 'LE'} shift ${shift} ${start}-${end}`,
        );
      }
    }
  }
});

test('an empty range returns the seed', () => {
  assert.deepEqual(checksumOf(Buffer.alloc(8), 4, 4, false, [7, 9]), [7, 9]);
});

/** Frames compactWal writes at a time (framesPerRead in wal-frames.ts). */
const batchFrames = 256;

test('a compacted WAL of 1, 255, 256, 257 and 600 pages gives the checkpointed file the live content', () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-wal-frames-'));
  try {
    for (const pageCount of [1, batchFrames - 1, batchFrames, batchFrames + 1, 600]) {
      const livePath = join(directory, `live-${pageCount}.db`);
      const live = new Database(livePath);
      live.pragma('journal_mode = WAL');
      live.pragma('wal_autocheckpoint = 0');
      // One row per page (a 4 KiB page holds one 3,000-byte blob), then a checkpoint: the file is the base.
      live.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)');
      const insert = live.prepare('INSERT INTO t (b) VALUES (?)');
      for (let row = 0; row < pageCount; row += 1) insert.run(randomBytes(3_000));
      live.pragma('wal_checkpoint(TRUNCATE)');
      const basePath = join(directory, `copy-${pageCount}.db`);
      copyFileSync(livePath, basePath);
      // Each row rewritten twice in its own transactions: the WAL holds each page three times, the copy once.
      const update = live.prepare('UPDATE t SET b = ? WHERE id = ?');
      for (let round = 0; round < 2; round += 1) for (let id = 1; id <= pageCount; id += 1) update.run(randomBytes(3_000), id);
      const expected = live.prepare('SELECT id, hex(b) AS b FROM t ORDER BY id').all();
      const copy = compactWal(`${livePath}-wal`, `${basePath}-wal`);
      assert.ok(copy !== undefined);
      assert.ok(copy.frameCount >= pageCount && copy.frameCount < pageCount + 8, `${copy.frameCount} frames for ${pageCount} rows: each page once`);
      const copied = new Database(basePath, { readonly: true });
      try {
        assert.deepEqual(copied.prepare('SELECT id, hex(b) AS b FROM t ORDER BY id').all(), expected, `${pageCount} pages`);
      } finally {
        copied.close();
        live.close();
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
