/**
 * The few file operations the runtime does itself, outside the store and the state
 * machine: moving a snapshot file into the store (a state machine's copy, a file the
 * transport received), removing a leftover copy, and the address book (members.json).
 * They go through the `NodeFiles` port (ports.ts) so that a deterministic simulator can
 * keep them on its simulated disk; `systemFiles` is the real one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
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
    const descriptor = openSync(temporaryPath, 'r');
    try {
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
    renameSync(temporaryPath, path);
  },
};
