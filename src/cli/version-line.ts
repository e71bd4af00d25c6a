/**
 * What `quorumlite serve -version` prints, as rqlited's -version does: the version, the
 * platform, the runtime and the SQLite version, on one line. Loads SQLite, so the caller
 * sets TZ=UTC first (see main.ts).
 */
import { packageVersion } from './version.js';

export async function versionLine(): Promise<string> {
  const { default: Database } = await import('better-sqlite3');
  const database = new Database(':memory:');
  try {
    const sqliteVersion = String(database.prepare('SELECT sqlite_version()').pluck().get());
    const platform = `${process.platform} ${process.arch} node${process.versions.node}`;
    return `quorumlite ${packageVersion()} ${platform} sqlite${sqliteVersion}`;
  } finally {
    database.close();
  }
}
