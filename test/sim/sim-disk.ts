/**
 * A node's simulated disk for whole files: snapshot data (the store's, the state
 * machine's copies, files received from the leader) and members.json. A file operation
 * is durable once it returns (the real code fsyncs each of these), so a crash keeps
 * every file; what a crash loses is decided by the store and the state machine twins.
 * `simulatedFiles` is the runtime's `NodeFiles` port over it.
 */
import type { NodeFiles } from '../../src/node/ports.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A missing file, shaped like Node's ENOENT. */
export function missingFileError(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}'`), { code: 'ENOENT' });
}

export class SimulatedDisk {
  readonly #files = new Map<string, Uint8Array>();

  write(path: string, bytes: Uint8Array): void {
    this.#files.set(path, bytes);
  }

  read(path: string): Uint8Array | undefined {
    return this.#files.get(path);
  }

  has(path: string): boolean {
    return this.#files.has(path);
  }

  remove(path: string): void {
    this.#files.delete(path);
  }

  rename(fromPath: string, toPath: string): void {
    const bytes = this.#files.get(fromPath);
    if (bytes === undefined) throw missingFileError(fromPath);
    this.#files.delete(fromPath);
    this.#files.set(toPath, bytes);
  }

  /** Removes every file whose path starts with `prefix` (a directory). */
  removeUnder(prefix: string): void {
    for (const path of [...this.#files.keys()]) if (path.startsWith(prefix)) this.#files.delete(path);
  }

  get fileCount(): number {
    return this.#files.size;
  }
}

/** The runtime's own file operations, on a simulated disk. */
export function simulatedFiles(disk: SimulatedDisk): NodeFiles {
  return {
    rename: async (fromPath, toPath) => disk.rename(fromPath, toPath),
    remove: async (path) => disk.remove(path),
    readTextIfPresent(path) {
      const bytes = disk.read(path);
      return bytes === undefined ? undefined : decoder.decode(bytes);
    },
    writeTextDurably(path, text) {
      disk.write(path, encoder.encode(text));
    },
  };
}
