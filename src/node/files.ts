/**
 * The few file operations the runtime does itself, outside the store and the state
 * machine: moving a snapshot file into the store (a state machine's copy, a file the
 * transport received), removing a leftover copy, and the address book (members.json).
 * They go through the `NodeFiles` port (ports.ts) so that a deterministic simulator can
 * keep them on its simulated disk; `systemFiles` is the real one. `readBoundedText` reads
 * the small files a node reads at start, before the runtime exists.
 */
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncPath } from '../state-machine/files.js';
import type { NodeFiles } from './ports.js';

export const systemFiles: NodeFiles = {
  rename: (fromPath, toPath) => rename(fromPath, toPath),
  remove: (path) => rm(path, { force: true }),
  readTextIfPresent(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  },
  writeTextDurably(path, text) {
    const temporaryPath = `${path}.tmp`;
    writeFileSync(temporaryPath, text);
    fsyncPath(temporaryPath, 'r');
    renameSync(temporaryPath, path);
  },
};

/** What a snapshot capture (`snapshot-<pid>-<index>.tmp`, `.internal.tmp`) or a materialised send (`snapshot-outgoing-*`) leaves behind. */
const snapshotLeftoverPattern = /^snapshot-(\d+-\d+(\.internal)?\.tmp|outgoing-\d+-\d+\.db(\.partial)?)$/;

/**
 * At start, with the data directory locked: removes the files a capture or a transfer in
 * progress left when the process died (each is made again when needed); returns their names.
 */
export function removeSnapshotLeftovers(dataDirectory: string): string[] {
  const leftovers = readdirSync(dataDirectory).filter((name) => snapshotLeftoverPattern.test(name));
  for (const name of leftovers) rmSync(join(dataDirectory, name), { force: true });
  return leftovers;
}

/**
 * A small file a node reads at start (raft/peers.json, apply-settings.json): undefined when
 * there is none; its size when it is over `bytesMax` (then nothing is read); else its text.
 * Other failures throw, for the caller to name the file.
 */
export function readBoundedText(path: string, bytesMax: number): { readonly text: string } | { readonly oversizeBytes: number } | undefined {
  let bytes: number;
  try {
    bytes = statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (bytes > bytesMax) return { oversizeBytes: bytes };
  return { text: readFileSync(path, 'utf8') };
}
