/**
 * What both shell styles need of the terminal: the standard streams, reading a whole
 * script from a pipe (bounded), and the history file (the newest lines, bounded).
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';

export interface ShellIo {
  readonly stdin: Readable & { isTTY?: boolean };
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable;
}

/** History lines kept in the file and in memory. */
export const historyLinesMax = 1_000;
/** Bytes of script the shell reads from stdin before refusing. */
export const stdinBytesMax = 256 * 1024 * 1024;

export async function readStreamText(stream: Readable, bytesMax: number): Promise<string> {
  const chunks: Buffer[] = [];
  let byteCount = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    byteCount += buffer.byteLength;
    if (byteCount > bytesMax) throw new Error(`input holds more than ${bytesMax} bytes (stdinBytesMax)`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The last `linesMax` lines of the history file, newest first (readline's order); [] when unreadable. */
export async function loadHistory(path: string, linesMax: number): Promise<string[]> {
  try {
    const text = await readFile(path, 'utf8');
    // The file is oldest first.
    return text
      .split('\n')
      .filter((line) => line !== '')
      .slice(-linesMax)
      .reverse();
  } catch {
    return [];
  }
}

/** Writes the newest `linesMax` of `newestFirst` to the file, oldest first. Never throws. */
export async function saveHistory(path: string, newestFirst: readonly string[], linesMax: number): Promise<void> {
  const oldestFirst = newestFirst.slice(0, linesMax).reverse();
  try {
    await writeFile(path, oldestFirst.length === 0 ? '' : `${oldestFirst.join('\n')}\n`, { mode: 0o600 });
  } catch {
    // History is a convenience: an unwritable home directory must not fail the session.
  }
}
