/**
 * A real SQLite extension for tests, compiled from C on the spot: `half(x)` returns x / 2
 * (deterministic, so a generated column may use it). Built against the sqlite3ext.h that
 * better-sqlite3 ships, with the system C compiler; tests skip when there is none.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const source = `#include "sqlite3ext.h"
SQLITE_EXTENSION_INIT1
static void half(sqlite3_context *context, int argc, sqlite3_value **argv) {
  (void)argc;
  sqlite3_result_double(context, sqlite3_value_double(argv[0]) / 2.0);
}
int sqlite3_half_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {
  (void)error;
  SQLITE_EXTENSION_INIT2(api);
  return sqlite3_create_function(db, "half", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, 0, half, 0, 0);
}
`;

/** Why extension tests cannot run here, or undefined when a C compiler is there. */
export function compilerMissing(): string | undefined {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'no C compiler (cc) to build a test extension';
  }
}

/** Compiles `half.so` into `directory` (SQLite derives the entry point sqlite3_half_init from the name); returns its path. */
export function buildHalfExtension(directory: string): string {
  const headerDirectory = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'deps', 'sqlite3');
  const sourcePath = join(directory, 'half.c');
  const libraryPath = join(directory, 'half.so');
  writeFileSync(sourcePath, source);
  execFileSync('cc', ['-shared', '-fPIC', '-O1', `-I${headerDirectory}`, sourcePath, '-o', libraryPath], { stdio: 'pipe' });
  return libraryPath;
}
