/**
 * Which base snapshot and which segments a point-in-time restore needs, or why the
 * archive cannot give that point (before the first base, after the last archived entry,
 * in a gap the archiver could not fill). A time maps to a log index through the leader
 * times the entries carry: the restore keeps every entry up to the first one stamped
 * after the time (leader clocks are taken to be in step; docs/BACKUPS.md).
 */
import {
  archivePrefix,
  catalogFromListing,
  decodeManifest,
  segmentChain,
  type ArchivedSegment,
  type ArchiveCatalog,
  type BaseManifest,
} from './archive-catalog.js';
import type { ObjectStore } from './object-store.js';

export type RestoreTarget = { readonly kind: 'index'; readonly index: number } | { readonly kind: 'time'; readonly timeMs: number };

/** The archive cannot give what was asked for; the message says what it can give. */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

interface ArchivedBaseInfo {
  readonly manifest: BaseManifest;
  readonly dataKey: string;
  /** The last index the segments after this base reach without a gap, and that entry's time. */
  readonly endIndex: number;
  readonly endTimeMs: number;
}

export interface ArchiveSummary {
  readonly description: string;
  readonly prefix: string;
  readonly catalog: ArchiveCatalog;
  /** Complete bases, oldest first. */
  readonly bases: readonly ArchivedBaseInfo[];
  /** The last archived index any chain reaches, and its time. */
  readonly lastIndex: number;
  readonly lastTimeMs: number;
}

export interface RestorePlan {
  readonly base: ArchivedBaseInfo;
  /** The segments to read, in order (the first may start before the base: its older entries are skipped). */
  readonly segments: readonly ArchivedSegment[];
  /** For an index target, that index; for a time, the chain's end (replay stops at the first entry stamped later). */
  readonly lastIndexMax: number;
}

export function formatTime(timeMs: number): string {
  return new Date(timeMs).toISOString();
}

/** Lists the archive and reads every base's manifest. */
export async function readArchive(store: ObjectStore, path: string): Promise<ArchiveSummary> {
  const prefix = archivePrefix(path);
  const catalog = catalogFromListing(prefix, await store.list(prefix));
  const bases: ArchivedBaseInfo[] = [];
  for (const base of catalog.bases) {
    const bytes = await store.getBytes(base.manifestKey);
    if (bytes === undefined) continue;
    const manifest = decodeManifest(bytes, base.manifestKey);
    const chain = segmentChain(catalog, manifest.index);
    const lastSegment = chain.segments[chain.segments.length - 1];
    bases.push({ manifest, dataKey: base.dataKey, endIndex: chain.endIndex, endTimeMs: lastSegment?.lastTimeMs ?? manifest.timeMs });
  }
  const last = bases.reduce<ArchivedBaseInfo | undefined>((best, base) => (best === undefined || base.endIndex > best.endIndex ? base : best), undefined);
  return { description: store.description, prefix, catalog, bases, lastIndex: last?.endIndex ?? 0, lastTimeMs: last?.endTimeMs ?? 0 };
}

function describeRanges(summary: ArchiveSummary): string {
  return summary.bases
    .map((base) => `${base.manifest.index}..${base.endIndex} (${formatTime(base.manifest.timeMs)} to ${formatTime(base.endTimeMs)})`)
    .join(', ');
}

function oldestBase(summary: ArchiveSummary): ArchivedBaseInfo {
  const first = summary.bases[0];
  if (first === undefined) {
    throw new RestoreError(
      `the archive at ${summary.description}${summary.prefix} holds no base snapshot yet (the leader uploads one within sync_interval of starting)`,
    );
  }
  return first;
}

function planForIndex(summary: ArchiveSummary, index: number): RestorePlan {
  const first = oldestBase(summary);
  if (index < first.manifest.index) {
    throw new RestoreError(
      `index ${index} is before the archive's start: the oldest base snapshot is at index ${first.manifest.index} (${formatTime(first.manifest.timeMs)})`,
    );
  }
  if (index > summary.lastIndex) {
    throw new RestoreError(
      `index ${index} is after the last archived entry, index ${summary.lastIndex} (${formatTime(summary.lastTimeMs)}); the archive has nothing later`,
    );
  }
  const base = [...summary.bases].reverse().find((candidate) => candidate.manifest.index <= index) as ArchivedBaseInfo;
  if (base.endIndex < index) {
    throw new RestoreError(
      `index ${index} falls in a gap of the archive: entries after index ${base.endIndex} were not archived; restorable: ${describeRanges(summary)}`,
    );
  }
  return { base, segments: segmentChain(summary.catalog, base.manifest.index, index).segments, lastIndexMax: index };
}

function planForTime(summary: ArchiveSummary, timeMs: number): RestorePlan {
  const first = oldestBase(summary);
  if (timeMs < first.manifest.timeMs) {
    const earliest = `${formatTime(first.manifest.timeMs)} (index ${first.manifest.index})`;
    throw new RestoreError(`${formatTime(timeMs)} is before the archive's start: the earliest restorable time is ${earliest}`);
  }
  if (timeMs > summary.lastTimeMs) {
    throw new RestoreError(
      `${formatTime(timeMs)} is after the last archived entry, index ${summary.lastIndex} (${formatTime(summary.lastTimeMs)}); ` +
        `the archive knows nothing later (restore that state with --to-index ${summary.lastIndex})`,
    );
  }
  const base = [...summary.bases].reverse().find((candidate) => candidate.manifest.timeMs <= timeMs) as ArchivedBaseInfo;
  if (timeMs > base.endTimeMs && base.endIndex < summary.lastIndex) {
    const missing = `entries after index ${base.endIndex} (${formatTime(base.endTimeMs)}) were not archived`;
    throw new RestoreError(`${formatTime(timeMs)} falls in a gap of the archive: ${missing}; restorable: ${describeRanges(summary)}`);
  }
  // Only the segments up to the first one that ends after the time are needed.
  const chain = segmentChain(summary.catalog, base.manifest.index).segments;
  const stop = chain.findIndex((segment) => segment.lastTimeMs > timeMs);
  const segments = stop === -1 ? chain : chain.slice(0, stop + 1);
  return { base, segments, lastIndexMax: segments[segments.length - 1]?.lastIndex ?? base.manifest.index };
}

export function planRestore(summary: ArchiveSummary, target: RestoreTarget): RestorePlan {
  return target.kind === 'index' ? planForIndex(summary, target.index) : planForTime(summary, target.timeMs);
}
