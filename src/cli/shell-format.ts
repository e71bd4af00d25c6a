/**
 * Output modes of `quorumlite shell`, modelled on the sqlite3 shell:
 * - column: cells left-aligned and padded to the widest cell (header included),
 *   two spaces apart, a dashed rule under the header, like sqlite3 `.mode column`;
 * - csv: RFC 4180 lines ending CRLF, quoting as sqlite3 does (a field is quoted when
 *   it is empty or holds a comma, quote, apostrophe, space, control or non-ASCII
 *   character); NULL is an empty unquoted field;
 * - json: one array of row objects per result, as sqlite3 `.mode json`;
 * - line: one `name = value` line per cell, names right-aligned, rows apart by a
 *   blank line (names padded to at least 5 characters, as sqlite3 does).
 * NULL shows as empty text (sqlite3's default nullvalue); BLOBs as X'hex'. Widths
 * count code points (East Asian wide characters count as one).
 */
import { bytesToHex } from '../client/statements.js';
import type { Value } from '../client/types.js';

export type OutputMode = 'column' | 'csv' | 'json' | 'line';
export const outputModes: readonly OutputMode[] = ['column', 'csv', 'json', 'line'];

export interface Table {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly Value[])[];
}

interface FormatOptions {
  readonly mode: OutputMode;
  readonly headers: boolean;
}

/** The text for one result; '' when there is nothing to show (no rows, or a write). */
export function formatTable(table: Table, options: FormatOptions): string {
  if (table.columns.length === 0 || table.rows.length === 0) return '';
  switch (options.mode) {
    case 'column':
      return formatColumns(table, options.headers);
    case 'csv':
      return formatCsv(table, options.headers);
    case 'json':
      return formatJson(table);
    case 'line':
      return formatLines(table);
  }
}

export function displayValue(value: Value): string {
  if (value === null) return '';
  if (value instanceof Uint8Array) return `X'${bytesToHex(value).toUpperCase()}'`;
  return String(value);
}

/** Width in code points (what a terminal column counts for the text the shells print). */
export function textWidth(text: string): number {
  let width = 0;
  for (const _character of text) width += 1;
  return width;
}

export function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - textWidth(text)));
}

function formatColumns(table: Table, headers: boolean): string {
  const cells = table.rows.map((row) => table.columns.map((_column, columnIndex) => displayValue(row[columnIndex] ?? null)));
  const widths = table.columns.map((column, columnIndex) => {
    // sqlite3 never makes a column narrower than one character.
    let width = headers ? Math.max(1, textWidth(column)) : 1;
    for (const row of cells) width = Math.max(width, textWidth(row[columnIndex] as string));
    return width;
  });
  const line = (row: readonly string[]): string => row.map((cell, columnIndex) => padEnd(cell, widths[columnIndex] as number)).join('  ');
  const lines: string[] = [];
  if (headers) {
    lines.push(line(table.columns));
    lines.push(line(widths.map((width) => '-'.repeat(width))));
  }
  for (const row of cells) lines.push(line(row));
  return `${lines.join('\n')}\n`;
}

export function csvField(value: Value): string {
  if (value === null) return '';
  const text = displayValue(value);
  return csvNeedsQuotes(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvNeedsQuotes(text: string): boolean {
  if (text === '') return true;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code <= 0x20 || code >= 0x7f || code === 0x22 || code === 0x27 || code === 0x2c) return true;
  }
  return false;
}

function formatCsv(table: Table, headers: boolean): string {
  const lines: string[] = [];
  if (headers) lines.push(table.columns.map((column) => csvField(column)).join(','));
  for (const row of table.rows) lines.push(table.columns.map((_column, columnIndex) => csvField(row[columnIndex] ?? null)).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

function jsonValue(value: Value): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : 'null';
  if (value instanceof Uint8Array) return JSON.stringify(displayValue(value));
  return JSON.stringify(value);
}

function formatJson(table: Table): string {
  const rows = table.rows.map(
    (row) => `{${table.columns.map((column, columnIndex) => `${JSON.stringify(column)}:${jsonValue(row[columnIndex] ?? null)}`).join(',')}}`,
  );
  return `[${rows.join(',\n')}]\n`;
}

/** sqlite3 right-aligns line-mode names to at least this width. */
const lineNameWidthMin = 5;

function formatLines(table: Table): string {
  const nameWidth = Math.max(lineNameWidthMin, ...table.columns.map(textWidth));
  const records = table.rows.map((row) =>
    table.columns.map((column, columnIndex) => `${' '.repeat(nameWidth - textWidth(column))}${column} = ${displayValue(row[columnIndex] ?? null)}`).join('\n'),
  );
  return `${records.join('\n\n')}\n`;
}
