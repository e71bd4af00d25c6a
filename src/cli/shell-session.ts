/**
 * One shell session: the state the dot commands change (mode, headers, timer,
 * consistency) and the running of input — dot commands line by line, SQL gathered
 * until a statement is complete and sent through `/db/request` (the server decides
 * read or write; the client follows the leader).
 */
import type { Client } from '../client/client.js';
import { QuorumliteError } from '../client/errors.js';
import type { ConsistencyLevel, Value } from '../client/types.js';
import { runDotCommand } from './shell-commands.js';
import { formatTable, type OutputMode } from './shell-format.js';
import { parseDotCommand, splitStatements } from './shell-input.js';

interface ShellOutput {
  write(text: string): void;
  writeError(text: string): void;
}

interface SessionSettings {
  mode: OutputMode;
  headers: boolean;
  timer: boolean;
  consistency: ConsistencyLevel;
}

/** Characters of unfinished SQL the shell holds before refusing more. */
const pendingSqlCharactersMax = 16 * 1024 * 1024;

export class ShellSession {
  readonly settings: SessionSettings;
  /** SQL typed so far of a statement not yet ended by ';'. */
  #pending = '';
  exitCode: number | undefined;
  errorCount = 0;
  readDepth = 0;
  /** The database SQL and the dot commands address (`.open NAME`; ours: several databases). */
  database = 'main';
  /** A client bound to a database, for `.open` (set by shell.ts; absent, `.open` is refused). */
  clientFor: ((database: string) => Client) | undefined;
  readonly #pendingCharactersMax: number;

  constructor(
    /** Replaced by `.open`, with one bound to the database opened. */
    public client: Client,
    readonly output: ShellOutput,
    settings: SessionSettings,
    /** Reads a file for `.read` / `.restore` (injected so tests and browsers can differ). */
    readonly files: ShellFiles,
    pendingCharactersMax = pendingSqlCharactersMax,
  ) {
    this.#pendingCharactersMax = pendingCharactersMax;
    this.settings = settings;
  }

  get hasPendingSql(): boolean {
    return this.#pending.trim() !== '';
  }

  clearPending(): void {
    this.#pending = '';
  }

  /** Handles one line of input. Returns once any statement it completed has run. */
  async processLine(line: string): Promise<void> {
    if (!this.hasPendingSql && line.trimStart().startsWith('.')) {
      const command = parseDotCommand(line);
      if (command !== undefined) await this.#guard(() => runDotCommand(this, command));
      return;
    }
    if (this.#pending.length + line.length + 1 > this.#pendingCharactersMax) {
      this.#pending = '';
      this.reportError(`statement longer than ${this.#pendingCharactersMax} characters (pendingSqlCharactersMax); discarded`);
      return;
    }
    this.#pending += `${line}\n`;
    // Only a ';' can complete a statement: skip the rescan otherwise (keeps long statements linear).
    if (!line.includes(';')) return;
    const split = splitStatements(this.#pending);
    this.#pending = split.rest;
    if (split.statements.length > 0) await this.#guard(() => this.runSql(split.statements));
  }

  /** Runs whatever unfinished SQL is left (end of a script or of `-c`). */
  async flush(): Promise<void> {
    const rest = this.#pending.trim();
    this.#pending = '';
    if (rest !== '') await this.#guard(() => this.runSql([rest]));
  }

  /** Runs a whole script (stdin, `-c`, `.read`): line by line, stopping at the first error. */
  async processScript(text: string, stopOnError: boolean): Promise<void> {
    const lines = text.split(/\r?\n/);
    for (const line of lines) {
      const errorsBefore = this.errorCount;
      await this.processLine(line);
      if (this.exitCode !== undefined) return;
      if (stopOnError && this.errorCount > errorsBefore) return;
    }
    await this.flush();
  }

  async runSql(statements: readonly string[]): Promise<void> {
    const startedAtMs = performance.now();
    const reply = await this.client.request<Value[]>(statements, {
      consistency: this.settings.consistency,
      rowMode: 'array',
      sqlErrors: 'return',
    });
    for (const [statementIndex, result] of reply.results.entries()) {
      if (result.error !== undefined) {
        const prefix = statements.length > 1 ? `statement ${statementIndex + 1}: ` : '';
        this.reportError(`${prefix}${result.error}`);
        continue;
      }
      this.output.write(formatTable({ columns: result.columns, rows: result.rows }, this.settings));
    }
    if (this.settings.timer) this.output.write(`Run Time: real ${((performance.now() - startedAtMs) / 1000).toFixed(3)}\n`);
  }

  reportError(message: string): void {
    this.errorCount += 1;
    this.output.writeError(`Error: ${message}\n`);
  }

  async #guard(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      if (!(error instanceof QuorumliteError) && !isFileError(error)) throw error;
      this.reportError(describeError(error));
    }
  }
}

export interface ShellFiles {
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, content: Uint8Array): Promise<void>;
}

function isFileError(error: unknown): boolean {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string' && (error as { syscall?: unknown }).syscall !== undefined;
}

export function describeError(error: unknown): string {
  if (error instanceof QuorumliteError) {
    if (error.code === 'DEADLINE_EXCEEDED' && error.cause instanceof QuorumliteError) return `no node answered in time (${error.cause.message})`;
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
