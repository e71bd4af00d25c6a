/**
 * rqlited's -extensions-path: SQLite extensions from single files, directories, zip files
 * or gzipped tarballs, gathered at start into `<data>/extensions` (emptied first, as
 * rqlited does) and loaded from there into every database connection. Hidden files are
 * skipped; a later source's file replaces an earlier one of the same name. Every node of
 * a cluster must be given the same extensions: the state machine's determinism depends
 * on the functions its statements call.
 */
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { ExtensionDigest } from '../node/apply-settings.js';
import { ArchiveError, type ArchivedFile, isGzip, isZip, readTarGzip, readZip } from './extension-archives.js';

/** The directory under the data directory the extensions are gathered in. */
function extensionsDirectory(dataDirectory: string): string {
  return join(dataDirectory, 'extensions');
}

function isHidden(name: string): boolean {
  return name.startsWith('.');
}

function head(path: string): Uint8Array {
  const bytes = new Uint8Array(4);
  const descriptor = openSync(path, 'r');
  try {
    readSync(descriptor, bytes, 0, bytes.length, 0);
  } finally {
    closeSync(descriptor);
  }
  return bytes;
}

function copyDirectory(source: string, target: string): void {
  for (const entry of readdirSync(source, { withFileTypes: true })) {
    if (isHidden(entry.name)) continue;
    const path = join(source, entry.name);
    if (statSync(path).isFile()) copyFileSync(path, join(target, entry.name));
  }
}

function writeArchived(files: readonly ArchivedFile[], target: string): void {
  for (const file of files) if (!isHidden(file.name)) writeFileSync(join(target, file.name), file.bytes);
}

/** Gathers one source into `target`: a directory's files, an archive's files, or the file itself. */
function gather(source: string, target: string): void {
  let kind: 'directory' | 'file';
  try {
    kind = statSync(source).isDirectory() ? 'directory' : 'file';
  } catch {
    throw new ArchiveError(`extensions path does not exist: ${source}`);
  }
  if (kind === 'directory') {
    copyDirectory(source, target);
    return;
  }
  const start = head(source);
  if (isZip(start)) writeArchived(readZip(readFileSync(source), source), target);
  else if (isGzip(start)) writeArchived(readTarGzip(readFileSync(source), source), target);
  else copyFileSync(source, join(target, basename(source)));
}

/**
 * Empties `<dataDirectory>/extensions`, gathers every source into it and returns the
 * files to load, sorted by name. With no sources the directory is removed and none load.
 * Throws an ArchiveError naming the source that cannot be read.
 */
export function installExtensions(sources: readonly string[], dataDirectory: string): string[] {
  const target = extensionsDirectory(dataDirectory);
  rmSync(target, { recursive: true, force: true });
  if (sources.length === 0) return [];
  mkdirSync(target, { recursive: true });
  for (const source of sources) gather(source, target);
  return readdirSync(target)
    .filter((name) => !isHidden(name))
    .sort()
    .map((name) => join(target, name));
}

/** Each installed extension's name and the SHA-256 of its bytes (installExtensions' order, by name): what a join compares (node/apply-settings.ts). */
export function extensionDigests(paths: readonly string[]): ExtensionDigest[] {
  return paths.map((path) => ({ name: basename(path), sha256: createHash('sha256').update(readFileSync(path)).digest('hex') }));
}
