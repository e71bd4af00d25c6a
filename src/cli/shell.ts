/**
 * `quorumlite shell`: an rqlite/sqlite3-style SQL shell on the quorumlite client.
 *
 *   quorumlite shell [--host URL,URL] [-c SQL] [--consistency LEVEL] [--mode MODE]
 *
 * On a terminal: a prompt with history (~/.quorumlite_history, bounded), SQL gathered
 * over lines until ';', dot commands (.help). Otherwise (-c, or stdin not a
 * terminal): runs the input, stops at the first error, exit status 1 after an error.
 * Exit status 2 for bad flags.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { createClient, type Client } from '../client/index.js';
import { parseShellArguments, shellUsage, type ShellArguments } from './shell-arguments.js';
import { describeError, ShellSession, type ShellFiles } from './shell-session.js';

interface ShellIo {
  readonly stdin: Readable & { isTTY?: boolean };
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** History lines kept in the file and in memory. */
const historyLinesMax = 1_000;
/** Bytes of script the shell reads from stdin before refusing. */
const stdinBytesMax = 256 * 1024 * 1024;

const nodeFiles: ShellFiles = {
  readFile: async (path) => new Uint8Array(await readFile(path)),
  writeFile: (path, content) => writeFile(path, content),
};

export async function runShell(argv: string[], io: ShellIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const parsed = parseShellArguments(argv, process.env);
  if (parsed.kind === 'help') {
    io.stdout.write(shellUsage);
    return 0;
  }
  if (parsed.kind === 'error') {
    io.stderr.write(`quorumlite shell: ${parsed.message}\n\n${shellUsage}`);
    return 2;
  }
  const options = parsed.arguments;
  let client: Client;
  try {
    client = createClient({ nodes: options.hosts, consistency: options.consistency, ...(options.user === undefined ? {} : { auth: options.user }) });
  } catch (error) {
    io.stderr.write(`quorumlite shell: ${describeError(error)}\n`);
    return 2;
  }
  const session = new ShellSession(
    client,
    { write: (text) => void io.stdout.write(text), writeError: (text) => void io.stderr.write(text) },
    { mode: options.mode ?? 'column', headers: options.headers ?? true, timer: false, consistency: options.consistency },
    nodeFiles,
  );
  try {
    if (options.command !== undefined) return await runScript(session, options.command);
    if (io.stdin.isTTY !== true) return await runScript(session, await readStreamText(io.stdin, stdinBytesMax));
    return await runInteractive(session, io, options);
  } catch (error) {
    io.stderr.write(`Error: ${describeError(error)}\n`);
    return 1;
  } finally {
    await client.close();
  }
}

async function runScript(session: ShellSession, text: string): Promise<number> {
  await session.processScript(text, true);
  if (session.exitCode !== undefined) return session.exitCode === 0 && session.errorCount > 0 ? 1 : session.exitCode;
  return session.errorCount > 0 ? 1 : 0;
}

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

async function runInteractive(session: ShellSession, io: ShellIo, options: ShellArguments): Promise<number> {
  const historyFile = options.historyFile ?? process.env.QUORUMLITE_HISTORY ?? join(homedir(), '.quorumlite_history');
  const history = await loadHistory(historyFile, historyLinesMax);
  const prompt = `${new URL(session.client.knownNodes[0] ?? 'http://localhost').host}> `;
  const continuation = `${' '.repeat(Math.max(0, prompt.length - 5))}...> `;
  const lines = createInterface({
    input: io.stdin,
    output: io.stdout,
    terminal: true,
    history,
    historySize: historyLinesMax,
    prompt,
    removeHistoryDuplicates: true,
  });
  io.stdout.write(`quorumlite shell, connected to ${session.client.knownNodes.join(', ')}\nEnter ".help" for usage hints.\n`);
  lines.on('SIGINT', () => {
    // Ctrl-C drops the statement being typed, as sqlite3 does.
    session.clearPending();
    io.stdout.write('^C\n');
    lines.setPrompt(prompt);
    lines.prompt();
  });
  lines.prompt();
  try {
    for await (const line of lines) {
      await session.processLine(line);
      if (session.exitCode !== undefined) break;
      lines.setPrompt(session.hasPendingSql ? continuation : prompt);
      lines.prompt();
    }
  } finally {
    await saveHistory(historyFile, (lines as Interface & { history?: string[] }).history ?? [], historyLinesMax);
    lines.close();
  }
  return session.exitCode ?? 0;
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
