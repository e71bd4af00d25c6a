/**
 * `quorumlite shell` in rqlite's style (the default): what rqlite's `rqlite` command
 * does. It asks the node's /status for its version and greets
 *
 *   Welcome to the rqlite CLI.
 *   Enter ".help" for usage hints.
 *   Connected to http://127.0.0.1:4001 running version v10.0.0
 *
 * then reads one command a line, from the terminal (prompt `127.0.0.1:4001> `, with
 * history) or from a pipe, and says `bye~` at the end. `--command` runs its lines with
 * no greeting. The exit status is 1 when a command failed in a pipe or `--command`
 * (rqlite's is always 0), and 1 when the node cannot be reached.
 */
import { httpTimeoutMsDefault, type ShellArguments } from './shell-arguments.js';
import { hostAndPort } from './shell-hosts.js';
import { ShellHttpClient, ShellHttpError } from './shell-http.js';
import { rqliteCommands } from './shell-rqlite-commands.js';
import { RqliteSession, type OutputTarget, type RqliteTerminal } from './shell-rqlite-session.js';
import { runStatement } from './shell-rqlite-sql.js';
import { historyPath, readStreamText, runPromptLoop, stdinBytesMax, type ShellIo } from './shell-terminal.js';

export async function runRqliteShell(options: ShellArguments, io: ShellIo): Promise<number> {
  const terminal = rqliteTerminal(io);
  const errorLabel = terminal.colors ? '\u001b[31mERR!\u001b[0m' : 'ERR!';
  let http: ShellHttpClient;
  try {
    http = await ShellHttpClient.open({
      hosts: options.hosts,
      user: options.user,
      tls: options.tls,
      timeoutMs: options.httpTimeoutMs ?? httpTimeoutMsDefault,
      log: (line) => void io.stderr.write(line),
    });
  } catch (error) {
    terminal.write(`${errorLabel} ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const stdout: OutputTarget = { name: 'stdout', write: (text) => void io.stdout.write(text), close: () => undefined };
  const settings = {
    blobArray: false,
    changes: false,
    consistency: options.consistency,
    forceWrites: false,
    mode: options.mode ?? 'column',
    timer: false,
    database: 'main',
  };
  const session = new RqliteSession(http, terminal, stdout, { commands: rqliteCommands, runSql: runStatement }, settings);
  try {
    if (options.command !== undefined) {
      await runLines(session, options.command);
      return session.errorCount > 0 ? 1 : 0;
    }
    const version = await serverVersion(http);
    if (typeof version === 'object') {
      terminal.write(`${errorLabel} ${version.error}\n`);
      return 1;
    }
    const first = options.hosts[0] as string;
    terminal.write(
      `Welcome to the rqlite CLI.\nEnter ".help" for usage hints.\nConnected to ${new URL(first).protocol}//${hostAndPort(first)} running version ${version}\n`,
    );
    const interactive = io.stdin.isTTY === true;
    if (interactive) await runInteractive(session, io, options.historyFile);
    else await runLines(session, await readStreamText(io.stdin, stdinBytesMax));
    terminal.write('bye~\n');
    return !interactive && session.errorCount > 0 ? 1 : 0;
  } finally {
    session.close();
    await http.close();
  }
}

/** stdout for everything rqlite prints (red `ERR!` on a terminal); stderr for progress bars, when it is a terminal. */
function rqliteTerminal(io: ShellIo): RqliteTerminal {
  const stderrIsTerminal = (io.stderr as { isTTY?: boolean }).isTTY === true;
  return {
    write: (text) => void io.stdout.write(text),
    colors: io.stdout.isTTY === true,
    ...(stderrIsTerminal ? { progress: (text: string) => void io.stderr.write(text) } : {}),
  };
}

/** The `X-RQLITE-VERSION` of the node's /status reply (`unknown` without one), or why there is none. */
async function serverVersion(http: ShellHttpClient): Promise<string | { error: string }> {
  try {
    const { response } = await http.send('GET', 'status');
    return response.rqliteVersion ?? 'unknown';
  } catch (error) {
    if (error instanceof ShellHttpError && error.allRefused) {
      return { error: `Unable to connect to rqlited at ${new URL(http.host).protocol}//${hostAndPort(http.host)} - is it running?` };
    }
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

async function runLines(session: RqliteSession, text: string): Promise<void> {
  for (const line of text.split(/\r?\n/)) {
    await session.processLine(line);
    if (session.quitRequested) return;
  }
}

async function runInteractive(session: RqliteSession, io: ShellIo, historyFile: string | undefined): Promise<void> {
  await runPromptLoop(io, historyPath(historyFile), {
    prompt: () => session.prompt,
    // Ctrl-C drops what is typed and asks again.
    interrupt: (lines) => lines.write(null, { ctrl: true, name: 'u' }),
    processLine: (line) => session.processLine(line),
    done: () => session.quitRequested,
  });
}
