/**
 * Ours, not rqlite's (its server has one database): `.open NAME` makes the shell's SQL,
 * `.tables`, `.indexes` and `.schema` address database NAME (`?db=NAME`; `.open main`
 * goes back to the default one), as sqlite3's `.open` switches databases;
 * `.databases` lists the cluster's databases (GET /db/list), the one in use marked `*`.
 */
import { parseJson } from '../client/json-parse.js';
import { RqliteCommandError, parseReplyJson, type RqliteCommand, type RqliteSession } from './shell-rqlite-session.js';

const databaseNamePattern = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

async function databaseNames(session: RqliteSession): Promise<string[]> {
  const exchange = await session.http.send('GET', 'db/list');
  session.noteExchange(exchange);
  const response = exchange.response;
  if (response.status !== 200) {
    throw new RqliteCommandError(`server responded with ${response.statusLine}: ${new TextDecoder().decode(response.body).trimEnd()}`);
  }
  const document = parseReplyJson(response.body, (text) => parseJson(text, 'auto'));
  const listed = typeof document === 'object' && document !== null && !Array.isArray(document) ? document.databases : undefined;
  const names = Array.isArray(listed) ? listed : [];
  return names.map((name) => String(name));
}

const open: RqliteCommand = async (session, argument) => {
  if (argument === undefined) {
    session.terminal.write(`${session.settings.database}\n`);
    return;
  }
  if (!databaseNamePattern.test(argument)) throw new RqliteCommandError(`invalid database name '${argument}'`);
  if (!(await databaseNames(session)).includes(argument)) throw new RqliteCommandError(`database "${argument}" does not exist`);
  session.settings.database = argument;
};

const databases: RqliteCommand = async (session) => {
  for (const name of await databaseNames(session)) session.terminal.write(`${name === session.settings.database ? '*' : ' '} ${name}\n`);
};

export const databaseCommands: readonly (readonly [string, RqliteCommand])[] = [
  ['.OPEN', open],
  ['.DATABASES', databases],
];

export const databaseHelpEntries: readonly (readonly [string, string])[] = [
  ['.open [NAME]', 'Show the database in use, or use database NAME (quorumlite)'],
  ['.databases', 'List the databases of the cluster (quorumlite)'],
];

/** `db=NAME` for the session's database; nothing for the default one. */
export function addDatabaseParameter(session: RqliteSession, parameters: URLSearchParams): void {
  if (session.settings.database !== 'main') parameters.set('db', session.settings.database);
}
