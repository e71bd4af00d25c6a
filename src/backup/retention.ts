/**
 * What the archive keeps (Litestream's retention rule): every moment of the last
 * `retention` stays restorable, so the newest base snapshot taken at or before
 * now − retention is kept, with everything after it; older bases, and the segments
 * that end at or before the kept base's index, are deleted. While no base is that old,
 * nothing is deleted. The newest base is never deleted.
 */
import type { ArchiveCatalog } from './archive-catalog.js';

interface RetentionPlan {
  /** The oldest base kept (the restorable window starts at its time), if any base is old enough to prune before. */
  readonly keptFromIndex: number | undefined;
  readonly deleteKeys: readonly string[];
}

/** `baseTimesMs`: each base's manifest time, by base index. */
export function planRetention(catalog: ArchiveCatalog, baseTimesMs: ReadonlyMap<number, number>, nowMs: number, retentionMs: number): RetentionPlan {
  const cutoffMs = nowMs - retentionMs;
  let kept: number | undefined;
  for (const base of catalog.bases) {
    const timeMs = baseTimesMs.get(base.index);
    if (timeMs !== undefined && timeMs <= cutoffMs) kept = base.index;
  }
  if (kept === undefined) return { keptFromIndex: undefined, deleteKeys: [] };
  const keptIndex = kept;
  const deleteKeys: string[] = [];
  for (const base of catalog.bases) if (base.index < keptIndex) deleteKeys.push(base.manifestKey, base.dataKey);
  for (const key of catalog.incompleteBaseKeys) {
    const index = Number(/(\d{16})\.db\.gz$/.exec(key)?.[1] ?? Number.NaN);
    if (index < keptIndex) deleteKeys.push(key);
  }
  for (const segment of catalog.segments) if (segment.lastIndex <= keptIndex) deleteKeys.push(segment.key);
  return { keptFromIndex: keptIndex, deleteKeys };
}
