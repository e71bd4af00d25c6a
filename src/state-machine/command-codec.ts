/**
 * The replicated command: what a Raft entry's data holds. Compact, versioned binary.
 *
 *   u8 magic 0x51 ('Q') · u8 version · u8 flags (1 transaction, 2 has request id, 4 qualify
 *   columns, 8 queued batch, 16 interactive commit) · i64 timestampMs · u64 seed · [text requestId] · body
 *   · [interactive: i64 transaction timestampMs · u8 missing · u32 hashCount · hashes, each u32 length + bytes]
 *   body: u32 statementCount · statements; or, for a queued batch, u32 requestCount and per
 *   request: u8 flags (1 transaction, 2 has request id) · [text requestId] · u32 statementCount · statements
 *   per statement: text sql · u32 positionalCount · values · u32 namedCount · (text name, value)…
 *   value: u8 tag (0 null, 1 i64, 2 f64, 3 text, 4 blob, 5 true, 6 false) + payload
 *   text/blob: u32 byte length + bytes (UTF-8 for text, checked on decode)
 *
 * Versions: 2 is written only when a parameter is a REAL with a whole-number value within
 * 2^53 (JSON `2.0`, `1e2`, `-0.0`), and decodes that f64 as `{ real }` (src/common/real-values.ts);
 * every other command is still version 1, read exactly as before (an f64 is a plain
 * number). A build that knows only version 1 refuses a version 2 entry rather than
 * binding its whole-number REALs as INTEGERs.
 *
 * Every count and size has a bound checked on encode (clear error to the caller) and again
 * on decode (a corrupt or hostile entry never allocates past it).
 */
import { ByteReader, ByteWriter, checkValue, describeLabel, isWellFormedText, readValue, writeValue } from './binary.js';
import type { ReadLabel, TextSpan } from './binary.js';
import { StateMachineError } from './errors.js';
import { assert } from '../common/assert.js';
import { isSqlReal } from '../common/real-values.js';
import type { Command, InteractiveCommit, QueuedRequest, SqlValue, Statement } from './types.js';

const commandMagic = 0x51;
/** Every command that carries no whole-number REAL. */
const commandVersionPlain = 1;
/** A command carrying a whole-number REAL parameter (its f64 decodes as `{ real }`). */
export const commandVersion = 2;

const flagTransaction = 1;
const flagRequestId = 2;
const flagQualifyColumns = 4;
const flagQueued = 8;
const flagInteractive = 16;
const knownFlags = flagTransaction | flagRequestId | flagQualifyColumns | flagQueued | flagInteractive;
/** Bytes of one result hash in an interactive commit (transaction-replay.ts writes 16). */
const resultHashBytesMax = 64;

export const commandLimits = {
  /** Statements in one command (a queued batch: in all its requests together). */
  statementCountMax: 10_000,
  /** Requests in one queued batch (`--write-queue-batch-size` at most). */
  queuedRequestCountMax: 10_000,
  /** UTF-8 bytes of one statement's SQL text. */
  sqlBytesMax: 1024 * 1024,
  /** Parameters (positional plus named) of one statement; SQLite's own default maximum. */
  parameterCountMax: 32_766,
  /** Bytes of one text or blob parameter. */
  parameterBytesMax: 4 * 1024 * 1024,
  /** Bytes of one named parameter's name. */
  parameterNameBytesMax: 256,
  /** UTF-8 bytes of a client request id. */
  requestIdBytesMax: 256,
  /** Bytes of a whole encoded command. */
  commandBytesMax: 16 * 1024 * 1024,
} as const;

function tooLarge(what: string, actual: number, bound: number): StateMachineError {
  return new StateMachineError('COMMAND_TOO_LARGE', `${what} is ${actual}, more than the bound ${bound}`);
}

function checkText(value: string, what: string, bytesMax: number): void {
  if (!isWellFormedText(value)) throw new StateMachineError('INVALID_VALUE', `${what} is not valid Unicode (lone surrogate)`);
  const byteCount = Buffer.byteLength(value, 'utf8');
  if (byteCount > bytesMax) throw tooLarge(`${what} (bytes)`, byteCount, bytesMax);
}

/** Checks `command` fits its bounds; true when it holds a whole-number REAL (version 2). */
function checkCommand(command: Command): boolean {
  if (!Number.isSafeInteger(command.timestampMs)) {
    throw new StateMachineError('INVALID_VALUE', `timestampMs must be an integer, got ${command.timestampMs}`);
  }
  if (typeof command.seed !== 'bigint' || command.seed < 0n || command.seed >= 2n ** 64n) {
    throw new StateMachineError('INVALID_VALUE', 'seed must be a bigint in [0, 2^64)');
  }
  if (command.requestId !== undefined) checkText(command.requestId, 'request id', commandLimits.requestIdBytesMax);
  if (command.queued !== undefined) return checkQueued(command, command.queued);
  if (command.interactive !== undefined) checkInteractive(command, command.interactive);
  if (command.statements.length > commandLimits.statementCountMax) {
    throw tooLarge('statement count', command.statements.length, commandLimits.statementCountMax);
  }
  let holdsWholeReal = false;
  command.statements.forEach((statement, statementIndex) => {
    if (checkStatement(statement, statementIndex)) holdsWholeReal = true;
  });
  return holdsWholeReal;
}

function checkQueued(command: Command, queued: readonly QueuedRequest[]): boolean {
  if (command.statements.length !== 0) throw new StateMachineError('INVALID_VALUE', 'a queued batch carries its statements in its requests');
  if (command.qualifyColumns === true) throw new StateMachineError('INVALID_VALUE', 'a queued batch returns no rows to qualify');
  if (queued.length > commandLimits.queuedRequestCountMax) throw tooLarge('queued request count', queued.length, commandLimits.queuedRequestCountMax);
  const statementCount = queued.reduce((sum, request) => sum + request.statements.length, 0);
  if (statementCount > commandLimits.statementCountMax) throw tooLarge('statement count', statementCount, commandLimits.statementCountMax);
  let statementIndex = 0;
  let holdsWholeReal = false;
  for (const request of queued) {
    if (request.requestId !== undefined) checkText(request.requestId, 'request id', commandLimits.requestIdBytesMax);
    for (const statement of request.statements) if (checkStatement(statement, statementIndex++)) holdsWholeReal = true;
  }
  return holdsWholeReal;
}

function checkInteractive(command: Command, interactive: InteractiveCommit): void {
  if (!Number.isSafeInteger(interactive.timestampMs)) throw new StateMachineError('INVALID_VALUE', 'the transaction timestampMs must be an integer');
  if (interactive.resultHashes.length !== command.statements.length) throw new StateMachineError('INVALID_VALUE', 'one result hash per statement');
  if (interactive.missing && command.statements.length !== 0) throw new StateMachineError('INVALID_VALUE', 'a missing transaction carries no statements');
  for (const hash of interactive.resultHashes) if (hash.length > resultHashBytesMax) throw tooLarge('result hash (bytes)', hash.length, resultHashBytesMax);
}

/** A REAL that a version 1 command could not carry: its f64 would decode as an INTEGER. */
function isWholeReal(value: SqlValue): boolean {
  return isSqlReal(value) && Number.isSafeInteger(value.real);
}

/** Checks one statement's bounds and values; true when it holds a whole-number REAL. */
function checkStatement(statement: Statement, statementIndex: number): boolean {
  const where = `statement ${statementIndex}`;
  checkText(statement.sql, `${where} SQL`, commandLimits.sqlBytesMax);
  const names = Object.keys(statement.named);
  const parameterCount = statement.positional.length + names.length;
  if (parameterCount > commandLimits.parameterCountMax) {
    throw tooLarge(`${where} parameter count`, parameterCount, commandLimits.parameterCountMax);
  }
  let holdsWholeReal = false;
  for (const [position, value] of statement.positional.entries()) {
    checkValue(value, `${where} parameter ${position + 1}`, commandLimits.parameterBytesMax);
    if (isWholeReal(value)) holdsWholeReal = true;
  }
  for (const name of names) {
    checkText(name, `${where} parameter name`, commandLimits.parameterNameBytesMax);
    const value = statement.named[name] as SqlValue;
    checkValue(value, `${where} parameter :${name}`, commandLimits.parameterBytesMax);
    if (isWholeReal(value)) holdsWholeReal = true;
  }
  return holdsWholeReal;
}

function commandFlags(command: Command): number {
  return (
    (command.transaction ? flagTransaction : 0) |
    (command.requestId !== undefined ? flagRequestId : 0) |
    (command.qualifyColumns === true ? flagQualifyColumns : 0) |
    (command.queued !== undefined ? flagQueued : 0) |
    (command.interactive !== undefined ? flagInteractive : 0)
  );
}

export function encodeCommand(command: Command): Uint8Array {
  const holdsWholeReal = checkCommand(command);
  const writer = new ByteWriter(commandLimits.commandBytesMax, (bytes) => tooLarge('encoded command (bytes)', bytes, commandLimits.commandBytesMax));
  writer.u8(commandMagic);
  writer.u8(holdsWholeReal ? commandVersion : commandVersionPlain);
  writer.u8(commandFlags(command));
  writer.i64(BigInt(command.timestampMs));
  writer.u64(command.seed);
  if (command.requestId !== undefined) writer.text(command.requestId);
  if (command.queued === undefined) {
    writeStatements(writer, command.statements);
    if (command.interactive !== undefined) writeInteractive(writer, command.interactive);
    return writer.finish();
  }
  writer.u32(command.queued.length);
  for (const request of command.queued) {
    writer.u8((request.transaction ? flagTransaction : 0) | (request.requestId !== undefined ? flagRequestId : 0));
    if (request.requestId !== undefined) writer.text(request.requestId);
    writeStatements(writer, request.statements);
  }
  return writer.finish();
}

function writeInteractive(writer: ByteWriter, interactive: InteractiveCommit): void {
  writer.i64(BigInt(interactive.timestampMs));
  writer.u8(interactive.missing ? 1 : 0);
  writer.u32(interactive.resultHashes.length);
  for (const hash of interactive.resultHashes) writer.bytes(hash);
}

function readInteractiveIfFlagged(reader: ByteReader, flags: number, statementCount: number): InteractiveCommit | undefined {
  if ((flags & flagInteractive) === 0) return undefined;
  if ((flags & flagQueued) !== 0) throw new StateMachineError('BAD_COMMAND', 'a queued batch that is an interactive commit');
  return readInteractive(reader, statementCount);
}

function readInteractive(reader: ByteReader, statementCount: number): InteractiveCommit {
  const timestamp = reader.i64('transaction timestampMs');
  if (timestamp < BigInt(Number.MIN_SAFE_INTEGER) || timestamp > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new StateMachineError('BAD_COMMAND', `transaction timestampMs ${timestamp} out of range`);
  }
  const missing = reader.u8('missing');
  if (missing > 1) throw new StateMachineError('BAD_COMMAND', `missing flag ${missing}`);
  const hashCount = readCount(reader, 'result hash count', statementCount);
  if (hashCount !== statementCount) throw new StateMachineError('BAD_COMMAND', `${hashCount} result hashes for ${statementCount} statements`);
  const resultHashes: Uint8Array[] = [];
  for (let position = 0; position < hashCount; position++) resultHashes.push(reader.bytes('result hash', resultHashBytesMax));
  return { timestampMs: Number(timestamp), missing: missing === 1, resultHashes };
}

function writeStatements(writer: ByteWriter, statements: readonly Statement[]): void {
  writer.u32(statements.length);
  for (const statement of statements) {
    writer.text(statement.sql);
    writer.u32(statement.positional.length);
    for (const value of statement.positional) writeValue(writer, value);
    const names = Object.keys(statement.named);
    writer.u32(names.length);
    for (const name of names) {
      writer.text(name);
      writeValue(writer, statement.named[name] as SqlValue);
    }
  }
}

function readCount(reader: ByteReader, what: ReadLabel, bound: number): number {
  const count = reader.u32(what);
  if (count > bound) throw new StateMachineError('BAD_COMMAND', `${describeLabel(what)} ${count} is more than the bound ${bound}`);
  return count;
}

/** Shared by every decoded statement without named parameters. */
export const noNamedParameters: Readonly<Record<string, SqlValue>> = Object.freeze(Object.create(null) as Record<string, SqlValue>);

/** Where the decoder is; read only to build an error message. */
interface DecodePosition {
  statement: number;
  /** 1-based position of the parameter being read. */
  parameter: number;
  parameterName: string;
}

/** Which read of a statement a label names. */
type StatementPart = 'SQL' | 'positional count' | 'parameter' | 'named count' | 'parameter name' | 'named parameter';

/** A label that reads the decode position only when an error message needs it (a class: no closure per decode). */
class StatementLabel {
  readonly #position: DecodePosition;
  readonly #part: StatementPart;

  constructor(position: DecodePosition, part: StatementPart) {
    this.#position = position;
    this.#part = part;
  }

  describe(): string {
    const where = `statement ${this.#position.statement}`;
    if (this.#part === 'parameter') return `${where} parameter ${this.#position.parameter}`;
    if (this.#part === 'named parameter') return `${where} parameter :${this.#position.parameterName}`;
    return `${where} ${this.#part}`;
  }
}

/** The labels of one decode's reads, made once per decode: decoding builds no message text unless it fails. */
interface StatementLabels {
  readonly sql: ReadLabel;
  readonly positionalCount: ReadLabel;
  readonly parameter: ReadLabel;
  readonly namedCount: ReadLabel;
  readonly parameterName: ReadLabel;
  readonly namedParameter: ReadLabel;
}

function statementLabels(position: DecodePosition): StatementLabels {
  return {
    sql: new StatementLabel(position, 'SQL'),
    positionalCount: new StatementLabel(position, 'positional count'),
    parameter: new StatementLabel(position, 'parameter'),
    namedCount: new StatementLabel(position, 'named count'),
    parameterName: new StatementLabel(position, 'parameter name'),
    namedParameter: new StatementLabel(position, 'named parameter'),
  };
}

/** How one command's statements are read: where, with which labels, after which SQL, and whether whole reals are tagged (version 2). */
interface StatementReading {
  readonly position: DecodePosition;
  readonly labels: StatementLabels;
  readonly previous: { sql?: TextSpan };
  readonly wholeRealsTagged: boolean;
}

function readStatement(reader: ByteReader, reading: StatementReading): Statement {
  const { position, labels, previous, wholeRealsTagged } = reading;
  previous.sql = reader.textSpan(labels.sql, commandLimits.sqlBytesMax, previous.sql);
  const sql = previous.sql.text;
  const positionalCount = readCount(reader, labels.positionalCount, commandLimits.parameterCountMax);
  const positional: SqlValue[] = [];
  for (let parameter = 0; parameter < positionalCount; parameter++) {
    position.parameter = parameter + 1;
    positional.push(readValue(reader, labels.parameter, commandLimits.parameterBytesMax, wholeRealsTagged));
  }
  const namedCount = readCount(reader, labels.namedCount, commandLimits.parameterCountMax - positionalCount);
  if (namedCount === 0) return { sql, positional, named: noNamedParameters };
  const named: Record<string, SqlValue> = Object.create(null) as Record<string, SqlValue>;
  for (let namedIndex = 0; namedIndex < namedCount; namedIndex++) {
    const name = reader.text(labels.parameterName, commandLimits.parameterNameBytesMax);
    position.parameterName = name;
    named[name] = readValue(reader, labels.namedParameter, commandLimits.parameterBytesMax, wholeRealsTagged);
  }
  return { sql, positional, named };
}

/** Reads the first two bytes; returns the command's version. */
function readMagicAndVersion(reader: ByteReader): number {
  const magic = reader.u8('magic');
  if (magic !== commandMagic) throw new StateMachineError('BAD_COMMAND', `not a quorumlite command (first byte ${magic})`);
  const version = reader.u8('version');
  if (version !== commandVersionPlain && version !== commandVersion) {
    throw new StateMachineError(
      'BAD_COMMAND',
      `unsupported command version ${version} (this build reads versions ${commandVersionPlain} and ${commandVersion})`,
    );
  }
  return version;
}

export function decodeCommand(data: Uint8Array): Command {
  if (data.length > commandLimits.commandBytesMax) {
    throw new StateMachineError('BAD_COMMAND', `command is ${data.length} bytes, more than the bound ${commandLimits.commandBytesMax}`);
  }
  const reader = new ByteReader(data);
  const version = readMagicAndVersion(reader);
  const flags = reader.u8('flags');
  if ((flags & ~knownFlags) !== 0) throw new StateMachineError('BAD_COMMAND', `unknown command flags ${flags}`);
  // A queued batch returns no rows, so it never qualifies columns: the pair is no command this build writes.
  if ((flags & flagQueued) !== 0 && (flags & flagQualifyColumns) !== 0) throw new StateMachineError('BAD_COMMAND', 'a queued batch with qualified columns');
  const timestamp = reader.i64('timestampMs');
  if (timestamp < BigInt(Number.MIN_SAFE_INTEGER) || timestamp > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new StateMachineError('BAD_COMMAND', `timestampMs ${timestamp} out of range`);
  }
  const seed = reader.u64('seed');
  const requestId = (flags & flagRequestId) !== 0 ? reader.text('request id', commandLimits.requestIdBytesMax) : undefined;
  const decoder = new StatementDecoder(reader, version === commandVersion);
  const queued = (flags & flagQueued) !== 0 ? readQueuedRequests(reader, decoder) : undefined;
  const statements = queued === undefined ? decoder.readStatements() : [];
  const interactive = readInteractiveIfFlagged(reader, flags, statements.length);
  if (reader.remaining !== 0) throw new StateMachineError('BAD_COMMAND', `${reader.remaining} trailing bytes after the command`);
  return {
    statements,
    transaction: (flags & flagTransaction) !== 0,
    timestampMs: Number(timestamp),
    seed,
    ...(requestId !== undefined ? { requestId } : {}),
    ...((flags & flagQualifyColumns) !== 0 ? { qualifyColumns: true } : {}),
    ...(queued !== undefined ? { queued } : {}),
    ...(interactive !== undefined ? { interactive } : {}),
  };
}

/**
 * Reads statement lists, counting statements across all of them: a queued batch's
 * requests share the command's statement bound, and errors name a statement by its
 * position in the whole command.
 */
class StatementDecoder {
  readonly #reader: ByteReader;
  readonly #reading: StatementReading;
  #statementCount = 0;

  constructor(reader: ByteReader, wholeRealsTagged: boolean) {
    this.#reader = reader;
    const position: DecodePosition = { statement: 0, parameter: 0, parameterName: '' };
    this.#reading = { position, labels: statementLabels(position), previous: {}, wholeRealsTagged };
  }

  readStatements(): Statement[] {
    const count = readCount(this.#reader, 'statement count', commandLimits.statementCountMax - this.#statementCount);
    const statements: Statement[] = [];
    for (let statementIndex = 0; statementIndex < count; statementIndex++) {
      this.#reading.position.statement = this.#statementCount + statementIndex;
      statements.push(readStatement(this.#reader, this.#reading));
    }
    this.#statementCount += count;
    assert(statements.length === count, 'decoded every statement');
    return statements;
  }
}

function readQueuedRequests(reader: ByteReader, decoder: StatementDecoder): QueuedRequest[] {
  const requestCount = readCount(reader, 'queued request count', commandLimits.queuedRequestCountMax);
  const requests: QueuedRequest[] = [];
  for (let requestIndex = 0; requestIndex < requestCount; requestIndex++) {
    const flags = reader.u8('queued request flags');
    if ((flags & ~(flagTransaction | flagRequestId)) !== 0) throw new StateMachineError('BAD_COMMAND', `unknown queued request flags ${flags}`);
    const requestId = (flags & flagRequestId) !== 0 ? reader.text('request id', commandLimits.requestIdBytesMax) : undefined;
    const statements = decoder.readStatements();
    requests.push({ statements, transaction: (flags & flagTransaction) !== 0, ...(requestId !== undefined ? { requestId } : {}) });
  }
  return requests;
}
