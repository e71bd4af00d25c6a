/**
 * A directory as an object store: key 'a/b' is the file `<root>/a/b`. Each object is
 * written atomically (files.ts), so a crash or a full disk leaves the old object or
 * none, never a part; hidden names (temporary files) are never listed.
 */
import { copyFile, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStore, StoredObject } from './object-store.js';
import { replaceAtomically } from './files.js';

/** Bounds a listing's walk: an archive directory holds objects two levels deep. */
const listDepthMax = 8;

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

export class DirectoryObjectStore implements ObjectStore {
  readonly description: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
    this.description = `dir:${root}`;
  }

  #pathOf(key: string): string {
    const parts = key.split('/');
    if (parts.some((part) => part === '' || part === '.' || part === '..' || part.startsWith('.')))
      throw new Error(`invalid object key ${JSON.stringify(key)}`);
    return join(this.#root, ...parts);
  }

  putFile(key: string, path: string): Promise<void> {
    return replaceAtomically(this.#pathOf(key), (temporaryPath) => copyFile(path, temporaryPath));
  }

  putBytes(key: string, bytes: Uint8Array): Promise<void> {
    return replaceAtomically(this.#pathOf(key), (temporaryPath) => writeFile(temporaryPath, bytes));
  }

  async getBytes(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.#pathOf(key));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async getFile(key: string, toPath: string): Promise<boolean> {
    try {
      await copyFile(this.#pathOf(key), toPath);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    await this.#walk(this.#root, '', prefix, 0, objects);
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async #walk(directory: string, keyPrefix: string, wanted: string, depth: number, into: StoredObject[]): Promise<void> {
    if (depth > listDepthMax) return;
    let names: string[];
    try {
      names = await readdir(directory);
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const key = `${keyPrefix}${name}`;
      // Only descend where the wanted prefix can still match.
      if (!key.startsWith(wanted) && !wanted.startsWith(`${key}/`)) continue;
      const path = join(directory, name);
      const info = await stat(path);
      if (info.isDirectory()) await this.#walk(path, `${key}/`, wanted, depth + 1, into);
      else if (key.startsWith(wanted)) into.push({ key, bytes: info.size });
    }
  }

  async remove(keys: readonly string[]): Promise<void> {
    for (const key of keys) await rm(this.#pathOf(key), { force: true });
  }
}
