/**
 * SQL in the rqlite-style shell. A typed statement goes, as rqlite's shell sends it, to
 * `/db/request` (to `/db/execute` under `.forcewrites`) as a one-element JSON array,
 * with `timings` under `.timer`; quorumlite also passes `blob_array` under
 * `.blobarray` and `level` under `.consistency`, which rqlite's shell applies to
 * `.tables`, `.indexes` and `.schema` only. Those three read through `/db/query`.
 *
 * Printed as rqlite prints: rows in the `.mode` format then `Run Time: 0.000123
 * seconds`; a write as `1 row affected` (`0 row`, `2 rows`), with `(0.000123 sec)`
 * under `.timer` and `last insert ID: 7` under `.changes`; a statement's SQL error as
 * `Error: <message>`, all to the `.output` target.
 */
import { parseJson, type JsonObject, type JsonValue } from '../client/json-parse.js';
import { addDatabaseParameter } from './shell-rqlite-databases.js';
import { formatRqliteTable, type ResultTable } from './shell-rqlite-format.js';
import { parseReplyJson, RqliteCommandError, type RqliteSession } from './shell-rqlite-session.js';

function readJson(body: Uint8Array): JsonValue {
  return parseReplyJson(body, (text) => parseJson(text, 'auto'));
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function queryString(parameters: URLSearchParams): string {
  const text = parameters.toString();
  return text === '' ? '' : `?${text}`;
}

/** A reply's results, or the reply-level error / status rqlite's shell reports. */
function replyResults(response: { status: number; statusLine: string; body: Uint8Array }): { results: JsonObject[]; time: number | undefined } {
  if (response.status !== 200) {
    const body = new TextDecoder().decode(response.body).trimEnd();
    throw new RqliteCommandError(`server responded with ${response.statusLine}: ${body}`);
  }
  const reply = readJson(response.body);
  if (!isJsonObject(reply)) throw new RqliteCommandError('the server replied with something other than a JSON object');
  if (typeof reply.error === 'string' && reply.error !== '') throw new RqliteCommandError(reply.error);
  const results = Array.isArray(reply.results) ? reply.results.filter(isJsonObject) : [];
  return { results, time: typeof reply.time === 'number' ? reply.time : undefined };
}

export async function runStatement(session: RqliteSession, sql: string): Promise<void> {
  const { settings } = session;
  const parameters = new URLSearchParams();
  if (settings.timer) parameters.set('timings', '');
  if (settings.blobArray) parameters.set('blob_array', '');
  if (!settings.forceWrites && settings.consistency !== 'weak') parameters.set('level', settings.consistency);
  addDatabaseParameter(session, parameters);
  const endpoint = settings.forceWrites ? 'db/execute' : 'db/request';
  const body = new TextEncoder().encode(JSON.stringify([sql]));
  const exchange = await session.http.send('POST', `${endpoint}${queryString(parameters)}`, body, { 'content-type': 'application/json' });
  session.noteExchange(exchange);
  const { results, time } = replyResults(exchange.response);
  if (results.length === 0) throw new RqliteCommandError('unexpected results length: 0');
  // rqlite's shell expects one result a line; a line holding several statements gets each shown.
  for (const result of results) writeResult(session, result, time);
}

function resultTable(result: JsonObject): ResultTable {
  const columns = Array.isArray(result.columns) ? result.columns.map((column) => String(column)) : [];
  const values = Array.isArray(result.values) ? result.values.map((row) => (Array.isArray(row) ? row : [])) : [];
  return { columns, values };
}

function seconds(result: JsonObject, requestTime: number | undefined): string {
  // quorumlite reports a write's time for the whole request only; one statement, the same time.
  const time = typeof result.time === 'number' ? result.time : (requestTime ?? 0);
  return time.toFixed(6);
}

function writeResult(session: RqliteSession, result: JsonObject, requestTime: number | undefined): void {
  const { settings, output } = session;
  if (typeof result.error === 'string' && result.error !== '') {
    session.errorCount += 1;
    output.write(`Error: ${result.error}\n`);
    return;
  }
  if ('columns' in result || 'types' in result || 'values' in result) {
    output.write(formatRqliteTable(resultTable(result), settings.mode));
    if (settings.timer) output.write(`Run Time: ${seconds(result, requestTime)} seconds\n`);
    return;
  }
  const rowsAffected = typeof result.rows_affected === 'number' || typeof result.rows_affected === 'bigint' ? result.rows_affected : 0;
  const rowWord = rowsAffected > 1 ? 'rows' : 'row';
  output.write(settings.timer ? `${rowsAffected} ${rowWord} affected (${seconds(result, requestTime)} sec)\n` : `${rowsAffected} ${rowWord} affected\n`);
  if (settings.changes) {
    const lastInsertId = typeof result.last_insert_id === 'number' || typeof result.last_insert_id === 'bigint' ? result.last_insert_id : 0;
    output.write(`last insert ID: ${lastInsertId}\n`);
  }
}

/** `.tables`, `.indexes`, `.schema`: one read through /db/query at the session's consistency. */
export async function runQuery(session: RqliteSession, sql: string): Promise<void> {
  const { settings } = session;
  const parameters = new URLSearchParams({ level: settings.consistency, q: sql });
  if (settings.timer) parameters.set('timings', '');
  if (settings.blobArray) parameters.set('blob_array', '');
  addDatabaseParameter(session, parameters);
  const exchange = await session.http.send('GET', `db/query${queryString(parameters)}`);
  session.noteExchange(exchange);
  const { results } = replyResults(exchange.response);
  const result = results[0];
  if (results.length !== 1 || result === undefined) throw new RqliteCommandError(`unexpected results length: ${results.length}`);
  if (typeof result.error === 'string' && result.error !== '') throw new RqliteCommandError(result.error);
  session.output.write(formatRqliteTable(resultTable(result), settings.mode));
  if (settings.timer) session.output.write(`Run Time: ${seconds(result, undefined)} seconds\n`);
}
