/** The dot commands of `quorumlite shell`. Each prints its result or throws a coded error. */
import { QuorumliteError } from '../client/errors.js';
import type { JsonValue } from '../client/json-parse.js';
import type { ConsistencyLevel, Value } from '../client/types.js';
import { displayValue, formatTable, outputModes, type OutputMode } from './shell-format.js';
import type { DotCommand } from './shell-input.js';
import type { ShellSession } from './shell-session.js';

/** quorumlite's internal tables (state-machine/sql-policy.ts); hidden like sqlite_*. */
const internalNamePrefix = '_quorumlite_';
const userObjectsFilter = `name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND substr(name, 1, ${internalNamePrefix.length}) <> '${internalNamePrefix}'`;
/** `.tables` lays names out in columns across this many characters, as sqlite3 does. */
const tablesLineWidth = 80;
/** `.read` files may include `.read` files this deep, no deeper (a cycle stops here). */
export const readDepthMax = 16;

const dotCommandHelp = `.backup FILE            write a backup of the database (SQLite file) to FILE
.consistency [LEVEL]    show or set read consistency: none, weak, linearizable, strong, auto
.databases              list the cluster's databases, the one in use marked *
.dump [TABLE …]         print the database (or the tables) as SQL
.exit [CODE]            leave the shell (also .quit)
.headers on|off         show column headers
.help                   show this help
.indexes [TABLE]        list indexes (of TABLE)
.leader                 show the leader
.mode MODE              output mode: column, csv, json, line
.nodes                  list the cluster's nodes
.open [NAME]            show the database in use, or use database NAME (main: the default)
.read FILE              run the SQL and dot commands in FILE
.remove ID              remove node ID from the cluster
.restore FILE           load FILE (a SQLite file or SQL text) into the database
.schema [TABLE]         show CREATE statements (of TABLE)
.status                 show the status of the node the shell talks to
.stepdown [ID]          ask the leader to step down (and hand over to ID)
.tables [PATTERN]       list tables (matching the LIKE pattern)
.timer on|off           time each statement
`;

type Handler = (session: ShellSession, args: readonly string[]) => Promise<void>;

const handlers: Record<string, Handler> = {
  help: async (session) => session.output.write(dotCommandHelp),
  exit: async (session, args) => exit(session, args),
  quit: async (session, args) => exit(session, args),
  mode: async (session, args) => setMode(session, args),
  headers: async (session, args) => {
    session.settings.headers = onOff(args, '.headers');
  },
  timer: async (session, args) => {
    session.settings.timer = onOff(args, '.timer');
  },
  consistency: async (session, args) => setConsistency(session, args),
  tables: async (session, args) => listTables(session, args),
  schema: async (session, args) => showSchema(session, args),
  indexes: async (session, args) => listIndexes(session, args),
  indices: async (session, args) => listIndexes(session, args),
  nodes: async (session) => listNodes(session),
  status: async (session) => session.output.write(`${stringifyJson(await session.client.status(), 2)}\n`),
  leader: async (session) => showLeader(session),
  stepdown: async (session, args) => {
    await session.client.stepDown(optionalArgument(args, '.stepdown [ID]'), { wait: true });
    const leader = session.client.knownLeader;
    session.output.write(`leader stepped down${leader === undefined ? '' : `; the leader is now ${leader}`}\n`);
  },
  remove: async (session, args) => {
    const nodeId = requiredArgument(args, '.remove ID');
    await session.client.removeNode(nodeId);
    session.output.write(`node ${nodeId} removed\n`);
  },
  backup: async (session, args) => backup(session, args),
  restore: async (session, args) => restore(session, args),
  dump: async (session, args) => {
    const dump = await session.client.backup({ format: 'sql', tables: args });
    session.output.write(new TextDecoder().decode(dump));
  },
  read: async (session, args) => readFile(session, args),
  open: async (session, args) => openDatabase(session, args),
  databases: async (session) => {
    const { databases } = await session.client.listDatabases();
    session.output.write(databases.map((name) => `${name === session.database ? '*' : ' '} ${name}\n`).join(''));
  },
};

export async function runDotCommand(session: ShellSession, command: DotCommand): Promise<void> {
  const handler = Object.hasOwn(handlers, command.name) ? handlers[command.name] : undefined;
  if (handler === undefined) throw usage(`unknown command or invalid arguments: "${command.name}". Enter ".help" for help`);
  await handler(session, command.args);
}

function usage(message: string): QuorumliteError {
  return new QuorumliteError('INVALID_ARGUMENT', message);
}

function requiredArgument(args: readonly string[], form: string): string {
  if (args.length !== 1 || args[0] === '') throw usage(`usage: ${form}`);
  return args[0] as string;
}

function optionalArgument(args: readonly string[], form: string): string | undefined {
  if (args.length > 1) throw usage(`usage: ${form}`);
  return args[0];
}

function onOff(args: readonly string[], name: string): boolean {
  const value = args.length === 1 ? args[0]?.toLowerCase() : undefined;
  if (value === 'on' || value === '1' || value === 'yes') return true;
  if (value === 'off' || value === '0' || value === 'no') return false;
  throw usage(`usage: ${name} on|off`);
}

function exit(session: ShellSession, args: readonly string[]): void {
  const code = args[0] === undefined ? 0 : Number(args[0]);
  if (!Number.isInteger(code) || code < 0 || code > 255 || args.length > 1) throw usage('usage: .exit [CODE]');
  session.exitCode = code;
}

function setMode(session: ShellSession, args: readonly string[]): void {
  const mode = args[0]?.toLowerCase();
  if (args.length !== 1 || !outputModes.includes(mode as OutputMode)) throw usage(`usage: .mode ${outputModes.join('|')}`);
  session.settings.mode = mode as OutputMode;
}

function setConsistency(session: ShellSession, args: readonly string[]): void {
  if (args.length === 0) {
    session.output.write(`${session.settings.consistency}\n`);
    return;
  }
  const levels: readonly ConsistencyLevel[] = ['none', 'weak', 'linearizable', 'strong', 'auto'];
  const level = args[0]?.toLowerCase() as ConsistencyLevel;
  if (args.length !== 1 || !levels.includes(level)) throw usage(`usage: .consistency ${levels.join('|')}`);
  session.settings.consistency = level;
}

async function queryColumn(session: ShellSession, sql: string, args: readonly string[]): Promise<string[]> {
  const reply = await session.client.query<Value[]>({ sql, args }, { rowMode: 'array', consistency: session.settings.consistency });
  return (reply.results[0]?.rows ?? []).map((row) => displayValue(row[0] ?? null));
}

async function listTables(session: ShellSession, args: readonly string[]): Promise<void> {
  const pattern = optionalArgument(args, '.tables [PATTERN]');
  const names = await queryColumn(
    session,
    `SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND ${userObjectsFilter}${pattern === undefined ? '' : ' AND name LIKE ?'} ORDER BY 1`,
    pattern === undefined ? [] : [pattern],
  );
  session.output.write(layoutInColumns(names, tablesLineWidth));
}

/** sqlite3's `.tables` layout: names column-major in as many columns as fit the line. */
export function layoutInColumns(names: readonly string[], lineWidth: number): string {
  if (names.length === 0) return '';
  const width = Math.max(...names.map((name) => name.length));
  const columnCount = Math.max(1, Math.floor(lineWidth / (width + 2)));
  const rowCount = Math.ceil(names.length / columnCount);
  const lines: string[] = [];
  for (let rowIndex = 0; rowIndex < rowCount; rowIndex += 1) {
    const cells: string[] = [];
    for (let columnIndex = 0; columnIndex < columnCount; columnIndex += 1) {
      const name = names[rowIndex + columnIndex * rowCount];
      if (name !== undefined) cells.push(name.padEnd(width));
    }
    lines.push(cells.join('  ').trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

async function showSchema(session: ShellSession, args: readonly string[]): Promise<void> {
  const table = optionalArgument(args, '.schema [TABLE]');
  const tableFilter = table === undefined ? '' : ' AND tbl_name LIKE ?';
  const statements = await queryColumn(
    session,
    `SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND ${userObjectsFilter}${tableFilter} ORDER BY tbl_name, type DESC, name`,
    table === undefined ? [] : [table],
  );
  session.output.write(statements.map((sql) => `${sql};\n`).join(''));
}

async function listIndexes(session: ShellSession, args: readonly string[]): Promise<void> {
  const table = optionalArgument(args, '.indexes [TABLE]');
  const names = await queryColumn(
    session,
    `SELECT name FROM sqlite_master WHERE type = 'index' AND ${userObjectsFilter}${table === undefined ? '' : ' AND tbl_name LIKE ?'} ORDER BY 1`,
    table === undefined ? [] : [table],
  );
  session.output.write(names.map((name) => `${name}\n`).join(''));
}

async function listNodes(session: ShellSession): Promise<void> {
  const nodes = await session.client.nodes();
  const rows = nodes.map((node) => [node.id, node.apiUrl, node.raftAddress, yesNo(node.voter), yesNo(node.reachable), yesNo(node.leader), node.error ?? null]);
  const text = formatTable({ columns: ['id', 'api_addr', 'addr', 'voter', 'reachable', 'leader', 'error'], rows }, { mode: 'column', headers: true });
  session.output.write(text === '' ? 'no nodes\n' : text);
}

function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

async function showLeader(session: ShellSession): Promise<void> {
  const leader = await session.client.leader();
  session.output.write(leader === undefined ? 'no leader\n' : `${leader.id}  ${leader.apiUrl}  ${leader.raftAddress}\n`);
}

async function backup(session: ShellSession, args: readonly string[]): Promise<void> {
  const path = requiredArgument(args, '.backup FILE');
  const content = await session.client.backup({ format: 'binary' });
  await session.files.writeFile(path, content);
  session.output.write(`backup of ${content.byteLength} bytes written to ${path}\n`);
}

const sqliteHeader = 'SQLite format 3\0';

async function restore(session: ShellSession, args: readonly string[]): Promise<void> {
  const path = requiredArgument(args, '.restore FILE');
  const content = await session.files.readFile(path);
  const isSqliteFile = new TextDecoder('latin1').decode(content.subarray(0, sqliteHeader.length)) === sqliteHeader;
  await session.client.load(isSqliteFile ? content : new TextDecoder().decode(content));
  session.output.write(`restored ${path} (${content.byteLength} bytes)\n`);
}

/**
 * `.open NAME`: the shell's SQL, `.tables`, `.schema`, `.dump`, `.backup` and `.restore`
 * address database NAME from now on (ours: sqlite3's `.open` opens a file; here the
 * cluster's databases are what there is to open). A name the cluster lacks is refused.
 */
async function openDatabase(session: ShellSession, args: readonly string[]): Promise<void> {
  const name = optionalArgument(args, '.open [NAME]');
  if (name === undefined) {
    session.output.write(`${session.database}\n`);
    return;
  }
  if (session.clientFor === undefined) throw usage('.open is not available in this shell');
  const { databases } = await session.client.listDatabases();
  if (!databases.includes(name)) throw usage(`database "${name}" does not exist`);
  const previous = session.client;
  session.client = session.clientFor(name);
  session.database = name;
  await previous.close();
}

async function readFile(session: ShellSession, args: readonly string[]): Promise<void> {
  const path = requiredArgument(args, '.read FILE');
  if (session.readDepth >= readDepthMax) throw usage(`.read nested deeper than ${readDepthMax}`);
  const text = new TextDecoder().decode(await session.files.readFile(path));
  session.readDepth += 1;
  try {
    await session.processScript(text, true);
  } finally {
    session.readDepth -= 1;
  }
}

/** JSON.stringify that writes bigints as integer literals. */
export function stringifyJson(value: JsonValue, indent: number, depth = 0): string {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const pad = ' '.repeat(indent * (depth + 1));
  const closePad = ' '.repeat(indent * depth);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((item) => pad + stringifyJson(item, indent, depth + 1)).join(',\n')}\n${closePad}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([key, item]) => `${pad}${JSON.stringify(key)}: ${stringifyJson(item, indent, depth + 1)}`).join(',\n')}\n${closePad}}`;
}
