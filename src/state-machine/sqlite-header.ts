/**
 * The few fields of a SQLite database file's 100-byte header that backups and loads
 * touch (sqlite.org/fileformat.html, "The Database Header"): the magic string that tells
 * a database file from SQL text, the two format version bytes that say whether the file
 * runs in WAL or rollback-journal mode, and the application_id, which holds quorumlite's
 * applied-index marker inside a node and is the user's (zero) outside one.
 */

/** The header's size: a file shorter than this is not a database. */
export const sqliteHeaderBytes = 100;
/** "SQLite format 3" and a NUL: the first 16 bytes of every database file. */
const magic = Buffer.from('SQLite format 3\0', 'latin1');
/** The file format write and read versions: 1 for rollback-journal mode, 2 for WAL. */
const writeVersionOffset = 18;
const readVersionOffset = 19;
const applicationIdOffset = 68;

export type JournalKind = 'wal' | 'rollback';

/** Whether `bytes` starts as a SQLite database file does (rqlite checks the same magic). */
export function hasSqliteMagic(bytes: Uint8Array): boolean {
  return bytes.byteLength >= magic.length && Buffer.from(bytes.buffer, bytes.byteOffset, magic.length).equals(magic);
}

/**
 * A copy of a file's first bytes (at least the header up to application_id) with the
 * journal mode set and application_id cleared: the mode a backup promises, and no
 * marker of quorumlite's in a file that leaves or enters a node.
 */
export function patchedHeader(firstBytes: Uint8Array, journal: JournalKind): Uint8Array {
  if (firstBytes.byteLength < applicationIdOffset + 4)
    throw new RangeError(`a header patch needs ${applicationIdOffset + 4} bytes, got ${firstBytes.byteLength}`);
  const copy = Uint8Array.from(firstBytes);
  const version = journal === 'wal' ? 2 : 1;
  copy[writeVersionOffset] = version;
  copy[readVersionOffset] = version;
  copy.fill(0, applicationIdOffset, applicationIdOffset + 4);
  return copy;
}
