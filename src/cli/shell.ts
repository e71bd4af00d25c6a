/**
 * `quorumlite shell`: an SQL shell on a quorumlite (or rqlite) node, in one of two styles.
 *
 *   quorumlite shell [-H host] [-p port] [-s https] [-u user:pass] [-c ca.pem] …
 *
 * - `--style rqlite` (the default): rqlite's own shell, flag for flag and command for
 *   command (shell-rqlite.ts).
 * - `--style sqlite3`: quorumlite's sqlite3-like shell: SQL gathered over lines until
 *   ';', sqlite3's output modes, `.headers`; runs the input and stops at the first error
 *   when it is not a terminal (`--command`, or a pipe).
 * Both take rqlite's connection flags (hosts, prefix, TLS, credentials, timeout).
 * Exit status 2 for bad flags, 1 after an error in a script.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Agent, fetch as undiciFetch } from 'undici';
import { createClient, type Client } from '../client/index.js';
import type { FetchFunction } from '../client/transport.js';
import { parseShellArguments, shellUsage, type ShellArguments, type ShellStyle, type TlsSettings } from './shell-arguments.js';
import { runRqliteShell } from './shell-rqlite.js';
import { describeError, ShellSession, type ShellFiles } from './shell-session.js';
import { historyPath, readStreamText, runPromptLoop, stdinBytesMax, type ShellIo } from './shell-terminal.js';
import { packageVersion } from './version.js';

const nodeFiles: ShellFiles = {
  readFile: async (path) => new Uint8Array(await readFile(path)),
  writeFile: (path, content) => writeFile(path, content),
};

/** The style asked for, read before the flags are (a bad flag is reported in that style's words). */
function requestedStyle(argv: readonly string[]): ShellStyle {
  for (const [index, argument] of argv.entries()) {
    if (argument === '--style=sqlite3' || (argument === '--style' && argv[index + 1] === 'sqlite3')) return 'sqlite3';
  }
  return 'rqlite';
}

export async function runShell(
  argv: string[],
  io: ShellIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
  environment: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  const parsed = parseShellArguments(argv, environment);
  switch (parsed.kind) {
    case 'help':
      io.stdout.write(shellUsage);
      return 0;
    case 'version':
      io.stdout.write(`Version v${packageVersion()}, commit unknown, built on unknown\n`);
      return 0;
    case 'error':
      // rqlite prints its flag errors on stdout; the sqlite3 style keeps quorumlite's usage on stderr.
      if (requestedStyle(argv) === 'rqlite') io.stdout.write(`ERR! ${parsed.rqliteMessage}\n`);
      else io.stderr.write(`quorumlite shell: ${parsed.message}\n\n${shellUsage}`);
      return 2;
    case 'run':
      return parsed.arguments.style === 'rqlite' ? runRqliteShell(parsed.arguments, io) : runSqlite3Shell(parsed.arguments, io);
  }
}

/** A fetch that uses the `-c`/`-d`/`-k`/`-i` TLS settings; undefined when there are none. */
function tlsFetch(tls: TlsSettings, agentOptions: ConstructorParameters<typeof Agent>[0]): { fetch: FetchFunction; agent: Agent } | undefined {
  if (tls.caCertPath === undefined && tls.clientCertPath === undefined && !tls.insecure) return undefined;
  const agent = new Agent(agentOptions);
  const fetchFunction = (input: string, init: RequestInit): Promise<Response> =>
    undiciFetch(input, { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher: agent }) as unknown as Promise<Response>;
  return { fetch: fetchFunction, agent };
}

async function readTlsOptions(tls: TlsSettings): Promise<ConstructorParameters<typeof Agent>[0]> {
  const read = (path: string | undefined): Promise<Buffer | undefined> => (path === undefined ? Promise.resolve(undefined) : readFile(path));
  const [ca, cert, key] = await Promise.all([read(tls.caCertPath), read(tls.clientCertPath), read(tls.clientKeyPath)]);
  return {
    connect: {
      rejectUnauthorized: !tls.insecure,
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
    },
  };
}

async function runSqlite3Shell(options: ShellArguments, io: ShellIo): Promise<number> {
  let clientFor: (database: string) => Client;
  let tls: ReturnType<typeof tlsFetch>;
  try {
    tls = tlsFetch(options.tls, await readTlsOptions(options.tls));
    const fetchOption = tls === undefined ? {} : { fetch: tls.fetch };
    clientFor = (database) =>
      createClient({
        nodes: options.hosts,
        consistency: options.consistency,
        database,
        ...(options.user === undefined ? {} : { auth: options.user }),
        ...(options.httpTimeoutMs === undefined ? {} : { timeoutMs: Math.ceil(options.httpTimeoutMs) }),
        ...fetchOption,
      });
  } catch (error) {
    io.stderr.write(`quorumlite shell: ${describeError(error)}\n`);
    return 2;
  }
  let session: ShellSession;
  try {
    session = new ShellSession(
      clientFor('main'),
      { write: (text) => void io.stdout.write(text), writeError: (text) => void io.stderr.write(text) },
      { mode: options.mode ?? 'column', headers: options.headers ?? true, timer: false, consistency: options.consistency },
      nodeFiles,
    );
  } catch (error) {
    io.stderr.write(`quorumlite shell: ${describeError(error)}\n`);
    await tls?.agent.close();
    return 2;
  }
  session.clientFor = clientFor;
  try {
    if (options.command !== undefined) return await runScript(session, options.command);
    if (io.stdin.isTTY !== true) return await runScript(session, await readStreamText(io.stdin, stdinBytesMax));
    return await runInteractive(session, io, options);
  } catch (error) {
    io.stderr.write(`Error: ${describeError(error)}\n`);
    return 1;
  } finally {
    await session.client.close();
    await tls?.agent.close();
  }
}

async function runScript(session: ShellSession, text: string): Promise<number> {
  await session.processScript(text, true);
  if (session.exitCode !== undefined) return session.exitCode === 0 && session.errorCount > 0 ? 1 : session.exitCode;
  return session.errorCount > 0 ? 1 : 0;
}

async function runInteractive(session: ShellSession, io: ShellIo, options: ShellArguments): Promise<number> {
  const prompt = `${new URL(session.client.knownNodes[0] ?? 'http://localhost').host}> `;
  const continuation = `${' '.repeat(Math.max(0, prompt.length - 5))}...> `;
  io.stdout.write(`quorumlite shell, connected to ${session.client.knownNodes.join(', ')}\nEnter ".help" for usage hints.\n`);
  await runPromptLoop(io, historyPath(options.historyFile), {
    prompt: () => (session.hasPendingSql ? continuation : prompt),
    // Ctrl-C drops the statement being typed, as sqlite3 does.
    interrupt: () => session.clearPending(),
    processLine: (line) => session.processLine(line),
    done: () => session.exitCode !== undefined,
  });
  return session.exitCode ?? 0;
}
