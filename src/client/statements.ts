/**
 * Encodes statements into rqlite's JSON request body by hand, because JSON.stringify
 * cannot write a bigint as an integer literal. Bad values are refused here, before
 * anything is sent.
 */
import { QuorumliteError } from './errors.js';
import type { InStatement, InValue } from './types.js';

const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

/** A batch with more statements than this is refused client-side. */
export const statementsPerRequestMax = 100_000;

export function encodeStatements(statements: InStatement | readonly InStatement[]): string {
  const list = normaliseStatementList(statements);
  if (list.length === 0) throw new QuorumliteError('INVALID_ARGUMENT', 'no statements');
  if (list.length > statementsPerRequestMax) {
    throw new QuorumliteError('INVALID_ARGUMENT', `${list.length} statements exceed statementsPerRequestMax (${statementsPerRequestMax})`);
  }
  const parts: string[] = [];
  for (let statementIndex = 0; statementIndex < list.length; statementIndex += 1) {
    parts.push(encodeStatement(list[statementIndex] as InStatement, statementIndex));
  }
  return `[${parts.join(',')}]`;
}

function normaliseStatementList(statements: InStatement | readonly InStatement[]): readonly InStatement[] {
  if (typeof statements === 'string') return [statements];
  if (Array.isArray(statements)) return statements as readonly InStatement[];
  return [statements as InStatement];
}

function encodeStatement(statement: InStatement, statementIndex: number): string {
  if (typeof statement === 'string') return JSON.stringify(statement);
  if (statement === null || typeof statement !== 'object' || typeof statement.sql !== 'string') {
    throw invalid(statementIndex, 'a statement must be a string or { sql, args }');
  }
  const encoded: string[] = [JSON.stringify(statement.sql)];
  const args = statement.args;
  if (Array.isArray(args)) {
    for (const value of args as readonly InValue[]) encoded.push(encodeValue(value, statementIndex));
  } else if (args !== undefined) {
    encoded.push(encodeNamed(args as Readonly<Record<string, InValue>>, statementIndex));
  }
  if (statement.named !== undefined) encoded.push(encodeNamed(statement.named, statementIndex));
  return encoded.length === 1 ? (encoded[0] as string) : `[${encoded.join(',')}]`;
}

function encodeNamed(named: Readonly<Record<string, InValue>>, statementIndex: number): string {
  if (named === null || typeof named !== 'object') throw invalid(statementIndex, 'named parameters must be an object');
  const members: string[] = [];
  for (const [name, value] of Object.entries(named)) {
    members.push(`${JSON.stringify(name.replace(/^[:@$]/, ''))}:${encodeValue(value, statementIndex)}`);
  }
  return `{${members.join(',')}}`;
}

function encodeValue(value: InValue, statementIndex: number): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw invalid(statementIndex, `parameter ${value} is not a finite number`);
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'bigint':
      if (value < int64Min || value > int64Max) throw invalid(statementIndex, `parameter ${value} does not fit in 64 bits`);
      return value.toString();
    default:
      break;
  }
  if (value instanceof Uint8Array) return `"x'${bytesToHex(value)}'"`;
  if (typeof value === 'object' && typeof (value as { real?: unknown }).real === 'number') return encodeReal(value.real, statementIndex);
  throw invalid(statementIndex, `unsupported parameter type ${describe(value)}`);
}

/** A number written so that the server reads a REAL: with a fraction or an exponent (`2.0`, `-0.0`, `1e+21`). */
function encodeReal(value: number, statementIndex: number): string {
  if (!Number.isFinite(value)) throw invalid(statementIndex, `parameter ${value} is not a finite number`);
  if (Object.is(value, -0)) return '-0.0';
  const text = JSON.stringify(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

function invalid(statementIndex: number, message: string): QuorumliteError {
  return new QuorumliteError('INVALID_ARGUMENT', `statement ${statementIndex}: ${message}`, { statementIndex });
}

const hexDigits = '0123456789abcdef';

export function bytesToHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += (hexDigits[byte >> 4] as string) + (hexDigits[byte & 15] as string);
  return hex;
}
