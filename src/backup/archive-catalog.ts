/**
 * The point-in-time archive's layout and its catalog (docs/BACKUPS.md, "The archive"):
 *
 *   <path>/bases/<index>.db.gz          a full snapshot at log index <index>, gzip
 *   <path>/bases/<index>.json           its manifest, written last: a base without one is
 *                                       incomplete (an upload cut short) and never used
 *   <path>/segments/<first>-<last>-<term>-<ms>.jsonl.gz
 *                                       committed entries first..last; <term> and <ms> are
 *                                       entry <last>'s term and leader time (archive-segment.ts)
 *
 * Indexes are zero-padded to 16 digits, so key order is index order. Only committed
 * entries are archived and committed entries never change, so two archivers (an old
 * leader that has not yet learnt it was deposed, and the new one) write the same
 * content for the same index: overlapping segments agree, and a restore may use either.
 */
import type { StoredObject } from './object-store.js';

const indexDigits = 16;
const basePattern = /^bases\/(\d{16})\.(db\.gz|json)$/;
const segmentPattern = /^segments\/(\d{16})-(\d{16})-(\d{1,16})-(\d{1,16})\.jsonl\.gz$/;

export const baseManifestFormat = 'quorumlite-pitr-base';
export const archiveFormatVersion = 1;

export interface BaseManifest {
  readonly format: typeof baseManifestFormat;
  readonly version: number;
  /** The log index the snapshot holds (every entry up to it applied). */
  readonly index: number;
  /** The term of entry `index` (0 when the log no longer held it). */
  readonly term: number;
  /** Leader time of the last timestamped entry at or before `index` (the archiver's clock when unknown). */
  readonly timeMs: number;
  /** Bytes of the uncompressed snapshot, and their SHA-256 (hex), checked on restore. */
  readonly bytes: number;
  readonly sha256: string;
  /** -fk and the extensions' file names on the node that took it: a replay must use the same. */
  readonly foreignKeys: boolean;
  readonly extensions: readonly string[];
  /** -db-count-max of the cluster (several databases): a replay's creates succeed or fail by it. Absent in older archives. */
  readonly databaseCountMax?: number;
}

interface ArchivedBase {
  readonly index: number;
  readonly dataKey: string;
  readonly manifestKey: string;
}

export interface ArchivedSegment {
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Leader time of entry `lastIndex` (0 when none was known). */
  readonly lastTimeMs: number;
  readonly key: string;
}

export interface ArchiveCatalog {
  /** Complete bases (data and manifest), by index. */
  readonly bases: readonly ArchivedBase[];
  /** Base data without a manifest (an interrupted upload). */
  readonly incompleteBaseKeys: readonly string[];
  /** Segments by first index, then last. */
  readonly segments: readonly ArchivedSegment[];
}

function padIndex(index: number): string {
  return String(index).padStart(indexDigits, '0');
}

/** `path` as a key prefix ('pitr' → 'pitr/'). */
export function archivePrefix(path: string): string {
  return `${path}/`;
}

export function baseDataKey(prefix: string, index: number): string {
  return `${prefix}bases/${padIndex(index)}.db.gz`;
}

export function baseManifestKey(prefix: string, index: number): string {
  return `${prefix}bases/${padIndex(index)}.json`;
}

export function segmentKey(prefix: string, range: Omit<ArchivedSegment, 'key'>): string {
  const timeMs = Math.max(0, Math.trunc(range.lastTimeMs));
  return `${prefix}segments/${padIndex(range.firstIndex)}-${padIndex(range.lastIndex)}-${range.lastTerm}-${timeMs}.jsonl.gz`;
}

function parseSegment(key: string, relative: string): ArchivedSegment | undefined {
  const segment = segmentPattern.exec(relative);
  if (segment === null) return undefined;
  const firstIndex = Number(segment[1]);
  const lastIndex = Number(segment[2]);
  if (firstIndex < 1 || lastIndex < firstIndex) return undefined;
  return { firstIndex, lastIndex, lastTerm: Number(segment[3]), lastTimeMs: Number(segment[4]), key };
}

/** Reads a listing of the archive's objects into its catalog; unknown keys are ignored. */
export function catalogFromListing(prefix: string, objects: readonly StoredObject[]): ArchiveCatalog {
  const data = new Map<number, string>();
  const manifests = new Map<number, string>();
  const segments: ArchivedSegment[] = [];
  for (const { key } of objects) {
    if (!key.startsWith(prefix)) continue;
    const relative = key.slice(prefix.length);
    const base = basePattern.exec(relative);
    if (base !== null) {
      (base[2] === 'json' ? manifests : data).set(Number(base[1]), key);
      continue;
    }
    const segment = parseSegment(key, relative);
    if (segment !== undefined) segments.push(segment);
  }
  const bases: ArchivedBase[] = [];
  const incompleteBaseKeys: string[] = [];
  for (const [index, dataKey] of [...data].sort((a, b) => a[0] - b[0])) {
    const manifestKey = manifests.get(index);
    if (manifestKey === undefined) incompleteBaseKeys.push(dataKey);
    else bases.push({ index, dataKey, manifestKey });
  }
  segments.sort((a, b) => a.firstIndex - b.firstIndex || a.lastIndex - b.lastIndex);
  return { bases, incompleteBaseKeys, segments };
}

/**
 * The segments that carry the entries after `fromIndex`, in order, as far as they reach
 * without a gap, and the last index they reach (`fromIndex` itself when none follows).
 * Where segments overlap, the one reaching furthest is taken.
 */
export function segmentChain(
  catalog: ArchiveCatalog,
  fromIndex: number,
  untilIndex = Number.POSITIVE_INFINITY,
): { segments: ArchivedSegment[]; endIndex: number } {
  const chain: ArchivedSegment[] = [];
  const segments = catalog.segments;
  let endIndex = fromIndex;
  // One pass: a segment passed over without being taken ends within the one taken.
  let position = 0;
  while (endIndex < untilIndex) {
    let best: ArchivedSegment | undefined;
    for (; position < segments.length && (segments[position] as ArchivedSegment).firstIndex <= endIndex + 1; position += 1) {
      const segment = segments[position] as ArchivedSegment;
      if (segment.lastIndex > endIndex && (best === undefined || segment.lastIndex > best.lastIndex)) best = segment;
    }
    if (best === undefined) break;
    chain.push(best);
    endIndex = best.lastIndex;
  }
  return { segments: chain, endIndex };
}

export function encodeManifest(manifest: BaseManifest): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(manifest)}\n`);
}

export function decodeManifest(bytes: Uint8Array, key: string): BaseManifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new Error(`${key}: not a base manifest (${(error as Error).message})`);
  }
  const manifest = value as Partial<BaseManifest>;
  if (manifest.format !== baseManifestFormat || typeof manifest.version !== 'number') throw new Error(`${key}: not a base manifest`);
  if (manifest.version > archiveFormatVersion)
    throw new Error(`${key}: archive format ${manifest.version} is newer than this build reads (${archiveFormatVersion})`);
  const wellFormed =
    Number.isSafeInteger(manifest.index) &&
    Number.isSafeInteger(manifest.term) &&
    Number.isSafeInteger(manifest.timeMs) &&
    Number.isSafeInteger(manifest.bytes) &&
    typeof manifest.sha256 === 'string' &&
    typeof manifest.foreignKeys === 'boolean' &&
    Array.isArray(manifest.extensions) &&
    manifest.extensions.every((name) => typeof name === 'string') &&
    (manifest.databaseCountMax === undefined || (Number.isSafeInteger(manifest.databaseCountMax) && manifest.databaseCountMax >= 1));
  if (!wellFormed) throw new Error(`${key}: a base manifest with missing or malformed fields`);
  return manifest as BaseManifest;
}
