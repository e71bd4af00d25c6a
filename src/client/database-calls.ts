/**
 * The calls of quorumlite's several databases (docs/API.md, "Several databases"):
 * `createDatabase`, `dropDatabase` and `listDatabases` on the client.
 *
 * - Create and drop are log entries on the leader (sent with `?redirect`). A create of an
 *   existing name, or past the server's -db-count-max, throws HTTP_ERROR with serverCode
 *   `DB_CONFLICT` (409); a drop of a missing name HTTP_ERROR 404 (`NOT_FOUND`). A name the
 *   server would refuse throws INVALID_ARGUMENT before anything is sent; a drop of `main`
 *   is refused by the server (400).
 * - Neither is idempotent on the server: a create retried after its reply was lost may
 *   answer DB_CONFLICT though it created. listDatabases() then tells what is there.
 */
import type { CallSpec } from './call-runner.js';
import { QuorumliteError } from './errors.js';
import { parseJson, type JsonValue } from './json-parse.js';
import type { ResolvedConfig } from './options.js';
import type { HttpResponse } from './transport.js';

export interface DatabaseChange {
  readonly database: string;
  /** The log index of the create or drop entry. */
  readonly raftIndex: number;
}

export interface DatabaseList {
  /** Every database the node has applied, `main` first. */
  readonly databases: readonly string[];
  /** The server's -db-count-max (`main` included). */
  readonly countMax: number;
}

const namePattern = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
const utf8Decoder = new TextDecoder();

function bodyObject(response: HttpResponse, nodeUrl: string): Record<string, JsonValue> {
  let body: JsonValue;
  try {
    body = parseJson(utf8Decoder.decode(response.body), 'auto');
  } catch (error) {
    throw new QuorumliteError('SERVER_ERROR', `${nodeUrl} answered with a body that is not JSON`, { cause: error, nodeUrl });
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new QuorumliteError('SERVER_ERROR', `${nodeUrl} answered with no object`, { nodeUrl });
  }
  return body;
}

export function databaseChangeSpec(change: 'create' | 'drop', name: string, config: ResolvedConfig): CallSpec<DatabaseChange> {
  if (typeof name !== 'string' || !namePattern.test(name)) {
    throw new QuorumliteError('INVALID_ARGUMENT', `not a database name (1 to 64 of A-Z a-z 0-9 _ -, not starting with -): ${String(name)}`);
  }
  return {
    method: 'POST',
    path: `/db/${change}`,
    parameters: [['db', name]],
    target: 'leader',
    redirectable: true,
    responseBytesMax: config.responseBytesMax,
    interpret: (response, nodeUrl) => {
      const body = bodyObject(response, nodeUrl);
      if (typeof body.raft_index !== 'number') throw new QuorumliteError('SERVER_ERROR', `${nodeUrl}: /db/${change} answered without raft_index`, { nodeUrl });
      return { database: name, raftIndex: body.raft_index };
    },
  };
}

export function databaseListSpec(config: ResolvedConfig): CallSpec<DatabaseList> {
  return {
    method: 'GET',
    path: '/db/list',
    parameters: [],
    target: 'any',
    redirectable: false,
    responseBytesMax: config.responseBytesMax,
    interpret: (response, nodeUrl) => {
      const body = bodyObject(response, nodeUrl);
      const databases = body.databases;
      if (!Array.isArray(databases) || !databases.every((name) => typeof name === 'string') || typeof body.count_max !== 'number') {
        throw new QuorumliteError('SERVER_ERROR', `${nodeUrl}: /db/list answered an unexpected shape`, { nodeUrl });
      }
      return { databases: databases as string[], countMax: body.count_max };
    },
  };
}
