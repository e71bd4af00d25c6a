/**
 * A one-node rqlite double on an in-memory SQLite (better-sqlite3), answering the
 * documented shapes of /db/execute, /db/query, /db/request, /nodes, /status,
 * /leader, /remove, /db/backup (fmt=sql only) and /db/load (SQL text only), with
 * our extras raft_index, min_index and Idempotency-Key dedup. For client and shell
 * tests until the real server exists; it is not the server.
 */
import Database from 'better-sqlite3';
import type { ServerResponse } from 'node:http';
import { parseJson, type JsonValue } from '../../../src/client/json-parse.js';
import { sendJson, startFakeNode, type FakeNode, type RecordedRequest } from './fake-node.js';

export interface MiniRqlite {
  readonly node: FakeNode;
  readonly url: string;
  readonly database: Database.Database;
  /** Number of times each idempotency key was applied (must stay 1). */
  readonly appliedKeys: Map<string, number>;
  raftIndex: number;
  close(): Promise<void>;
}

/** Remembered replies for repeated idempotency keys. */
export const dedupEntriesMax = 10_000;

export async function startMiniRqlite(): Promise<MiniRqlite> {
  const database = new Database(':memory:');
  database.defaultSafeIntegers(true);
  const replies = new Map<string, string>();
  const mini: MiniRqlite = {
    node: undefined as unknown as FakeNode,
    url: '',
    database,
    appliedKeys: new Map(),
    raftIndex: 0,
    close: async () => {
      await mini.node.close();
      database.close();
    },
  };
  const node = await startFakeNode((request, response) => route(mini, replies, request, response));
  Object.assign(mini, { node, url: node.url });
  return mini;
}

function route(mini: MiniRqlite, replies: Map<string, string>, request: RecordedRequest, response: ServerResponse): void {
  switch (`${request.method} ${request.path}`) {
    case 'POST /db/execute':
    case 'POST /db/request':
      write(mini, replies, request, response);
      break;
    case 'POST /db/query':
    case 'GET /db/query':
      sendRaw(response, 200, runRequest(mini, request, statementsOf(request), false));
      break;
    case 'GET /nodes':
      sendJson(response, 200, { nodes: [nodeObject(mini)] });
      break;
    case 'GET /leader':
      sendJson(response, 200, nodeObject(mini));
      break;
    case 'POST /leader':
      sendJson(response, 200, {});
      break;
    case 'DELETE /remove':
      sendJson(response, 404, { error: `node not found: ${(JSON.parse(request.body) as { id?: string }).id}` });
      break;
    case 'GET /status':
      sendJson(response, 200, { store: { raft: { state: 'Leader', applied_index: mini.raftIndex }, leader: { node_id: 'mini', addr: 'mini:4002' } } });
      break;
    case 'GET /db/backup':
      backup(mini, request, response);
      break;
    case 'POST /db/load':
      load(mini, request, response);
      break;
    default:
      sendJson(response, 404, { error: `no route for ${request.method} ${request.path}` });
      break;
  }
}

function nodeObject(mini: MiniRqlite): Record<string, unknown> {
  return { id: 'mini', api_addr: mini.url, addr: 'mini:4002', voter: true, reachable: true, leader: true };
}

function write(mini: MiniRqlite, replies: Map<string, string>, request: RecordedRequest, response: ServerResponse): void {
  const key = request.headers['idempotency-key'];
  if (typeof key === 'string' && replies.has(key)) {
    sendRaw(response, 200, replies.get(key) as string);
    return;
  }
  let statements: JsonValue[];
  try {
    statements = statementsOf(request);
  } catch (error) {
    sendJson(response, 400, { error: (error as Error).message });
    return;
  }
  const reply = runRequest(mini, request, statements, true);
  if (typeof key === 'string') {
    mini.appliedKeys.set(key, (mini.appliedKeys.get(key) ?? 0) + 1);
    if (replies.size < dedupEntriesMax) replies.set(key, reply);
  }
  sendRaw(response, 200, reply);
}

function statementsOf(request: RecordedRequest): JsonValue[] {
  if (request.method === 'GET') return [request.query.get('q') ?? ''];
  const parsed = parseJson(request.body, 'auto');
  if (!Array.isArray(parsed)) throw new Error('invalid JSON body');
  if (parsed.length === 0) throw new Error('no statements');
  return parsed;
}

function runRequest(mini: MiniRqlite, request: RecordedRequest, statements: JsonValue[], mayWrite: boolean): string {
  const options = { blobArray: request.query.has('blob_array') };
  const inTransaction = request.query.has('transaction');
  const results: string[] = [];
  if (inTransaction) mini.database.exec('BEGIN');
  let wrote = false;
  for (const statement of statements) {
    const result = runStatement(mini.database, statement, mayWrite, options);
    wrote ||= result.wrote;
    results.push(result.json);
    if (inTransaction && result.failed) break;
  }
  if (inTransaction) mini.database.exec(results.some((json) => json.startsWith('{"error"')) ? 'ROLLBACK' : 'COMMIT');
  if (wrote) mini.raftIndex += 1;
  const index = wrote && request.query.has('raft_index') ? `,"raft_index":${mini.raftIndex}` : '';
  return `{"results":[${results.join(',')}]${index}}`;
}

function runStatement(
  database: Database.Database,
  statement: JsonValue,
  mayWrite: boolean,
  options: { blobArray: boolean },
): { json: string; wrote: boolean; failed: boolean } {
  const [sql, parameters] = splitStatement(statement);
  try {
    const prepared = database.prepare(sql);
    if (prepared.reader) {
      const rows = prepared.raw(true).all(...parameters) as unknown[][];
      const columns = prepared.columns();
      const values = rows.length === 0 ? '' : `,"values":[${rows.map((row) => `[${row.map((cell) => toJson(cell, options)).join(',')}]`).join(',')}]`;
      const names = JSON.stringify(columns.map((column) => column.name));
      const types = JSON.stringify(columns.map((column) => (column.type ?? '').toLowerCase()));
      return { json: `{"columns":${names},"types":${types}${values}}`, wrote: false, failed: false };
    }
    if (!mayWrite) return { json: '{"error":"attempt to change database via query operation"}', wrote: false, failed: true };
    const outcome = prepared.run(...parameters);
    return { json: `{"last_insert_id":${outcome.lastInsertRowid},"rows_affected":${outcome.changes}}`, wrote: true, failed: false };
  } catch (error) {
    return { json: JSON.stringify({ error: (error as Error).message }), wrote: false, failed: true };
  }
}

function splitStatement(statement: JsonValue): [string, unknown[]] {
  if (typeof statement === 'string') return [statement, []];
  if (!Array.isArray(statement) || typeof statement[0] !== 'string') throw new Error('bad statement');
  const parameters: unknown[] = [];
  for (const raw of statement.slice(1)) {
    if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
      const named: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(raw)) named[name] = bindable(value);
      parameters.push(named);
    } else {
      parameters.push(bindable(raw));
    }
  }
  return [statement[0], parameters];
}

function bindable(value: JsonValue | undefined): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && /^x'([0-9a-f]{2})*'$/i.test(value)) return Buffer.from(value.slice(2, -1), 'hex');
  if (Array.isArray(value)) return Buffer.from(value.map((byte) => Number(byte)));
  return value;
}

function toJson(cell: unknown, options: { blobArray: boolean }): string {
  if (cell === null || cell === undefined) return 'null';
  if (typeof cell === 'bigint') return cell.toString();
  if (Buffer.isBuffer(cell)) return options.blobArray ? JSON.stringify([...cell]) : JSON.stringify(cell.toString('base64'));
  return JSON.stringify(cell);
}

function backup(mini: MiniRqlite, request: RecordedRequest, response: ServerResponse): void {
  if (request.query.get('fmt') !== 'sql') {
    sendJson(response, 501, { error: 'mini-rqlite only dumps fmt=sql' });
    return;
  }
  const tables = mini.database.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as {
    name: string;
    sql: string;
  }[];
  const lines = ['PRAGMA foreign_keys=OFF;', 'BEGIN TRANSACTION;'];
  for (const table of tables) {
    lines.push(`${table.sql};`);
    for (const row of mini.database.prepare(`SELECT * FROM "${table.name}"`).raw(true).all() as unknown[][]) {
      lines.push(`INSERT INTO "${table.name}" VALUES(${row.map(sqlLiteral).join(',')});`);
    }
  }
  lines.push('COMMIT;', '');
  response.writeHead(200, { 'content-type': 'application/sql' });
  response.end(lines.join('\n'));
}

function sqlLiteral(value: unknown): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  if (Buffer.isBuffer(value)) return `X'${value.toString('hex').toUpperCase()}'`;
  return String(value);
}

function load(mini: MiniRqlite, request: RecordedRequest, response: ServerResponse): void {
  try {
    mini.database.exec(request.body);
    mini.raftIndex += 1;
    sendJson(response, 200, { results: [] });
  } catch (error) {
    sendJson(response, 400, { error: (error as Error).message });
  }
}

function sendRaw(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}
