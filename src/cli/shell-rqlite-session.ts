/**
 * One rqlite-style shell session: its settings (the `.blobarray`, `.changes`,
 * `.consistency`, `.forcewrites`, `.mode`, `.timer` toggles and the `.output` target)
 * and the handling of one input line, as rqlite's shell does it: a line is one
 * command; a first word naming a dot command (any letter case) runs it, `quit` and
 * `exit` leave, anything else is SQL sent as one statement. A failed command prints
 * `ERR! <reason>` and the session goes on.
 */
import type { JsonValue } from '../client/json-parse.js';
import type { ConsistencyLevel } from '../client/types.js';
import type { OutputMode } from './shell-format.js';
import { hostAndPort } from './shell-hosts.js';
import type { ShellHttpClient, ShellHttpExchange } from './shell-http.js';

export interface RqliteSettings {
  blobArray: boolean;
  changes: boolean;
  consistency: ConsistencyLevel;
  forceWrites: boolean;
  mode: OutputMode;
  timer: boolean;
  /** `.open NAME` (ours): the database SQL addresses; 'main' is the default one. */
  database: string;
}

/** Where rqlite prints: settings, status trees and `ERR!` lines go to stdout. */
export interface RqliteTerminal {
  write(text: string): void;
  /** stdout is a terminal: `ERR!` is red there, as in rqlite. */
  readonly colors: boolean;
  /** Where file transfers draw their progress bar: stderr, when it is a terminal (shell-progress.ts). */
  readonly progress?: (text: string) => void;
}

/** Where query results go: stdout, or the `.output` file. */
export interface OutputTarget {
  readonly name: string;
  write(text: string): void;
  close(): void;
}

/** A command's failure, printed as `ERR! <message>`. */
export class RqliteCommandError extends Error {
  override readonly name = 'RqliteCommandError';
}

export type RqliteCommand = (session: RqliteSession, argument: string | undefined) => Promise<void>;

interface RqliteCommandTable {
  readonly commands: ReadonlyMap<string, RqliteCommand>;
  /** Runs one SQL statement (the default for a line that is no command). */
  readonly runSql: (session: RqliteSession, sql: string) => Promise<void>;
}

const quitWords = new Set(['.QUIT', '.EXIT', 'QUIT', 'EXIT']);

export class RqliteSession {
  readonly settings: RqliteSettings;
  #output: OutputTarget;
  #promptHost: string;
  errorCount = 0;
  /** Set by `.quit`, `.exit`, `quit`, `exit`. */
  quitRequested = false;

  constructor(
    readonly http: ShellHttpClient,
    readonly terminal: RqliteTerminal,
    readonly stdout: OutputTarget,
    readonly table: RqliteCommandTable,
    settings: RqliteSettings,
  ) {
    this.settings = settings;
    this.#output = stdout;
    this.#promptHost = hostAndPort(http.host);
  }

  /** rqlite's prompt: `host:port> `, the node that last answered. */
  get prompt(): string {
    return this.settings.database === 'main' ? `${this.#promptHost}> ` : `${this.#promptHost}/${this.settings.database}> `;
  }

  get output(): OutputTarget {
    return this.#output;
  }

  /** Sends results to `target` from now on, closing a previous `.output` file. */
  setOutput(target: OutputTarget): void {
    if (this.#output !== this.stdout) this.#output.close();
    this.#output = target;
  }

  /** Handles one line; never throws for a failed command. */
  async processLine(line: string): Promise<void> {
    const input = line.trim();
    if (input === '') return;
    const space = input.indexOf(' ');
    const word = (space < 0 ? input : input.slice(0, space)).toUpperCase();
    const argument = space < 0 ? undefined : input.slice(space + 1).trim();
    if (quitWords.has(word)) {
      this.quitRequested = true;
      return;
    }
    try {
      await this.#run(word, argument === '' ? undefined : argument, input);
    } catch (error) {
      this.reportError(error instanceof Error ? error.message : String(error));
    }
  }

  #run(word: string, argument: string | undefined, input: string): Promise<void> {
    const command = this.table.commands.get(word);
    if (command !== undefined) return command(this, argument);
    if (word.startsWith('.')) return Promise.reject(new RqliteCommandError(`unknown command ${word.toLowerCase()}: enter ".help" for usage hints`));
    return this.table.runSql(this, input);
  }

  reportError(message: string): void {
    this.errorCount += 1;
    const label = this.terminal.colors ? '\u001b[31mERR!\u001b[0m' : 'ERR!';
    this.terminal.write(`${label} ${message}\n`);
  }

  /** rqlite's shell shows in its prompt the node that answered, when it had to move on to another. */
  noteExchange(exchange: ShellHttpExchange): void {
    if (exchange.newHost !== undefined) this.#promptHost = hostAndPort(exchange.newHost);
  }

  close(): void {
    if (this.#output !== this.stdout) this.#output.close();
    this.#output = this.stdout;
  }
}

/** The JSON of a reply body; a body that is not JSON is a command error naming what came back. */
export function parseReplyJson(body: Uint8Array, parse: (text: string) => JsonValue): JsonValue {
  const text = new TextDecoder().decode(body);
  try {
    return parse(text);
  } catch {
    throw new RqliteCommandError(`the server's reply is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
}

/**
 * True when the node has no such endpoint at all: a 404 with quorumlite's
 * `not found: /path` body, or rqlite's empty one. A 404 about something else (an
 * unknown node, a missing status key) is not.
 */
export function isMissingEndpoint(status: number, body: Uint8Array, path: string): boolean {
  if (status !== 404) return false;
  const text = new TextDecoder().decode(body).trim();
  const pathOnly = path.split('?')[0] as string;
  // Behind a prefix (-P) the server names the whole path: `not found: /prefix/db/backup`.
  return text === '' || (text.startsWith('not found: /') && text.endsWith(`/${pathOnly}`));
}

/** rqlite's error for a status it did not expect, plus which endpoint this server lacks when that is the reason. */
export function unexpectedStatus(rqliteText: string, status: number, body: Uint8Array, method: string, path: string): RqliteCommandError {
  if (!isMissingEndpoint(status, body, path)) return new RqliteCommandError(rqliteText);
  const pathOnly = path.split('?')[0] as string;
  return new RqliteCommandError(`${rqliteText} (this server has no ${method} /${pathOnly} endpoint)`);
}
