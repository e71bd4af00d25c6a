/**
 * Point-in-time archiving, as Litestream does for one SQLite file but from the Raft log:
 * whoever leads ships the committed entries, with their indexes and leader times, to the
 * archive every `sync_interval`, and uploads a base snapshot every `snapshot_interval`
 * (when anything changed). A node that becomes leader lists the archive and carries on
 * after the last entry archived; if its log no longer holds the next entry (compacted),
 * it uploads a new base and carries on from there (the entries in between are missing,
 * and a restore says so). Old bases and segments go by the retention rule (retention.ts).
 *
 * Failures (target unreachable, full) are logged and retried with backoff; nothing moves
 * on until an object is stored, and the node's own data is never touched. An archive
 * whose last entry has another term than this log's entry at that index holds another
 * cluster's history (a path reused after a restore): archiving stops with an error
 * rather than mixing histories.
 */
import type { PointInTimeSettings } from './config.js';
import { archivePrefix, catalogFromListing, decodeManifest, segmentChain, segmentKey, type ArchiveCatalog } from './archive-catalog.js';
import { uploadBase } from './archive-bases.js';
import { encodeSegment, entryTimeMs, type ArchivedEntry } from './archive-segment.js';
import { lastDataIndex } from './log-reading.js';
import type { ObjectStore } from './object-store.js';
import { PeriodicTask } from './periodic-task.js';
import type { BackupClock, BackupLogger, DatabaseCopies, LogView } from './ports.js';
import { planRetention } from './retention.js';

/** A segment holds at most this many entries and about this many bytes of entry data. */
const segmentEntryCountMax = 10_000;
const segmentBytesMax = 16 * 1024 * 1024;

interface ArchiverDependencies {
  readonly settings: PointInTimeSettings;
  readonly store: ObjectStore;
  readonly log: LogView;
  readonly database: Pick<DatabaseCopies, 'writeSnapshot' | 'foreignKeys' | 'extensionNames' | 'databaseCountMax'>;
  readonly stagingDirectory: string;
  readonly logger: BackupLogger;
  readonly clock: BackupClock;
}

/** Where the archive stands, as this leader knows it. */
interface ArchivePosition {
  /** The last entry archived without a gap after the newest base. */
  cursor: number;
  /** Its term (0: unknown) and leader time. */
  cursorTerm: number;
  lastTimeMs: number;
  /** True until this log's term at `cursor` was compared with the archive's. */
  unverified: boolean;
  lastBaseIndex: number;
  lastBaseTakenAtMs: number;
}

interface ArchiverCounts {
  bases: number;
  segments: number;
  entries: number;
  deletedObjects: number;
}

export class PointInTimeArchiver {
  readonly #dependencies: ArchiverDependencies;
  readonly #prefix: string;
  readonly #task: PeriodicTask;
  /** undefined: not loaded (not leading, or just became leader); null: the archive has no base yet. */
  #position: ArchivePosition | null | undefined;
  #conflict: string | undefined;
  /** Each base's manifest time, by index (for retention). */
  readonly #baseTimesMs = new Map<number, number>();
  readonly counts: ArchiverCounts = { bases: 0, segments: 0, entries: 0, deletedObjects: 0 };

  constructor(dependencies: ArchiverDependencies) {
    this.#dependencies = dependencies;
    this.#prefix = archivePrefix(dependencies.settings.path);
    this.#task = new PeriodicTask({
      intervalMs: dependencies.settings.syncIntervalMs,
      run: () => this.syncOnce(),
      clock: dependencies.clock,
      logger: dependencies.logger,
      failureEvent: 'pitr-archive-failed',
      failureMessage: 'point-in-time archiving failed; retrying',
      fields: { archive: dependencies.store.description },
    });
  }

  start(): void {
    const { settings, store, logger } = this.#dependencies;
    logger.info({ event: 'pitr-archive-start', archive: store.description, ...settings }, 'point-in-time archiving: the leader ships committed entries');
    this.#task.start();
  }

  stop(): Promise<void> {
    return this.#task.stop();
  }

  /** One turn (exposed for tests): as leader, bring the archive up to this node's applied index. */
  async syncOnce(): Promise<void> {
    const { log, settings, clock } = this.#dependencies;
    if (!log.isLeader) {
      this.#position = undefined;
      this.#conflict = undefined;
      return;
    }
    if (this.#position === undefined) this.#position = await this.#load();
    if (this.#conflict !== undefined) throw new Error(this.#conflict);
    let position = this.#position;
    if (position === null || position.cursor + 1 < log.firstIndex()) {
      position = await this.#takeBase(position === null ? 'first base' : 'the log no longer holds the next entry');
      this.#position = position;
    } else if (clock.nowMs() - position.lastBaseTakenAtMs >= settings.snapshotIntervalMs && lastDataIndex(log) > position.lastBaseIndex) {
      const base = await this.#takeBase('snapshot interval');
      position.lastBaseIndex = base.lastBaseIndex;
      position.lastBaseTakenAtMs = base.lastBaseTakenAtMs;
    }
    if (position.unverified && !this.#verify(position)) return;
    await this.#ship(position);
  }

  /** Lists the archive: the newest base and how far the segments after it reach. */
  async #load(): Promise<ArchivePosition | null> {
    const catalog = await this.#catalog();
    await this.#prune(catalog);
    const newest = catalog.bases[catalog.bases.length - 1];
    if (newest === undefined) return null;
    const manifest = decodeManifest((await this.#dependencies.store.getBytes(newest.manifestKey)) ?? new Uint8Array(0), newest.manifestKey);
    const chain = segmentChain(catalog, manifest.index);
    const last = chain.segments[chain.segments.length - 1];
    const { logger, log } = this.#dependencies;
    logger.info({ event: 'pitr-archive-resume', baseIndex: manifest.index, archivedIndex: chain.endIndex }, 'point-in-time archive found: carrying on');
    if (chain.endIndex > log.appliedIndex) {
      logger.warn(
        { event: 'pitr-archive-ahead', archivedIndex: chain.endIndex, appliedIndex: log.appliedIndex },
        "the archive reaches beyond this node's applied index: archiving resumes once this node has applied it",
      );
    }
    return {
      cursor: chain.endIndex,
      cursorTerm: last?.lastTerm ?? manifest.term,
      lastTimeMs: last?.lastTimeMs ?? manifest.timeMs,
      unverified: true,
      lastBaseIndex: manifest.index,
      lastBaseTakenAtMs: manifest.timeMs,
    };
  }

  async #catalog(): Promise<ArchiveCatalog> {
    const { store } = this.#dependencies;
    const catalog = catalogFromListing(this.#prefix, await store.list(this.#prefix));
    for (const base of catalog.bases) {
      if (this.#baseTimesMs.has(base.index)) continue;
      const bytes = await store.getBytes(base.manifestKey);
      if (bytes !== undefined) this.#baseTimesMs.set(base.index, decodeManifest(bytes, base.manifestKey).timeMs);
    }
    return catalog;
  }

  /** The archive's entry at `cursor` against this log's: another term means another history. */
  #verify(position: ArchivePosition): boolean {
    const { log } = this.#dependencies;
    if (position.cursor > log.appliedIndex) return false;
    if (position.cursorTerm !== 0 && position.cursor >= log.firstIndex()) {
      const term = log.entries(position.cursor, position.cursor + 1, 1)[0]?.term;
      if (term !== position.cursorTerm) {
        this.#conflict =
          `the archive at ${this.#dependencies.store.description} holds entry ${position.cursor} of term ${position.cursorTerm}, ` +
          `this log has term ${term}: it is another cluster's history; archiving stopped (give point_in_time.path a new value)`;
        throw new Error(this.#conflict);
      }
    }
    position.unverified = false;
    return true;
  }

  async #takeBase(reason: string): Promise<ArchivePosition> {
    const { store, log, database, stagingDirectory, clock, logger } = this.#dependencies;
    const manifest = await uploadBase({ store, log, database }, this.#prefix, stagingDirectory, clock.nowMs());
    this.#baseTimesMs.set(manifest.index, manifest.timeMs);
    this.counts.bases += 1;
    logger.info({ event: 'pitr-base-uploaded', index: manifest.index, bytes: manifest.bytes, reason }, 'point-in-time archive: base snapshot uploaded');
    await this.#prune(await this.#catalog());
    return {
      cursor: manifest.index,
      cursorTerm: manifest.term,
      lastTimeMs: manifest.timeMs,
      unverified: false,
      lastBaseIndex: manifest.index,
      lastBaseTakenAtMs: clock.nowMs(),
    };
  }

  /** Ships every applied entry after the cursor, in segments, while this node leads. */
  async #ship(position: ArchivePosition): Promise<void> {
    const { log, store } = this.#dependencies;
    const highIndex = log.appliedIndex;
    while (position.cursor < highIndex && log.isLeader && !this.#task.stopped) {
      const piece = log.entries(position.cursor + 1, highIndex + 1, segmentBytesMax).slice(0, segmentEntryCountMax);
      const entries: ArchivedEntry[] = [];
      let timeMs = position.lastTimeMs;
      for (const entry of piece) {
        if (entry.index !== position.cursor + 1 + entries.length) throw new Error(`the log returned entry ${entry.index} out of order`);
        const entryTime = entryTimeMs(entry);
        if (entryTime !== null) timeMs = entryTime;
        entries.push({ ...entry, timeMs: entryTime });
      }
      const last = entries[entries.length - 1];
      if (last === undefined) return;
      const range = { firstIndex: position.cursor + 1, lastIndex: last.index, lastTerm: last.term, lastTimeMs: timeMs };
      await store.putBytes(segmentKey(this.#prefix, range), encodeSegment(entries));
      position.cursor = last.index;
      position.cursorTerm = last.term;
      position.lastTimeMs = timeMs;
      this.counts.segments += 1;
      this.counts.entries += entries.length;
    }
  }

  async #prune(catalog: ArchiveCatalog): Promise<void> {
    const { store, clock, settings, logger } = this.#dependencies;
    const plan = planRetention(catalog, this.#baseTimesMs, clock.nowMs(), settings.retentionMs);
    if (plan.deleteKeys.length === 0) return;
    await store.remove(plan.deleteKeys);
    for (const base of catalog.bases) if (plan.keptFromIndex !== undefined && base.index < plan.keptFromIndex) this.#baseTimesMs.delete(base.index);
    this.counts.deletedObjects += plan.deleteKeys.length;
    logger.info(
      { event: 'pitr-pruned', keptFromIndex: plan.keptFromIndex, deleted: plan.deleteKeys.length },
      'point-in-time archive: removed what retention no longer keeps',
    );
  }
}
