/**
 * What `/db/stream?db=X` sends for each log entry (docs/REPLICA.md, "A replica of another
 * database"): the filtering happens here, on the node, so a replica of X receives X's
 * entries only, as the plain entries its own state machine applies, and nothing of the
 * other databases' data.
 *
 * - An entry targeted at X (a write, or a load's entry): its inner entry, unwrapped from
 *   the envelope (database-entries.ts), exactly what X's own machine applies on a node.
 * - Every other entry (the default database's, another database's, the create of X): an
 *   empty entry, a no-op, so the replica's applied index still passes every index and a
 *   replica that restarts resumes from where it stopped.
 * - The drop of X: the stream ends before it, with NOT_FOUND when X no longer exists, or
 *   LOG_COMPACTED when X was created again since (the replica starts again from a copy
 *   of the new X: what it holds belongs to the dropped one).
 */
import { decodeDatabaseEntry, defaultDatabaseName, isDatabaseEntry } from '../state-machine/database-entries.js';
import { ServiceError } from '../service/service.js';

const emptyData = new Uint8Array(0);

/** The database a feed request names; undefined for the default one (`main`, or no `db=`). */
export function followedDatabase(name: string | undefined): string | undefined {
  return name === undefined || name === defaultDatabaseName ? undefined : name;
}

/**
 * The data sent for entry `index` (`data`: a normal entry's) to a replica of `database`,
 * or the error that ends the stream before it. `exists` tells whether the database exists now.
 */
export function streamedData(database: string, index: number, data: Uint8Array, exists: () => boolean): Uint8Array | ServiceError {
  if (!isDatabaseEntry(data)) return emptyData;
  let entry: ReturnType<typeof decodeDatabaseEntry>;
  try {
    entry = decodeDatabaseEntry(data);
  } catch {
    // A node halts on such an entry (multi-database-machine.ts) and so never applies past it: this is not reached.
    return emptyData;
  }
  if (entry.name !== database) return emptyData;
  if (entry.kind === 'targeted') return entry.inner;
  if (entry.kind === 'create') return emptyData;
  if (exists()) {
    return new ServiceError(
      'LOG_COMPACTED',
      `database ${JSON.stringify(database)} was dropped at index ${index} and created again since: fetch /db/copy?db=${database} first`,
    );
  }
  return new ServiceError('NOT_FOUND', `database ${JSON.stringify(database)} was dropped at index ${index}`);
}
