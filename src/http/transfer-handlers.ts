/**
 * `/db/backup`, `/db/load`, `/boot`, `/snapshot`, `/reap`: rqlite's endpoints that move
 * whole databases or manage snapshots (src/service/transfer-service.ts). Bodies and
 * backups stream with back-pressure; nothing here holds a database in memory.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Exchange } from './exchange.js';
import { badRequest, HttpError } from './http-error.js';
import { streamRequestBody } from './request-stream.js';
import { shapeDataResponse } from './results.js';
import type { ClusterService } from '../service/service.js';
import type { BackupFormat, ByteStream, DatabaseTransfers } from '../service/transfer-service.js';

/** The service's transfers; a service without them has no such endpoint (404, as before they existed). */
function transfers<Name extends keyof DatabaseTransfers>(exchange: Exchange, service: ClusterService, name: Name): DatabaseTransfers[Name] {
  const method = service[name];
  if (method === undefined) throw new HttpError(404, 'NOT_FOUND', `not found: ${exchange.path}`);
  return method.bind(service) as DatabaseTransfers[Name];
}

/** rqlite's `fmt`: `sql` a dump, `delete` a rollback-journal file, anything else the WAL-mode file. */
function backupFormat(fmt: string | undefined): BackupFormat {
  if (fmt === 'sql') return 'sql';
  return fmt === 'delete' ? 'delete' : 'binary';
}

/** rqlite's `tables=a,b` (with `fmt=sql`): the names between commas, trimmed. */
function backupTables(text: string | undefined): string[] | null {
  const tables = (text ?? '')
    .split(',')
    .map((table) => table.trim())
    .filter((table) => table !== '');
  return tables.length === 0 ? null : tables;
}

export async function handleBackup(exchange: Exchange, service: ClusterService): Promise<void> {
  const backup = transfers(exchange, service, 'backup');
  const format = backupFormat(exchange.parameters.get('fmt'));
  const request = {
    format,
    vacuum: exchange.flag('vacuum'),
    tables: format === 'sql' ? backupTables(exchange.parameters.get('tables')) : null,
    local: exchange.flag('noleader'),
    forward: !exchange.flag('redirect'),
    timeoutMs: exchange.parameters.timeoutMs,
    database: exchange.parameters.get('db'),
  };
  const stream = await exchange.callService(request.timeoutMs, (context) => backup(request, context));
  try {
    await sendStream(exchange, stream, format === 'sql' ? 'application/sql' : 'application/octet-stream', exchange.flag('compress'));
  } finally {
    await stream.close();
  }
}

async function* chunksOf(stream: ByteStream): AsyncGenerator<Uint8Array> {
  for (let chunk = await stream.next(); chunk !== null; chunk = await stream.next()) yield chunk;
}

/**
 * Streams a backup with back-pressure. A failure once bytes went out can only cut the
 * connection (the client sees a short body); before that it is an ordinary error reply.
 */
export async function sendStream(exchange: Exchange, stream: ByteStream, contentType: string, compress: boolean): Promise<void> {
  const response = exchange.response;
  const source = chunksOf(stream);
  // The first chunk before the head: a backup that fails at once still gets its error reply.
  const first = await source.next();
  response.statusCode = 200;
  response.setHeader('Content-Type', contentType);
  if (stream.servedBy !== '') response.setHeader('X-RQLITE-SERVED-BY', stream.servedBy);
  if (stream.bytes !== null && !compress) response.setHeader('Content-Length', stream.bytes);
  const body = Readable.from(
    (async function* () {
      if (first.done !== true) yield first.value;
      yield* source;
    })(),
    { objectMode: false },
  );
  if (compress) await pipeline(body, createGzip(), response);
  else await pipeline(body, response);
}

export async function handleLoad(exchange: Exchange, service: ClusterService): Promise<void> {
  const load = transfers(exchange, service, 'load');
  const body = streamRequestBody(exchange.request, exchange.options.loadBodyBytesMax, () => exchange.response.writeContinue());
  const request = { timeoutMs: exchange.parameters.timeoutMs, forward: !exchange.flag('redirect'), database: exchange.parameters.get('db') };
  // A whole database arrives here: bounded by the server's time for a whole request, each step by `timeout`.
  const response = await exchange.callService(exchange.options.requestTimeoutMs, (context) => load(request, body, context));
  if (response.servedBy !== '') exchange.setHeader('X-RQLITE-SERVED-BY', response.servedBy);
  const shape = { associative: false, timings: exchange.flag('timings'), mixed: true, raftIndex: false };
  await exchange.sendJson(200, shapeDataResponse(response, shape, exchange.elapsedSeconds()));
}

export async function handleBoot(exchange: Exchange, service: ClusterService): Promise<void> {
  const boot = transfers(exchange, service, 'boot');
  const body = streamRequestBody(exchange.request, exchange.options.loadBodyBytesMax, () => exchange.response.writeContinue());
  const request = { timeoutMs: exchange.parameters.timeoutMs, forward: false, database: exchange.parameters.get('db') };
  await exchange.callService(exchange.options.requestTimeoutMs, (context) => boot(request, body, context));
  exchange.sendEmpty(200);
}

/** rqlite's `trailing_logs`: a count of log entries; none when not given. */
function trailingEntries(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw badRequest(`invalid trailing_logs value: ${JSON.stringify(text)}`);
  return Number(text);
}

export async function handleSnapshot(exchange: Exchange, service: ClusterService): Promise<void> {
  const snapshot = transfers(exchange, service, 'snapshot');
  const request = { trailingEntries: trailingEntries(exchange.parameters.get('trailing_logs')) };
  const taken = await exchange.callService(exchange.parameters.timeoutMs, (context) => snapshot(request, context));
  exchange.sendEmpty(taken ? 200 : 204);
}

export async function handleReap(exchange: Exchange, service: ClusterService): Promise<void> {
  const reap = transfers(exchange, service, 'reap');
  const reaped = await exchange.callService(exchange.parameters.timeoutMs, (context) => reap(context));
  await exchange.sendJson(200, { snapshots_reaped: reaped.snapshotsReaped, wals_checkpointed: reaped.walsCheckpointed });
}
