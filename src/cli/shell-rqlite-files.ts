/**
 * The rqlite-style shell's file commands, with rqlite's syntax and messages:
 * `.backup FILE` (GET /db/backup), `.dump FILE [TABLE,TABLE...]` (GET
 * /db/backup?fmt=sql&tables=…), `.restore FILE` (POST /db/load, a SQLite file or SQL
 * text), `.boot FILE` (POST /boot), `.sysdump FILE` (every node's status, nodes,
 * readyz and expvar), `.read FILE` (each line a statement) and `.output [FILE]`.
 * A backup is written only once the node answered 200, so a failed one leaves no file.
 * Files go to and from the node as streams (never whole in memory), with a progress bar
 * on a terminal when they take more than a second (shell-progress.ts).
 */
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { goFileErrorText } from './shell-go-text.js';
import type { ShellHttpResponse, StreamedBody } from './shell-http.js';
import { TransferProgress } from './shell-progress.js';
import { isJsonObject, runStatement } from './shell-rqlite-sql.js';
import { parseReplyJson, RqliteCommandError, unexpectedStatus, type OutputTarget, type RqliteCommand, type RqliteSession } from './shell-rqlite-session.js';
import { parseJson, type JsonObject } from '../client/json-parse.js';

/** Files `.read` reads (into memory) are refused beyond this size; `.restore` and `.boot` stream theirs. */
const inputFileBytesMax = 1024 * 1024 * 1024;
/** The 16-byte header of a SQLite database file begins so (rqlite checks these 13 bytes). */
const sqliteHeader = 'SQLite format';

function required(argument: string | undefined, message: string): string {
  if (argument === undefined) throw new RqliteCommandError(message);
  return argument;
}

async function readInputFile(path: string): Promise<Buffer> {
  try {
    const size = (await stat(path)).size;
    if (size > inputFileBytesMax) throw new RqliteCommandError(`${path} holds more than ${inputFileBytesMax} bytes (inputFileBytesMax)`);
    return await readFile(path);
  } catch (error) {
    if (error instanceof RqliteCommandError) throw error;
    throw new RqliteCommandError(goFileErrorText(error, path));
  }
}

function isSqliteFile(content: Uint8Array): boolean {
  return content.byteLength > sqliteHeader.length && Buffer.from(content.subarray(0, sqliteHeader.length)).toString('latin1') === sqliteHeader;
}

/** GET `path` into `file`; rqlite's `server responded with: <status>` otherwise. */
async function download(session: RqliteSession, path: string, file: string, label: string): Promise<void> {
  const progress = new TransferProgress(session.terminal.progress, label, null);
  const exchange = await session.http.sendToFile('GET', path, file, progress).finally(() => progress.finish());
  session.noteExchange(exchange);
  const { response } = exchange;
  if (response.status === 401) throw new RqliteCommandError('unauthorized');
  if (response.status !== 200) throw unexpectedStatus(`server responded with: ${response.statusLine}`, response.status, response.body, 'GET', path);
}

const backup: RqliteCommand = async (session, argument) => {
  const file = required(argument, 'please specify an output file for the backup');
  await download(session, 'db/backup', file, 'backup');
  session.terminal.write('backup file written successfully\n');
};

/** rqlite's parseDumpArgs: the first word is the file; the rest, joined by spaces, is a comma-separated table list. */
export function parseDumpArguments(argument: string): { file: string; tables: string[] } {
  const words = argument.split(/\s+/).filter((word) => word !== '');
  const tables = words
    .slice(1)
    .join(' ')
    .split(',')
    .map((table) => table.trim())
    .filter((table) => table !== '');
  return { file: words[0] ?? argument, tables };
}

const dump: RqliteCommand = async (session, argument) => {
  const { file, tables } = parseDumpArguments(required(argument, 'please specify an output file for the SQL text'));
  const parameters = new URLSearchParams({ fmt: 'sql' });
  if (tables.length > 0) parameters.set('tables', tables.join(','));
  await download(session, `db/backup?${parameters}`, file, 'dump');
  session.terminal.write('SQL text file written successfully\n');
};

/** rqlite's checkStatus: the node's /status, which must hold a `store` section. */
async function storeStatus(session: RqliteSession): Promise<JsonObject> {
  const exchange = await session.http.send('GET', 'status');
  session.noteExchange(exchange);
  if (exchange.response.status === 401) throw new RqliteCommandError('unauthorized');
  const status = parseReplyJson(exchange.response.body, (text) => parseJson(text, 'auto'));
  const store = isJsonObject(status) ? status.store : undefined;
  if (!isJsonObject(store)) throw new RqliteCommandError('unexpected server response: store status not found');
  return store;
}

/** A file to send, read as it goes: its size, whether it starts as a SQLite database does. */
async function inputFile(path: string): Promise<{ bytes: number; isDatabase: boolean }> {
  try {
    const handle = await open(path, 'r');
    try {
      const head = Buffer.alloc(sqliteHeader.length + 1);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      return { bytes: (await handle.stat()).size, isDatabase: isSqliteFile(head.subarray(0, bytesRead)) };
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new RqliteCommandError(goFileErrorText(error, path));
  }
}

/** The file's bytes, then `suffix`, opened afresh for each attempt. */
function streamedFile(path: string, bytes: number, suffix: Uint8Array = new Uint8Array()): StreamedBody {
  return {
    bytes: bytes + suffix.byteLength,
    open: async function* () {
      yield* createReadStream(path) as AsyncIterable<Uint8Array>;
      if (suffix.byteLength > 0) yield suffix;
    },
  };
}

/** The body to load: a SQL dump gets the node's foreign-key setting appended, as rqlite's shell appends it. */
function restoreBody(path: string, file: { bytes: number; isDatabase: boolean }, store: JsonObject): StreamedBody {
  if (file.isDatabase) return streamedFile(path, file.bytes);
  // The dump's own PRAGMA may have changed the setting; this puts the node's back.
  const sqlite = isJsonObject(store.sqlite3) ? store.sqlite3 : {};
  const foreignKeys = sqlite.fk_constraints === 'enabled' ? 'ON' : 'OFF';
  return streamedFile(path, file.bytes, Buffer.from(`PRAGMA foreign_keys=${foreignKeys};`));
}

/** POSTs a streamed file with a progress bar. */
async function upload(session: RqliteSession, path: string, body: StreamedBody, contentType: string, label: string): Promise<ShellHttpResponse> {
  const progress = new TransferProgress(session.terminal.progress, label, body.bytes);
  const exchange = await session.http.send('POST', path, body, { 'content-type': contentType }, progress).finally(() => progress.finish());
  session.noteExchange(exchange);
  return exchange.response;
}

/** What rqlite prints after loading SQL text: the first result's error, or its counts. */
function reportSqlLoad(session: RqliteSession, replyBody: Uint8Array): boolean {
  const reply = parseReplyJson(replyBody, (text) => parseJson(text, 'auto'));
  const results = isJsonObject(reply) && Array.isArray(reply.results) ? reply.results : [];
  const first = results[0];
  if (!isJsonObject(first)) throw new RqliteCommandError(`unexpected results length: ${results.length}`);
  if (typeof first.error === 'string' && first.error !== '') {
    session.errorCount += 1;
    session.terminal.write(`Error: ${first.error}\n`);
    return false;
  }
  session.terminal.write(`last inserted ID: ${String(first.last_insert_id ?? 0)}\nrows affected: ${String(first.rows_affected ?? 0)}\n`);
  return true;
}

const restore: RqliteCommand = async (session, argument) => {
  const path = required(argument, 'please specify an input file to restore from');
  const store = await storeStatus(session);
  const file = await inputFile(path);
  const contentType = file.isDatabase ? 'application/octet-stream' : 'text/plain';
  const response = await upload(session, 'db/load', restoreBody(path, file, store), contentType, 'restore');
  if (response.status === 401) throw new RqliteCommandError('unauthorized');
  if (response.status !== 200) throw unexpectedStatus(`server responded with: ${response.statusLine}`, response.status, response.body, 'POST', 'db/load');
  if (!file.isDatabase && !reportSqlLoad(session, response.body)) return;
  session.terminal.write('Database restored successfully.\n');
};

const boot: RqliteCommand = async (session, argument) => {
  const path = required(argument, 'please specify an input file to boot with');
  await storeStatus(session);
  const file = await inputFile(path).catch(() => ({ bytes: 0, isDatabase: false }));
  if (!file.isDatabase) throw new RqliteCommandError(`${path} is not a valid SQLite file`);
  const response = await upload(session, 'boot', streamedFile(path, file.bytes), 'application/octet-stream', 'boot');
  if (response.status === 401) throw new RqliteCommandError('unauthorized');
  if (response.status !== 200) {
    const body = new TextDecoder().decode(response.body).trimEnd();
    const message = `boot failed, status code: ${response.statusLine}${body === '' ? '' : `, ${body}`}`;
    throw unexpectedStatus(message, response.status, response.body, 'POST', 'boot');
  }
  session.terminal.write('Node booted successfully.\n');
};

/** One node's part of a sysdump: each URL, its status and (when 200) its body. */
async function dumpNode(session: RqliteSession, handle: FileHandle, apiAddress: string): Promise<void> {
  for (const path of ['status?pretty', 'nodes?pretty', 'readyz', 'debug/vars']) {
    const url = `${apiAddress}/${path}`;
    await handle.write(`\n=========================================\nURL: ${url}\n`);
    const response = await session.http.getDirect(url).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    if (typeof response === 'string') {
      await handle.write(`Status: ${response}\n\n`);
      continue;
    }
    await handle.write(`Status: ${response.statusLine}\n\n`);
    if (response.status === 200) await handle.write(response.body);
  }
}

const sysdump: RqliteCommand = async (session, argument) => {
  const file = required(argument, 'please specify an output file for the sysdump');
  const exchange = await session.http.send('GET', 'nodes');
  session.noteExchange(exchange);
  const nodes = parseReplyJson(exchange.response.body, (text) => parseJson(text, 'auto'));
  const handle = await open(file, 'w').catch((error: unknown) => {
    throw new RqliteCommandError(goFileErrorText(error, file));
  });
  try {
    // rqlite walks a Go map (any order); by node ID here, so two dumps compare.
    const entries = Object.entries(isJsonObject(nodes) ? nodes : {}).sort(([left], [right]) => (left < right ? -1 : 1));
    for (const [, node] of entries) {
      const apiAddress = isJsonObject(node) && typeof node.api_addr === 'string' ? node.api_addr : '';
      if (apiAddress !== '') await dumpNode(session, handle, apiAddress);
    }
  } finally {
    await handle.close();
  }
};

/** `.read FILE`: each line that is neither blank nor a `--` comment is one statement; a failed one is reported and the next runs. */
const read: RqliteCommand = async (session, argument) => {
  const file = required(argument, 'please specify an input file to read from');
  const text = (await readInputFile(file)).toString('utf8');
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('--')) continue;
    try {
      await runStatement(session, line);
    } catch (error) {
      session.reportError(error instanceof Error ? error.message : String(error));
    }
  }
};

/** A file that results go to: written synchronously, so output keeps its order. */
function fileTarget(path: string): OutputTarget {
  let descriptor: number;
  try {
    descriptor = openSync(path, 'w');
  } catch (error) {
    throw new RqliteCommandError(goFileErrorText(error, path));
  }
  return {
    name: path,
    write: (text) => void writeSync(descriptor, text),
    close: () => closeSync(descriptor),
  };
}

const output: RqliteCommand = async (session, argument) => {
  session.setOutput(argument === undefined || argument === 'stdout' ? session.stdout : fileTarget(argument));
};

export const fileCommands: readonly (readonly [string, RqliteCommand])[] = [
  ['.BACKUP', backup],
  ['.DUMP', dump],
  ['.RESTORE', restore],
  ['.BOOT', boot],
  ['.SYSDUMP', sysdump],
  ['.READ', read],
  ['.OUTPUT', output],
];
