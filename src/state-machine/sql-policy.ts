/**
 * What SQL quorumlite replicates and what it refuses, decided on tokens (never on raw
 * text, so a keyword inside a string or comment does not count). The same rules run on
 * the receiving node (so a refusal never reaches the log) and again at apply (so every
 * node refuses identically even if a command slipped through).
 */
import { StateMachineError } from './errors.js';
import { splitSqlStatements, type SqlStatementText } from '../common/sql-statements.js';
import { SqlSyntaxError, type Token } from '../common/sql-tokens.js';
import type { Statement } from './types.js';

/** Internal tables live under this prefix; users may not create, change or drop them. */
export const internalNamePrefix = '_quorumlite_';
const internalNamePrefixUpper = internalNamePrefix.toUpperCase();

/** Pragmas a write may set: stored in the database file, identical on every node. */
const assignablePragmas = new Set(['USER_VERSION']);

/** Pragmas that take an argument but only report: fine anywhere. */
const reportingPragmasWithArgument = new Set([
  'TABLE_INFO',
  'TABLE_XINFO',
  'TABLE_LIST',
  'INDEX_LIST',
  'INDEX_INFO',
  'INDEX_XINFO',
  'FOREIGN_KEY_LIST',
  'FOREIGN_KEY_CHECK',
  'INTEGRITY_CHECK',
  'QUICK_CHECK',
]);

/** Pragmas a write may read (no argument): their answers are the same on every node. */
const reportingPragmasInWrites = new Set([
  ...reportingPragmasWithArgument,
  'USER_VERSION',
  'ENCODING',
  'SCHEMA_VERSION',
  'FUNCTION_LIST',
  'COLLATION_LIST',
  'PRAGMA_LIST',
  'MODULE_LIST',
  'COMPILE_OPTIONS',
]);

/**
 * application_id holds quorumlite's applied-index marker (applied-marker.ts), set once per
 * transaction: a write may neither set it nor read it (it would see how entries were batched).
 */
const applicationIdRefusal = "disallowed pragma: application_id holds quorumlite's applied index; writes can neither set nor read it (queries can read it)";

const transactionControl = new Set(['BEGIN', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE']);

export type SqlPurpose = 'write' | 'read';

function refuse(message: string): never {
  throw new StateMachineError('REFUSED_SQL', message);
}

/** Splits one request statement into SQLite statements, turning tokenizer errors into refusals. */
function splitForPolicy(sql: string): SqlStatementText[] {
  try {
    return splitSqlStatements(sql);
  } catch (error) {
    if (error instanceof SqlSyntaxError) refuse(error.message);
    throw error;
  }
}

/** The first keyword after any EXPLAIN [QUERY PLAN]. */
function leadingKeywordIndex(tokens: readonly Token[]): number {
  let position = 0;
  if (tokens[position]?.text === 'EXPLAIN') {
    position++;
    if (tokens[position]?.text === 'QUERY' && tokens[position + 1]?.text === 'PLAN') position += 2;
  }
  return position;
}

function isName(token: Token): boolean {
  return token.kind === 'word' || token.kind === 'quoted-identifier' || token.kind === 'string';
}

function checkPragma(tokens: readonly Token[], position: number, purpose: SqlPurpose): void {
  let nameIndex = position + 1;
  if (tokens[nameIndex + 1]?.text === '.') nameIndex += 2;
  const nameToken = tokens[nameIndex];
  if (nameToken === undefined || !isName(nameToken)) refuse('PRAGMA without a name');
  const name = nameToken.text.toUpperCase();
  const hasArgument = tokens.length > nameIndex + 1;
  const label = `disallowed pragma: ${name.toLowerCase()}`;
  if (purpose === 'read') {
    if (hasArgument && !reportingPragmasWithArgument.has(name)) refuse(`${label} (queries cannot change settings)`);
    return;
  }
  if (assignablePragmas.has(name)) return;
  refuseUnlessReadableInWrites(name, `${label} (it would break replication, durability or determinism)`);
  if (hasArgument && !reportingPragmasWithArgument.has(name)) refuse(`${label} cannot be set`);
}

/** A write may read a pragma only if its answer is the same on every node; application_id it may not read at all. */
function refuseUnlessReadableInWrites(pragma: string, refusal: string): void {
  if (pragma === 'APPLICATION_ID') refuse(applicationIdRefusal);
  if (!reportingPragmasInWrites.has(pragma)) refuse(refusal);
}

function checkLeadingKeyword(tokens: readonly Token[], purpose: SqlPurpose): void {
  const position = leadingKeywordIndex(tokens);
  const keyword = tokens[position]?.text ?? '';
  if (transactionControl.has(keyword)) {
    refuse(`${keyword} is not allowed: a request is one unit; use the transaction flag for all-or-nothing`);
  }
  if (keyword === 'ATTACH' || keyword === 'DETACH') refuse(`${keyword} is not allowed: a replicated database is one file`);
  if (keyword === 'PRAGMA') checkPragma(tokens, position, purpose);
  if (keyword === 'VACUUM') {
    const into = tokens.some((token) => token.kind === 'word' && token.text === 'INTO');
    refuse(into ? 'VACUUM INTO is not allowed: use /db/backup' : 'VACUUM is not allowed inside a replicated write');
  }
  const next = tokens[position + 1]?.text;
  if (keyword === 'CREATE' && (next === 'TEMP' || next === 'TEMPORARY')) {
    refuse('CREATE TEMP is not allowed: temporary objects belong to one connection and vanish on restart');
  }
}

function checkTokens(tokens: readonly Token[], purpose: SqlPurpose): void {
  for (let position = 0; position < tokens.length; position++) {
    const token = tokens[position] as Token;
    if (purpose === 'read') {
      refuseLoadExtension(token);
      continue;
    }
    checkWriteToken(token);
    checkDeterminismToken(token, tokens[position - 1], tokens[position + 1]);
  }
}

/** Reads and writes alike: extensions load only through `-extensions-path`. */
function refuseLoadExtension(token: Token): void {
  if (token.kind === 'word' && token.text === 'LOAD_EXTENSION') refuse('load_extension is not allowed');
}

const tableValuedPragmaPrefix = 'PRAGMA_';

/**
 * SQLite's pragmas (`PRAGMA pragma_list` of SQLite 3.53): `pragma_<name>` is one of their
 * table-valued functions, not a user's column named `pragma_note`. The SQLite version is
 * checked between nodes (node/apply-settings.ts), and a new version's pragma list is
 * compared with this one by test/state-machine/sql-policy.test.ts.
 */
export const sqlitePragmaNames: ReadonlySet<string> = new Set(
  (
    'ANALYSIS_LIMIT APPLICATION_ID AUTO_VACUUM AUTOMATIC_INDEX BUSY_TIMEOUT CACHE_SIZE CACHE_SPILL CASE_SENSITIVE_LIKE CELL_SIZE_CHECK ' +
    'CHECKPOINT_FULLFSYNC COLLATION_LIST COMPILE_OPTIONS COUNT_CHANGES DATA_VERSION DATABASE_LIST DEFER_FOREIGN_KEYS EMPTY_RESULT_CALLBACKS ' +
    'ENCODING FOREIGN_KEY_CHECK FOREIGN_KEY_LIST FOREIGN_KEYS FREELIST_COUNT FULL_COLUMN_NAMES FULLFSYNC FUNCTION_LIST HARD_HEAP_LIMIT ' +
    'IGNORE_CHECK_CONSTRAINTS INCREMENTAL_VACUUM INDEX_INFO INDEX_LIST INDEX_XINFO INTEGRITY_CHECK JOURNAL_MODE JOURNAL_SIZE_LIMIT ' +
    'LEGACY_ALTER_TABLE LOCKING_MODE MAX_PAGE_COUNT MMAP_SIZE MODULE_LIST OPTIMIZE PAGE_COUNT PAGE_SIZE PRAGMA_LIST QUERY_ONLY QUICK_CHECK ' +
    'READ_UNCOMMITTED RECURSIVE_TRIGGERS REVERSE_UNORDERED_SELECTS SCHEMA_VERSION SECURE_DELETE SHORT_COLUMN_NAMES SHRINK_MEMORY ' +
    'SOFT_HEAP_LIMIT SYNCHRONOUS TABLE_INFO TABLE_LIST TABLE_XINFO TEMP_STORE TEMP_STORE_DIRECTORY THREADS TRUSTED_SCHEMA USER_VERSION ' +
    'WAL_AUTOCHECKPOINT WAL_CHECKPOINT WRITABLE_SCHEMA'
  ).split(' '),
);

/**
 * In a write, the tables whose rows differ from node to node: a pragma's table-valued
 * function (`pragma_database_list` answers this node's file path, `pragma_data_version`
 * this connection's counter) unless its answer is the same on every node (the pragmas a
 * write may read), and `dbstat` (the layout of this node's file: its pages and their
 * free space). A name as SQLite resolves it: a word, a quoted identifier, or a string
 * where a table name stands (after FROM or JOIN). `dbstat` is refused wherever it stands.
 */
function checkTableName(token: Token, previous: Token | undefined): void {
  const tableNameString = token.kind === 'string' && previous?.kind === 'word' && (previous.text === 'FROM' || previous.text === 'JOIN');
  if (token.kind !== 'word' && token.kind !== 'quoted-identifier' && !tableNameString) return;
  // Words come uppercased from the tokenizer; quoted names and strings keep their case.
  const name = token.kind === 'word' ? token.text : token.text.toUpperCase();
  if (name === 'DBSTAT') refuse("dbstat is not allowed in writes: it reports this node's file layout, which replication does not keep the same");
  if (!name.startsWith(tableValuedPragmaPrefix)) return;
  const pragma = name.slice(tableValuedPragmaPrefix.length);
  if (!sqlitePragmaNames.has(pragma)) return;
  refuseUnlessReadableInWrites(pragma, `disallowed pragma: ${pragma.toLowerCase()} (it may answer differently on each node; not allowed in writes)`);
}

/** Anywhere in a write: no internal table names, no ROLLBACK conflict resolution. */
function checkWriteToken(token: Token): void {
  if (isName(token) && token.text.toUpperCase().startsWith(internalNamePrefixUpper)) {
    refuse(`names starting with ${internalNamePrefix} are reserved for quorumlite's internal tables`);
  }
  if (token.kind === 'word' && token.text === 'ROLLBACK') {
    refuse('ROLLBACK conflict resolution would undo the whole replicated entry; use ABORT or FAIL');
  }
}

/**
 * Anywhere in a write, and in the schema of a file to be loaded: nothing whose answer
 * differs from node to node: no total_changes(), no temp schema, no load_extension(), no
 * pragma function or dbstat that reports this node's own file or connection (checkTableName).
 */
function checkDeterminismToken(token: Token, previous: Token | undefined, next: Token | undefined): void {
  checkTableName(token, previous);
  refuseLoadExtension(token);
  if (token.kind !== 'word') return;
  if (token.text === 'TOTAL_CHANGES') refuse('total_changes() depends on the connection, not the data; not allowed in writes');
  if ((token.text === 'TEMP' || token.text === 'TEMPORARY') && next?.text === '.') {
    refuse('the temp schema belongs to one connection and vanishes on restart; not allowed in writes');
  }
}

/**
 * Why a schema object's SQL (its CREATE statement as sqlite_schema keeps it) would make
 * writes apply differently on each node, or undefined. A write that creates such a view
 * or trigger is refused by the rules above; a SQLite file brought in whole (a load, a
 * boot, a restore) is checked with this, because a write that reads through the object
 * names only the object, so no write's tokens would show it.
 */
export function schemaObjectRefusal(sql: string): string | undefined {
  try {
    for (const statement of splitForPolicy(sql)) {
      const tokens = statement.tokens;
      for (let position = 0; position < tokens.length; position++) checkDeterminismToken(tokens[position] as Token, tokens[position - 1], tokens[position + 1]);
    }
    return undefined;
  } catch (error) {
    if (error instanceof StateMachineError) return error.message;
    throw error;
  }
}

/** Throws REFUSED_SQL if one SQLite statement may not run for `purpose`. */
function checkStatementText(statement: SqlStatementText, purpose: SqlPurpose): void {
  checkLeadingKeyword(statement.tokens, purpose);
  checkTokens(statement.tokens, purpose);
}

/** Splits and checks a request statement's SQL; returns the SQLite statements. */
export function checkSql(sql: string, purpose: SqlPurpose): SqlStatementText[] {
  const parts = splitForPolicy(sql);
  if (parts.length === 0) refuse('empty statement');
  for (const part of parts) checkStatementText(part, purpose);
  return parts;
}

/**
 * The HTTP layer calls this on the receiving node before proposing a write: a refused
 * statement gets a clear error and never reaches the log. Throws StateMachineError
 * with code REFUSED_SQL naming the statement's position.
 */
export function validateForWrite(statements: readonly Statement[]): void {
  // The check depends on the SQL text alone: a batch repeating one statement's SQL (the
  // usual batch: one INSERT, many rows) is checked once, not once per row.
  let passedSql: string | undefined;
  statements.forEach((statement, statementIndex) => {
    if (statement.sql === passedSql) return;
    try {
      checkSql(statement.sql, 'write');
      passedSql = statement.sql;
    } catch (error) {
      if (error instanceof StateMachineError) {
        throw new StateMachineError(error.code, `statement ${statementIndex}: ${error.message}`, { cause: error });
      }
      throw error;
    }
  });
}
