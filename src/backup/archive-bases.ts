/**
 * Taking one base snapshot for the archive: a full snapshot of the database (with the
 * internal state a replay needs: the request dedup table, the maintenance times), its
 * size and SHA-256, gzip, then the data object and, last, its manifest (a base without a
 * manifest is never used). The staging files are removed whatever happens.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { archiveFormatVersion, baseDataKey, baseManifestFormat, baseManifestKey, encodeManifest, type BaseManifest } from './archive-catalog.js';
import { entryTimeMs } from './archive-segment.js';
import { gzipFile } from './files.js';
import { readRange } from './log-reading.js';
import type { ObjectStore } from './object-store.js';
import type { DatabaseCopies, LogView } from './ports.js';

/** How far back from a base's index its time is looked for among the entries. */
const timeScanEntryCountMax = 256;

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The term of entry `index` and the time of the last timestamped entry at or before it, as far as the log still holds them. */
function describeIndex(log: LogView, index: number): { term: number; timeMs: number | undefined } {
  try {
    const firstIndex = log.firstIndex();
    if (index < firstIndex) return { term: 0, timeMs: undefined };
    const entries = readRange(log, Math.max(firstIndex, index - timeScanEntryCountMax + 1), index + 1);
    const term = entries[entries.length - 1]?.term ?? 0;
    for (let position = entries.length - 1; position >= 0; position -= 1) {
      const timeMs = entryTimeMs(entries[position] as (typeof entries)[number]);
      if (timeMs !== null) return { term, timeMs };
    }
    return { term, timeMs: undefined };
  } catch {
    return { term: 0, timeMs: undefined };
  }
}

/** What a base is taken from: its snapshot, and the settings a replay must share. */
type BaseSource = Pick<DatabaseCopies, 'writeSnapshot' | 'foreignKeys' | 'extensionNames' | 'databaseCountMax'>;

export async function uploadBase(
  parts: { readonly store: ObjectStore; readonly log: LogView; readonly database: BaseSource },
  prefix: string,
  stagingDirectory: string,
  nowMs: number,
): Promise<BaseManifest> {
  const path = join(stagingDirectory, 'pitr-base.sqlite');
  const compressedPath = `${path}.gz`;
  try {
    await rm(path, { force: true });
    const { appliedIndex } = await parts.database.writeSnapshot(path);
    const described = describeIndex(parts.log, appliedIndex);
    const manifest: BaseManifest = {
      format: baseManifestFormat,
      version: archiveFormatVersion,
      index: appliedIndex,
      term: described.term,
      timeMs: described.timeMs ?? nowMs,
      bytes: (await stat(path)).size,
      sha256: await sha256OfFile(path),
      foreignKeys: parts.database.foreignKeys,
      extensions: [...parts.database.extensionNames],
      ...(parts.database.databaseCountMax === undefined ? {} : { databaseCountMax: parts.database.databaseCountMax }),
    };
    await gzipFile(path, compressedPath);
    await parts.store.putFile(baseDataKey(prefix, appliedIndex), compressedPath);
    await parts.store.putBytes(baseManifestKey(prefix, appliedIndex), encodeManifest(manifest));
    return manifest;
  } finally {
    await rm(path, { force: true });
    await rm(compressedPath, { force: true });
  }
}
