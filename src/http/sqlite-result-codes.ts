/**
 * SQLite's numeric result codes by name (sqlite3.h), for rqlite v10's `error_v2.sqlite`
 * object: better-sqlite3 names a failure (`SQLITE_CONSTRAINT_UNIQUE`), rqlite's driver
 * reports numbers (19 and 2067). An extended code is its primary code plus the
 * extension's number shifted left by 8, as sqlite3.h defines them.
 */

const primaryCodes: Readonly<Record<string, number>> = {
  ERROR: 1,
  INTERNAL: 2,
  PERM: 3,
  ABORT: 4,
  BUSY: 5,
  LOCKED: 6,
  NOMEM: 7,
  READONLY: 8,
  INTERRUPT: 9,
  IOERR: 10,
  CORRUPT: 11,
  NOTFOUND: 12,
  FULL: 13,
  CANTOPEN: 14,
  PROTOCOL: 15,
  EMPTY: 16,
  SCHEMA: 17,
  TOOBIG: 18,
  CONSTRAINT: 19,
  MISMATCH: 20,
  MISUSE: 21,
  NOLFS: 22,
  AUTH: 23,
  FORMAT: 24,
  RANGE: 25,
  NOTADB: 26,
  NOTICE: 27,
  WARNING: 28,
};

/** Each primary code's extensions, at their number (a hole is a number sqlite3.h leaves unused). */
const extensions: Readonly<Record<string, readonly (string | undefined)[]>> = {
  ERROR: ['MISSING_COLLSEQ', 'RETRY', 'SNAPSHOT', 'RESERVESIZE', 'KEY', 'UNABLE'],
  IOERR: [
    'READ',
    'SHORT_READ',
    'WRITE',
    'FSYNC',
    'DIR_FSYNC',
    'TRUNCATE',
    'FSTAT',
    'UNLOCK',
    'RDLOCK',
    'DELETE',
    'BLOCKED',
    'NOMEM',
    'ACCESS',
    'CHECKRESERVEDLOCK',
    'LOCK',
    'CLOSE',
    'DIR_CLOSE',
    'SHMOPEN',
    'SHMSIZE',
    'SHMLOCK',
    'SHMMAP',
    'SEEK',
    'DELETE_NOENT',
    'MMAP',
    'GETTEMPPATH',
    'CONVPATH',
    'VNODE',
    'AUTH',
    'BEGIN_ATOMIC',
    'COMMIT_ATOMIC',
    'ROLLBACK_ATOMIC',
    'DATA',
    'CORRUPTFS',
    'IN_PAGE',
    'BADKEY',
    'CODEC',
  ],
  LOCKED: ['SHAREDCACHE', 'VTAB'],
  BUSY: ['RECOVERY', 'SNAPSHOT', 'TIMEOUT'],
  CANTOPEN: ['NOTEMPDIR', 'ISDIR', 'FULLPATH', 'CONVPATH', 'DIRTYWAL', 'SYMLINK'],
  CORRUPT: ['VTAB', 'SEQUENCE', 'INDEX'],
  READONLY: ['RECOVERY', 'CANTLOCK', 'ROLLBACK', 'DBMOVED', 'CANTINIT', 'DIRECTORY'],
  ABORT: [undefined, 'ROLLBACK'],
  CONSTRAINT: ['CHECK', 'COMMITHOOK', 'FOREIGNKEY', 'FUNCTION', 'NOTNULL', 'PRIMARYKEY', 'TRIGGER', 'UNIQUE', 'VTAB', 'ROWID', 'PINNED', 'DATATYPE'],
  NOTICE: ['RECOVER_WAL', 'RECOVER_ROLLBACK', 'RBU'],
  WARNING: ['AUTOINDEX'],
  AUTH: ['USER'],
};

function buildCodes(): ReadonlyMap<string, number> {
  const codes = new Map<string, number>();
  for (const [name, code] of Object.entries(primaryCodes)) {
    codes.set(`SQLITE_${name}`, code);
    (extensions[name] ?? []).forEach((extension, position) => {
      if (extension !== undefined) codes.set(`SQLITE_${name}_${extension}`, code | ((position + 1) << 8));
    });
  }
  return codes;
}

const codesByName = buildCodes();

/** The extended result code SQLite names `name` (e.g. `SQLITE_CONSTRAINT_UNIQUE` → 2067); undefined for a name it does not define. */
export function sqliteResultCode(name: string): number | undefined {
  return codesByName.get(name);
}
