/**
 * A certificate, its key and a CA file (PEM), read from disk and read again when they
 * change, so a rotation needs no restart. As rqlite does, the files are polled (their
 * modification time, size and inode, once a second by default) rather than watched, and
 * a change is taken only once the new set loads as a whole: a key that does not match
 * its certificate (a rotation caught halfway) keeps the old set in place and is tried
 * again at the next change. Unlike rqlite, a changed CA file is reloaded too.
 */
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { NodeLogger } from '../node/logger.js';
import type { Scheduler, ScheduledTimer } from '../node/scheduler.js';

interface TlsFilePaths {
  readonly certPath?: string;
  readonly keyPath?: string;
  readonly caPath?: string;
}

export interface TlsMaterial {
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly ca?: Buffer;
}

/** A TLS file that is missing, unreadable or not what it should be; the node does not start. */
export class TlsFileError extends Error {
  override readonly name = 'TlsFileError';
}

/** How often the files are checked for a change (rqlite checks once a second). */
export const tlsReloadIntervalMsDefault = 1_000;
/** A PEM file larger than this is not a certificate chain or key. */
const tlsFileBytesMax = 1024 * 1024;

type Stamp = string;

export class TlsFiles {
  readonly #paths: TlsFilePaths;
  /** What the files are for, in messages ("HTTPS", "node-to-node TLS"). */
  readonly #purpose: string;
  #material: TlsMaterial;
  #loadedStamp: Stamp;
  #failedStamp: Stamp | undefined;
  #lastFailure: string | undefined;
  #timer: ScheduledTimer | undefined;
  #checking = false;

  private constructor(paths: TlsFilePaths, purpose: string, material: TlsMaterial, stamp: Stamp) {
    this.#paths = paths;
    this.#purpose = purpose;
    this.#material = material;
    this.#loadedStamp = stamp;
  }

  /** Reads and checks the files now; throws TlsFileError naming the file and what is wrong. */
  static load(paths: TlsFilePaths, purpose: string): TlsFiles {
    const stamp = stampOf(paths, (path) => statSync(path), purpose);
    const read = (path: string | undefined): Buffer | undefined => (path === undefined ? undefined : readChecked(path, purpose));
    const material = { cert: read(paths.certPath), key: read(paths.keyPath), ca: read(paths.caPath) };
    checkMaterial(paths, material, purpose);
    return new TlsFiles(paths, purpose, material, stamp);
  }

  get material(): TlsMaterial {
    return this.#material;
  }

  /** Checks the files every `intervalMs`; after a successful reload, `onChange` gets the new set. */
  watch(options: { scheduler: Scheduler; intervalMs: number; logger: NodeLogger; onChange: (material: TlsMaterial) => void }): void {
    this.#timer?.cancel();
    this.#timer = options.scheduler.setInterval(() => void this.#check(options.logger, options.onChange), options.intervalMs);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  async #check(logger: NodeLogger, onChange: (material: TlsMaterial) => void): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    let stamp: Stamp | undefined;
    try {
      stamp = await stampOfAsync(this.#paths, this.#purpose);
      if (stamp === this.#loadedStamp || stamp === this.#failedStamp) return;
      const material = await this.#read();
      checkMaterial(this.#paths, material, this.#purpose);
      this.#material = material;
      this.#loadedStamp = stamp;
      this.#failedStamp = undefined;
      this.#lastFailure = undefined;
      logger.info({ event: 'tls-reloaded', purpose: this.#purpose, files: this.#fileList() }, `reloaded the ${this.#purpose} certificate files`);
      onChange(material);
    } catch (error) {
      // The old set stays in use. Said once per failure, not at every check.
      if (stamp !== undefined) this.#failedStamp = stamp;
      const reason = error instanceof Error ? error.message : String(error);
      if (reason !== this.#lastFailure) {
        this.#lastFailure = reason;
        logger.warn(
          { event: 'tls-reload-failed', purpose: this.#purpose, error: reason },
          `the ${this.#purpose} certificate files changed but do not load: still using the previous ones`,
        );
      }
    } finally {
      this.#checking = false;
    }
  }

  async #read(): Promise<TlsMaterial> {
    const read = async (path: string | undefined): Promise<Buffer | undefined> => {
      if (path === undefined) return undefined;
      const content = await readFile(path);
      if (content.byteLength > tlsFileBytesMax) throw new TlsFileError(`${path} is larger than ${tlsFileBytesMax} bytes`);
      return content;
    };
    const [cert, key, ca] = await Promise.all([read(this.#paths.certPath), read(this.#paths.keyPath), read(this.#paths.caPath)]);
    return { cert, key, ca };
  }

  #fileList(): string[] {
    return [this.#paths.certPath, this.#paths.keyPath, this.#paths.caPath].filter((path): path is string => path !== undefined);
  }
}

function pathsOf(paths: TlsFilePaths): string[] {
  return [paths.certPath, paths.keyPath, paths.caPath].filter((path): path is string => path !== undefined);
}

function stampOf(paths: TlsFilePaths, statOf: (path: string) => { mtimeMs: number; size: number; ino: number }, purpose: string): Stamp {
  return pathsOf(paths)
    .map((path) => {
      try {
        const stats = statOf(path);
        return `${path}:${stats.mtimeMs}:${stats.size}:${stats.ino}`;
      } catch (error) {
        throw new TlsFileError(`cannot read ${purpose} file ${path}: ${describeFsError(error)}`);
      }
    })
    .join('|');
}

async function stampOfAsync(paths: TlsFilePaths, purpose: string): Promise<Stamp> {
  const stats = await Promise.all(pathsOf(paths).map((path) => stat(path).then((found) => [path, found] as const)));
  const byPath = new Map(stats);
  return stampOf(paths, (path) => byPath.get(path) ?? statSync(path), purpose);
}

function readChecked(path: string, purpose: string): Buffer {
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (error) {
    throw new TlsFileError(`cannot read ${purpose} file ${path}: ${describeFsError(error)}`);
  }
  if (content.byteLength > tlsFileBytesMax) throw new TlsFileError(`${purpose} file ${path} is larger than ${tlsFileBytesMax} bytes`);
  return content;
}

/** The set must load as one: the key matches the certificate, and the CA file holds certificates. */
function checkMaterial(paths: TlsFilePaths, material: TlsMaterial, purpose: string): void {
  if (material.ca !== undefined && !material.ca.includes('-----BEGIN CERTIFICATE-----')) {
    throw new TlsFileError(`failed to load CA certificate(s) for ${purpose} from ${paths.caPath ?? ''}`);
  }
  if (material.cert === undefined && material.key === undefined) return;
  try {
    createSecureContext({ cert: material.cert, key: material.key, ca: material.ca });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TlsFileError(`cannot use ${purpose} certificate ${paths.certPath ?? ''} with key ${paths.keyPath ?? ''}: ${reason}`);
  }
}

function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return error instanceof Error ? error.message : String(error);
}
