/**
 * A backup of this node's database, as rqlite's `/db/backup` gives one: a consistent copy
 * at one applied index, of the user's objects only (quorumlite's own state lives in
 * another file), never held whole in memory.
 *
 * - binary (rqlite's default) and `fmt=delete`: a page-for-page copy made on a worker
 *   (one read transaction), or with `vacuum` a VACUUM INTO copy, written to a scratch
 *   file, then streamed from it with the header saying WAL mode (rqlite's default) or
 *   rollback-journal mode (`delete`) and application_id 0. The file is removed when the
 *   stream closes.
 * - `fmt=sql`: the sqlite3-style dump (src/state-machine/dump.ts), produced line by line
 *   from one read transaction as the stream is read.
 */
import { copyDatabase } from '../state-machine/transfer-worker.js';
import type { BackupRequest, ByteStream } from '../service/transfer-service.js';
import { databaseFileStream, removeQuietly, type TransferFiles } from './transfer-files.js';

/** What a backup reads of the database (the state machine's side). */
export interface BackupDatabase {
  readonly path: string;
  /** A VACUUM INTO copy of the user's objects, application_id 0 (`vacuum`). */
  backup(toPath: string): Promise<unknown>;
  /** The dump's lines, from one read transaction, every table when `tables` is undefined. */
  dumpLines(tables?: readonly string[]): Generator<string>;
}

export interface BackupSettings {
  readonly extensionPaths: readonly string[];
  readonly readerBusyTimeoutMs: number;
}

/** Text of a SQL dump handed out per chunk, about. */
const dumpChunkCharacters = 256 * 1024;

export async function openLocalBackup(
  database: BackupDatabase,
  request: Pick<BackupRequest, 'format' | 'vacuum' | 'tables'>,
  files: TransferFiles,
  settings: BackupSettings,
  servedBy: string,
): Promise<ByteStream> {
  if (request.format === 'sql') return dumpStream(database.dumpLines(request.tables ?? undefined), servedBy);
  const path = files.path('backup');
  try {
    if (request.vacuum) await database.backup(path);
    else await copyDatabase(database.path, path, settings);
    return await databaseFileStream(path, request.format === 'delete' ? 'rollback' : 'wal', servedBy);
  } catch (error) {
    await removeQuietly(path);
    throw error;
  }
}

function dumpStream(lines: Generator<string>, servedBy: string): ByteStream {
  let done = false;
  return {
    bytes: null,
    servedBy,
    async next() {
      if (done) return null;
      const parts: string[] = [];
      let characters = 0;
      while (characters < dumpChunkCharacters) {
        const line = lines.next();
        if (line.done === true) {
          done = true;
          break;
        }
        parts.push(line.value, '\n');
        characters += line.value.length + 1;
      }
      return parts.length === 0 ? null : Buffer.from(parts.join(''), 'utf8');
    },
    async close() {
      done = true;
      // Ends the generator: its read transaction and connection close.
      lines.return(undefined);
    },
  };
}
