/**
 * rqlite's shell output, character for character for ASCII text (widths count code
 * points, where rqlite's Go code mixes bytes and runes and misaligns other text):
 * - column: a box of `+---+` rules around every row, cells padded to the widest
 *   (header included) plus one space; NULL shows as `<nil>` (Go's `%v` of nil);
 * - csv: Go's encoding/csv (LF line ends; quotes only around fields holding a comma,
 *   quote, CR or LF, or starting with a space), the header always, NULL as `NULL`;
 * - json: Go's `json.MarshalIndent(rows, "", "  ")` of one map per row (keys sorted,
 *   `<`, `>`, `&` escaped), `[]` for no rows;
 * - line: `name = value`, names right-aligned to the longest, a blank line between rows.
 * Values print as Go's `%v` prints what `encoding/json` decoded: numbers as written,
 * strings raw, BLOB byte arrays (`?blob_array`) as `[1 2 3]`.
 */
import type { JsonObject, JsonValue } from '../client/json-parse.js';
import { padEnd, textWidth, type OutputMode } from './shell-format.js';

export interface ResultTable {
  readonly columns: readonly string[];
  readonly values: readonly (readonly JsonValue[])[];
}

export function formatRqliteTable(table: ResultTable, mode: OutputMode): string {
  switch (mode) {
    case 'column':
      return formatBox(table);
    case 'csv':
      return formatCsv(table);
    case 'json':
      return `${goJsonIndent(table.values.map((row) => rowObject(table.columns, row)))}\n`;
    case 'line':
      return formatLines(table);
  }
}

/** Go's `fmt.Sprintf("%v", v)` of a value `encoding/json` decoded (numbers kept as written). */
export function goValueText(value: JsonValue): string {
  if (value === null) return '<nil>';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(goValueText).join(' ')}]`;
  const entries = sortedKeys(value).map((key) => `${key}:${goValueText(value[key] as JsonValue)}`);
  return `map[${entries.join(' ')}]`;
}

function formatBox(table: ResultTable): string {
  if (table.columns.length === 0) return '';
  const rows = [table.columns, ...table.values.map((row) => table.columns.map((_column, index) => cellText(row[index])))];
  const widths = table.columns.map((_column, index) => Math.max(...rows.map((row) => textWidth(row[index] ?? ''))));
  const rule = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`;
  const lines = [rule];
  for (const row of rows) {
    lines.push(`|${widths.map((width, index) => ` ${padEnd(row[index] ?? '', width + 1)}`).join('|')}|`);
    lines.push(rule);
  }
  return `${lines.join('\n')}\n`;
}

/** A cell in column mode: Go's `%v` (`<nil>` for NULL); a row too short reads NULL, as rqlite's table does. */
function cellText(value: JsonValue | undefined): string {
  return value === undefined ? 'NULL' : goValueText(value);
}

function nullAsText(value: JsonValue | undefined): string {
  return value === undefined || value === null ? 'NULL' : goValueText(value);
}

/** unicode.IsSpace: the characters a CSV field may not start with unquoted. */
const goSpaces = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;

/** Go's csv.Writer: quote a field holding the separator, a quote, CR or LF, or starting with a space; `\.` too. */
export function goCsvField(field: string): string {
  if (field === '') return field;
  if (field === '\\.' || /[,"\r\n]/.test(field) || goSpaces.test(field)) return `"${field.replaceAll('"', '""')}"`;
  return field;
}

function formatCsv(table: ResultTable): string {
  const lines = [table.columns.map(goCsvField).join(',')];
  for (const row of table.values) lines.push(table.columns.map((_column, index) => goCsvField(nullAsText(row[index]))).join(','));
  return `${lines.join('\n')}\n`;
}

function formatLines(table: ResultTable): string {
  const nameWidth = Math.max(0, ...table.columns.map(textWidth));
  const records = table.values.map((row) =>
    table.columns.map((column, index) => `${' '.repeat(nameWidth - textWidth(column))}${column} = ${nullAsText(row[index])}\n`).join(''),
  );
  return records.join('\n');
}

/** One row as the map Go builds: a repeated column name keeps its last value. */
function rowObject(columns: readonly string[], row: readonly JsonValue[]): JsonObject {
  const object: JsonObject = {};
  for (const [index, column] of columns.entries()) object[column] = row[index] ?? null;
  return object;
}

/** Map keys in Go's order: by UTF-8 bytes. */
function sortedKeys(object: JsonObject): string[] {
  return Object.keys(object).sort((left, right) => Buffer.compare(Buffer.from(left), Buffer.from(right)));
}

/** Go's `json.MarshalIndent(value, "", "  ")`. */
export function goJsonIndent(value: JsonValue, depth = 0): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return goJsonString(value);
  if (typeof value !== 'object') return String(value);
  const inner = '  '.repeat(depth + 1);
  const outer = '  '.repeat(depth);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((item) => inner + goJsonIndent(item, depth + 1)).join(',\n')}\n${outer}]`;
  }
  const keys = sortedKeys(value);
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((key) => `${inner}${goJsonString(key)}: ${goJsonIndent(value[key] as JsonValue, depth + 1)}`).join(',\n')}\n${outer}}`;
}

const goJsonEscapes: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/** Go's JSON string: HTML-safe (`<`, `>`, `&` as \u003c…), U+2028 and U+2029 escaped too. */
function goJsonString(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what JSON must escape
  const escaped = text.replace(/["\\\u0000-\u001f<>&\u2028\u2029]/g, (character) => {
    return goJsonEscapes[character] ?? `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  return `"${escaped}"`;
}

/**
 * rqlite's `pprintJSON`: one `key: value` line a scalar, `key:` and an indented block a
 * nested object, keys sorted, null values left out. What `.status`, `.nodes`,
 * `.leader` and `.expvar` print.
 */
export function prettyPrintJson(object: JsonObject, depth = 0): string {
  const indentation = '  '.repeat(depth);
  let text = '';
  for (const key of sortedKeys(object)) {
    const value = object[key] as JsonValue;
    if (value === null) continue;
    if (typeof value === 'object' && !Array.isArray(value) && typeof value !== 'bigint') {
      text += `${indentation}${key}:\n${prettyPrintJson(value, depth + 1)}`;
    } else {
      text += `${indentation}${key}: ${goValueText(value)}\n`;
    }
  }
  return text;
}
