/**
 * The dot commands of the rqlite-style shell, each with rqlite's syntax, output and
 * error texts (its `cmd/rqlite`): the settings toggles, `.help`, `.show`, and the
 * commands that ask the connected node (`.status`, `.nodes`, `.leader`, `.ready`,
 * `.expvar`, `.extensions`, `.snapshot`, `.reap`, `.stepdown`, `.remove`, `.demote`).
 * The file commands are in shell-rqlite-files.ts. When the node has no endpoint for a
 * command (this server does not offer it yet), the error says which one.
 */
import { parseJson, type JsonObject, type JsonValue } from '../client/json-parse.js';
import type { ConsistencyLevel } from '../client/types.js';
import { outputModes, type OutputMode } from './shell-format.js';
import type { ShellHttpResponse } from './shell-http.js';
import { fileCommands } from './shell-rqlite-files.js';
import { databaseCommands, databaseHelpEntries } from './shell-rqlite-databases.js';
import { prettyPrintJson } from './shell-rqlite-format.js';
import {
  isMissingEndpoint,
  parseReplyJson,
  RqliteCommandError,
  unexpectedStatus,
  type RqliteCommand,
  type RqliteSession,
  type RqliteSettings,
} from './shell-rqlite-session.js';
import { isJsonObject, runQuery } from './shell-rqlite-sql.js';

/** rqlite's `.help` lines; `.demote` (rqlite's newest shell has it) is worded here. Printed sorted, as rqlite sorts them. */
const helpEntries: readonly (readonly [string, string])[] = [
  ['.backup FILE', 'Write database backup to FILE'],
  ['.blobarray [on|off]', 'Show setting, or set BLOB data display as byte arrays'],
  ['.boot FILE', 'Boot the node using a SQLite file read from FILE'],
  ['.changes [on|off]', 'Show setting, or set display of last insert ID after writes'],
  ['.consistency [none|weak|linearizable|strong]', 'Show or set read consistency level'],
  ['.demote NODEID', 'Demote voting node NODEID to a non-voter'],
  ['.dump FILE [TABLE,TABLE...]', 'Dump the database in SQL text to FILE, optionally limited to TABLEs'],
  ['.exit', 'Exit this program'],
  ['.expvar', 'Show expvar (Go runtime) information for connected node'],
  ['.extensions', 'Show loaded SQLite extensions'],
  ['.forcewrites [on|off]', 'Show setting, or set all statements to be executed via /db/execute'],
  ['.help', 'Show this message'],
  ['.indexes', 'Show names of all indexes'],
  ['.leader', 'Show the current cluster leader'],
  ['.mode [column|csv|json|line]', 'Show or set output mode for query results'],
  ['.nodes [all]', "Show connection status of voting nodes. 'all' to show all nodes"],
  ['.output FILE', 'Send output to FILE, or stdout if FILE is omitted'],
  ['.quit', 'Exit this program'],
  ['.read FILE', 'Read and execute SQL statements from FILE'],
  ['.ready', 'Show ready status for connected node'],
  ['.remove NODEID', 'Remove node NODEID from the cluster'],
  ['.restore FILE', 'Load using SQLite file or SQL dump contained in FILE'],
  ['.schema', 'Show CREATE statements for all tables'],
  ['.reap', 'Request a snapshot reap on connected node'],
  ['.show', 'Show the current values for various settings'],
  ['.snapshot [TRAILINGLOGS]', 'Request a Raft snapshot and log truncation on connected node'],
  ['.status', 'Show status and diagnostic information for connected node'],
  ['.stepdown [NODEID]', 'Instruct the leader to stepdown, optionally specifying new Leader node'],
  ['.sysdump FILE', 'Dump system diagnostics to FILE'],
  ['.tables', 'List names of tables'],
  ['.timer [on|off]', 'Show setting, or set query timings on or off'],
];
/** rqlite aligns the descriptions in one column. */
const helpNameWidth = 46;

export const rqliteHelpText = `${[...helpEntries, ...databaseHelpEntries]
  .map(([name, description]) => `${name.padEnd(helpNameWidth)}${description}`)
  .sort()
  .join('\n')}\n`;

/** quorumlite's internal tables (src/state-machine/sql-policy.ts) stay out of `.tables`, `.indexes` and `.schema`. */
const userObjects = `substr(name, 1, 12) <> '_quorumlite_' AND substr(tbl_name, 1, 12) <> '_quorumlite_'`;

type ToggleName = 'blobArray' | 'changes' | 'forceWrites' | 'timer';

function toggle(name: ToggleName): RqliteCommand {
  return async (session, argument) => {
    if (argument === undefined) {
      session.terminal.write(session.settings[name] ? 'on\n' : 'off\n');
      return;
    }
    if (argument !== 'on' && argument !== 'off') throw new RqliteCommandError(`invalid option '${argument}'. Use 'on' or 'off' (default)`);
    session.settings[name] = argument === 'on';
  };
}

/** rqlite's levels; `auto` (which rqlite's server also knows) is accepted as well. */
const consistencyLevels: readonly ConsistencyLevel[] = ['none', 'weak', 'linearizable', 'strong', 'auto'];

const setConsistency: RqliteCommand = async (session, argument) => {
  if (argument === undefined) {
    session.terminal.write(`${session.settings.consistency}\n`);
    return;
  }
  if (!consistencyLevels.includes(argument as ConsistencyLevel)) {
    throw new RqliteCommandError(`invalid consistency '${argument}'. Use 'none', 'weak', 'linearizable', or 'strong'`);
  }
  session.settings.consistency = argument as ConsistencyLevel;
};

const setMode: RqliteCommand = async (session, argument) => {
  if (argument === undefined) {
    session.terminal.write(`${session.settings.mode}\n`);
    return;
  }
  if (!outputModes.includes(argument as OutputMode)) throw new RqliteCommandError(`invalid mode '${argument}'. Use 'column', 'csv', 'json', or 'line'`);
  session.settings.mode = argument as OutputMode;
};

function onOff(value: boolean): string {
  return value ? 'on' : 'off';
}

const show: RqliteCommand = async (session) => {
  const settings: RqliteSettings = session.settings;
  session.terminal.write(
    [
      `  blobarray: ${onOff(settings.blobArray)}`,
      `  changes: ${onOff(settings.changes)}`,
      `  consistency: ${settings.consistency}`,
      `  forcewrites: ${onOff(settings.forceWrites)}`,
      `  mode: ${settings.mode}`,
      `  output: ${session.output.name}`,
      `  timer: ${onOff(settings.timer)}\n`,
    ].join('\n'),
  );
};

function readJsonBody(response: ShellHttpResponse): JsonValue {
  return parseReplyJson(response.body, (text) => parseJson(text, 'auto'));
}

async function get(session: RqliteSession, path: string): Promise<ShellHttpResponse> {
  const exchange = await session.http.send('GET', path);
  session.noteExchange(exchange);
  if (exchange.response.status === 401) throw new RqliteCommandError('unauthorized');
  return exchange.response;
}

async function post(session: RqliteSession, method: 'POST' | 'DELETE', path: string, body?: JsonObject): Promise<ShellHttpResponse> {
  const bytes = body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(body));
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  const exchange = await session.http.send(method, path, bytes, headers);
  session.noteExchange(exchange);
  if (exchange.response.status === 401) throw new RqliteCommandError('unauthorized');
  return exchange.response;
}

/** rqlite's cliJSON: GET a JSON document and print it as a tree, only `key` of it when given. */
function jsonTree(path: string): RqliteCommand {
  return async (session, argument) => {
    const response = await get(session, path);
    if (response.status !== 200) {
      if (isMissingEndpoint(response.status, response.body, path)) {
        throw unexpectedStatus(`server responded with ${response.statusLine}`, response.status, response.body, 'GET', path);
      }
      throw new RqliteCommandError(`server responded with ${response.statusLine}: ${new TextDecoder().decode(response.body).trimEnd()}`);
    }
    const document = readJsonBody(response);
    if (!isJsonObject(document)) throw new RqliteCommandError(`/${path} did not answer with a JSON object`);
    const key = argument?.split(' ')[0];
    session.terminal.write(prettyPrintJson(key === undefined ? document : { [key]: document[key] ?? null }));
  };
}

const leader: RqliteCommand = async (session) => {
  const response = await get(session, 'nodes');
  if (response.status !== 200) throw new RqliteCommandError(`server responded with ${response.statusLine}: ${new TextDecoder().decode(response.body)}`);
  const nodes = readJsonBody(response);
  for (const [id, node] of Object.entries(isJsonObject(nodes) ? nodes : {})) {
    if (isJsonObject(node) && node.leader === true) {
      session.terminal.write(prettyPrintJson({ [id]: node }));
      return;
    }
  }
  throw new RqliteCommandError('no leader found');
};

const ready: RqliteCommand = async (session) => {
  const exchange = await session.http.send('GET', 'readyz');
  session.noteExchange(exchange);
  session.terminal.write(exchange.response.status === 200 ? 'ready\n' : 'not ready\n');
};

const extensions: RqliteCommand = async (session) => {
  const response = await get(session, 'status?key=extensions');
  // A node without extensions has no such status key: rqlite prints nothing.
  if (response.status === 404) return;
  const document = readJsonBody(response);
  const names = isJsonObject(document) && Array.isArray(document.names) ? document.names : [];
  for (const name of names) session.terminal.write(`${String(name)}\n`);
};

const snapshot: RqliteCommand = async (session, argument) => {
  let trailingLogs = 0;
  if (argument !== undefined) {
    if (!/^\d+$/.test(argument)) throw new RqliteCommandError(`invalid trailing logs value: ${argument}`);
    trailingLogs = Number(argument);
  }
  const path = `snapshot?trailing_logs=${trailingLogs}`;
  const response = await post(session, 'POST', path);
  if (response.status !== 200 && response.status !== 204) {
    throw unexpectedStatus(`server responded with ${response.statusLine}`, response.status, response.body, 'POST', path);
  }
};

const reap: RqliteCommand = async (session) => {
  const response = await post(session, 'POST', 'reap');
  if (response.status !== 200) throw unexpectedStatus(`server responded with ${response.statusLine}`, response.status, response.body, 'POST', 'reap');
  let document: JsonValue;
  try {
    document = parseJson(new TextDecoder().decode(response.body), 'auto');
  } catch (error) {
    throw new RqliteCommandError(`failed to decode response: ${error instanceof Error ? error.message : String(error)}`);
  }
  const count = (key: string): string => String(isJsonObject(document) && typeof document[key] !== 'object' ? (document[key] ?? 0) : 0);
  session.terminal.write(`snapshots reaped: ${count('snapshots_reaped')}, WALs checkpointed: ${count('wals_checkpointed')}\n`);
};

const stepdown: RqliteCommand = async (session, argument) => {
  const response = await post(session, 'POST', 'leader?wait=true', argument === undefined ? undefined : { id: argument });
  if (response.status !== 200) throw unexpectedStatus(`server responded with ${response.statusLine}`, response.status, response.body, 'POST', 'leader');
};

/** `.remove ID` (DELETE /remove) and `.demote ID` (POST /demote), each with body `{"id": ID}`. */
function nodeOperation(endpoint: 'remove' | 'demote', method: 'DELETE' | 'POST'): RqliteCommand {
  return async (session, argument) => {
    if (argument === undefined) throw new RqliteCommandError(`please specify the ID of the node to ${endpoint}`);
    const response = await post(session, method, endpoint, { id: argument });
    if (response.status !== 200) throw unexpectedStatus(`server responded with: ${response.statusLine}`, response.status, response.body, method, endpoint);
  };
}

const queries: readonly (readonly [string, string])[] = [
  ['.TABLES', `SELECT name FROM sqlite_master WHERE type='table' AND ${userObjects} ORDER BY name ASC`],
  ['.INDEXES', `SELECT sql FROM sqlite_master WHERE type='index' AND ${userObjects}`],
  ['.SCHEMA', `SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND ${userObjects} ORDER BY rowid ASC`],
];

/** Every dot command by its upper-case name (rqlite matches them in any letter case). */
export const rqliteCommands: ReadonlyMap<string, RqliteCommand> = new Map<string, RqliteCommand>([
  ['.BLOBARRAY', toggle('blobArray')],
  ['.CHANGES', toggle('changes')],
  ['.FORCEWRITES', toggle('forceWrites')],
  ['.TIMER', toggle('timer')],
  ['.CONSISTENCY', setConsistency],
  ['.MODE', setMode],
  ['.SHOW', show],
  ['.HELP', async (session) => session.terminal.write(rqliteHelpText)],
  ...queries.map(([name, sql]) => [name, (session: RqliteSession) => runQuery(session, sql)] as const),
  ['.STATUS', jsonTree('status')],
  ['.EXPVAR', jsonTree('debug/vars')],
  ['.NODES', async (session, argument) => jsonTree(argument === undefined ? 'nodes' : 'nodes?nonvoters')(session, undefined)],
  ['.LEADER', leader],
  ['.READY', ready],
  ['.EXTENSIONS', extensions],
  ['.SNAPSHOT', snapshot],
  ['.REAP', reap],
  ['.STEPDOWN', stepdown],
  ['.REMOVE', nodeOperation('remove', 'DELETE')],
  ['.DEMOTE', nodeOperation('demote', 'POST')],
  ...fileCommands,
  ...databaseCommands,
]);
