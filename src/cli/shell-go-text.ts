/**
 * The few texts rqlite's shell takes from Go's standard library, written the same way
 * here: a reply's status line (`404 Not Found`), a file error (`open x: no such file
 * or directory`) and the `log` package's time stamp.
 */
import { STATUS_CODES } from 'node:http';

/** Go's `resp.Status`: the code and its reason phrase. */
export function goStatusLine(status: number): string {
  const reason = STATUS_CODES[status];
  return reason === undefined ? String(status) : `${status} ${reason}`;
}

/** Go's wording of the errno values a shell meets when it opens files. */
const errnoTexts: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'file exists',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
};

/** A Node file error as Go's os package words it (`open PATH: no such file or directory`); other errors keep their message. */
export function goFileErrorText(error: unknown, path: string): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const syscall = (error as { syscall?: unknown }).syscall;
  if (typeof code !== 'string' || typeof syscall !== 'string') return error.message;
  const operation = syscall === 'read' || syscall === 'write' ? syscall : 'open';
  return `${operation} ${path}: ${errnoTexts[code] ?? error.message}`;
}

/** Go's `log.LstdFlags` stamp, local time: `2009/11/10 23:00:00`. */
export function goLogTimestamp(date: Date): string {
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}/${two(date.getMonth() + 1)}/${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}
