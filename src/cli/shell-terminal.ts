/**
 * What both shell styles need of the terminal: the standard streams, reading a whole
 * script from a pipe (bounded), the history file (the newest lines, bounded), and the
 * interactive loop that reads lines with that history until the shell is done.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

export interface ShellIo {
  readonly stdin: Readable & { isTTY?: boolean };
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable;
}

/** History lines kept in the file and in memory. */
const historyLinesMax = 1_000;
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

/** What a shell style gives the interactive loop. */
interface PromptLoop {
  /** The prompt for the next line (it may change after each line). */
  prompt(): string;
  /** Ctrl-C: drop what the shell holds unfinished (the line typed, or the statement pending); the loop then asks again. */
  interrupt(lines: Interface): void;
  processLine(line: string): Promise<void>;
  /** Whether the shell is done (.quit, .exit): the loop ends after the line that said so. */
  done(): boolean;
}

/** --history FILE, else $QUORUMLITE_HISTORY, else ~/.quorumlite_history. */
export function historyPath(given: string | undefined): string {
  return given ?? process.env.QUORUMLITE_HISTORY ?? join(homedir(), '.quorumlite_history');
}

/** Reads lines from the terminal with the history in `historyFile` until the input ends or the shell is done; then saves the history. */
export async function runPromptLoop(io: ShellIo, historyFile: string, loop: PromptLoop): Promise<void> {
  const lines = createInterface({
    input: io.stdin,
    output: io.stdout,
    terminal: true,
    history: await loadHistory(historyFile, historyLinesMax),
    historySize: historyLinesMax,
    prompt: loop.prompt(),
    removeHistoryDuplicates: true,
  });
  lines.on('SIGINT', () => {
    loop.interrupt(lines);
    io.stdout.write('^C\n');
    lines.setPrompt(loop.prompt());
    lines.prompt();
  });
  lines.prompt();
  try {
    for await (const line of lines) {
      await loop.processLine(line);
      if (loop.done()) break;
      lines.setPrompt(loop.prompt());
      lines.prompt();
    }
  } finally {
    await saveHistory(historyFile, (lines as Interface & { history?: string[] }).history ?? [], historyLinesMax);
    lines.close();
  }
}
