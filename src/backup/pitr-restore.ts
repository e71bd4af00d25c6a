/**
 * Point-in-time restore: the base snapshot, then the archived entries after it, replayed
 * through the real state machine (the node's MultiDatabaseMachine, with the settings the
 * cluster ran with: -fk, the extensions and -db-count-max, from the base's manifest), up
 * to the target; then one database (`main` unless another is named) is written out as a
 * plain SQLite file, as /db/backup makes it. Replay is apply: the same entries on the same
 * base give the same databases the cluster had at that index (the state machine's
 * determinism contract), down to rowids, random() and the request dedup table. So the
 * whole node state is rebuilt (the base carries every database, the entries of the
 * others, their creates and drops apply), and any database of that moment can be taken.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { databaseCountMaxDefault, defaultDatabaseName } from '../state-machine/database-entries.js';
import { StateMachineError } from '../state-machine/errors.js';
import { MultiDatabaseMachine } from '../state-machine/multi-database-machine.js';
import { applyBatchEntryCountMax, type BatchEntry, type SqliteStateMachine } from '../state-machine/state-machine.js';
import { isLoadEntry } from '../state-machine/load-entries.js';
import { sha256OfFile } from './archive-bases.js';
import { decodeSegment, type ArchivedEntry } from './archive-segment.js';
import { gunzipFile } from './files.js';
import type { ObjectStore } from './object-store.js';
import { RestoreError, planRestore, readArchive, type RestorePlan, type RestoreTarget } from './pitr-plan.js';

interface RestoreProgress {
  readonly phase: 'download' | 'replay' | 'write';
  /** Entries replayed so far, and an upper bound on how many there will be. */
  readonly doneCount: number;
  readonly totalCount: number;
}

interface PointInTimeRestoreOptions {
  readonly store: ObjectStore;
  /** point_in_time.path of the cluster's -auto-backup file. */
  readonly path: string;
  readonly target: RestoreTarget;
  /** The SQLite file to write; it must not exist. */
  readonly outputPath: string;
  /** The database written out (several databases); default `main`. */
  readonly database?: string;
  /** Scratch space for the base and the replay (removed afterwards). */
  readonly workDirectory: string;
  /** The SQLite extensions the cluster loaded (files), when it loaded any. */
  readonly extensionPaths?: readonly string[];
  readonly onProgress?: (progress: RestoreProgress) => void;
}

interface RestoreOutcome {
  /** The last entry applied, and its leader time (the base's when no entry followed). */
  readonly index: number;
  readonly timeMs: number;
  readonly baseIndex: number;
  readonly replayedCount: number;
  readonly bytes: number;
}

/** The replay's running state: the state machine, the batch being gathered, where it stands. */
class Replay {
  readonly #machine: SqliteStateMachine;
  readonly #target: RestoreTarget;
  readonly #lastIndexMax: number;
  #batch: BatchEntry[] = [];
  index: number;
  timeMs: number;
  replayedCount = 0;
  finished = false;

  constructor(machine: SqliteStateMachine, plan: RestorePlan, target: RestoreTarget) {
    this.#machine = machine;
    this.#target = target;
    this.#lastIndexMax = plan.lastIndexMax;
    this.index = plan.base.manifest.index;
    this.timeMs = plan.base.manifest.timeMs;
  }

  /** Whether `entry`, stamped `timeMs`, lies past the target. */
  #pastTarget(index: number, timeMs: number): boolean {
    return index > this.#lastIndexMax || (this.#target.kind === 'time' && timeMs > this.#target.timeMs);
  }

  /** Takes a segment's entries in order; stops at the target. */
  async take(entries: readonly ArchivedEntry[]): Promise<void> {
    for (const entry of entries) {
      if (this.finished) return;
      if (entry.index <= this.index) continue;
      if (entry.index !== this.index + 1) throw new RestoreError(`the archive skips from index ${this.index} to ${entry.index}`);
      const timeMs = entry.timeMs ?? this.timeMs;
      if (this.#pastTarget(entry.index, timeMs)) {
        this.finished = true;
        return;
      }
      // A /db/load's chunks and commit apply through the machine's loads, as on the node;
      // every other entry is batched, with no await per entry.
      if (entry.type !== 'conf-change' && isLoadEntry(entry.data)) await this.#applyLoad(entry);
      else this.#apply(entry);
      this.index = entry.index;
      this.timeMs = timeMs;
      this.replayedCount += 1;
    }
  }

  async #applyLoad(entry: ArchivedEntry): Promise<void> {
    this.flush();
    await this.#machine.loads.apply([{ index: entry.index, data: entry.data }]);
  }

  #apply(entry: ArchivedEntry): void {
    if (entry.type === 'conf-change') {
      this.flush();
      this.#machine.applyNoop(entry.index);
      return;
    }
    this.#batch.push({ index: entry.index, data: entry.data });
    if (this.#batch.length >= applyBatchEntryCountMax) this.flush();
  }

  flush(): void {
    if (this.#batch.length === 0) return;
    this.#machine.applyBatch(this.#batch);
    this.#batch = [];
  }
}

async function restoreBase(options: PointInTimeRestoreOptions, plan: RestorePlan): Promise<string> {
  const { store, workDirectory } = options;
  const compressedPath = join(workDirectory, 'base.sqlite.gz');
  const basePath = join(workDirectory, 'base.sqlite');
  if (!(await store.getFile(plan.base.dataKey, compressedPath))) throw new RestoreError(`the base snapshot ${plan.base.dataKey} is missing from the archive`);
  await gunzipFile(compressedPath, basePath);
  await rm(compressedPath, { force: true });
  const manifest = plan.base.manifest;
  const bytes = (await stat(basePath)).size;
  if (bytes !== manifest.bytes || (await sha256OfFile(basePath)) !== manifest.sha256) {
    throw new RestoreError(`the base snapshot ${plan.base.dataKey} does not match its manifest (size or SHA-256): the archive is damaged`);
  }
  return basePath;
}

function checkExtensions(plan: RestorePlan, extensionPaths: readonly string[]): void {
  const given = new Set(extensionPaths.map((path) => basename(path)));
  const missing = plan.base.manifest.extensions.filter((name) => !given.has(name));
  if (missing.length > 0) {
    throw new RestoreError(`the cluster loaded SQLite extensions a replay needs: give them with --extensions-path (missing: ${missing.join(', ')})`);
  }
}

/** The database written out; RestoreError when it did not exist at `index`. */
function chosenDatabase(machine: MultiDatabaseMachine, name: string | undefined, index: number): SqliteStateMachine {
  try {
    return machine.database(name ?? defaultDatabaseName);
  } catch (error) {
    if (!(error instanceof StateMachineError) || error.code !== 'NO_DATABASE') throw error;
    throw new RestoreError(`database ${JSON.stringify(name)} did not exist at index ${index} (there were: ${machine.catalog.names().join(', ')})`);
  }
}

/** Rebuilds the database as of `target` into `outputPath`. */
export async function restoreToPoint(options: PointInTimeRestoreOptions): Promise<RestoreOutcome> {
  const plan = planRestore(await readArchive(options.store, options.path), options.target);
  const extensionPaths = options.extensionPaths ?? [];
  checkExtensions(plan, extensionPaths);
  const total = plan.lastIndexMax - plan.base.manifest.index;
  options.onProgress?.({ phase: 'download', doneCount: 0, totalCount: total });
  await rm(options.workDirectory, { recursive: true, force: true });
  await mkdir(options.workDirectory, { recursive: true });
  try {
    const basePath = await restoreBase(options, plan);
    const { foreignKeys, databaseCountMax = databaseCountMaxDefault } = plan.base.manifest;
    const machine = new MultiDatabaseMachine({ path: join(options.workDirectory, 'db.sqlite'), foreignKeys, extensionPaths, databaseCountMax });
    try {
      const restored = await machine.restore(basePath);
      if (restored.appliedIndex !== plan.base.manifest.index) {
        throw new RestoreError(`the base snapshot holds index ${restored.appliedIndex}, its manifest says ${plan.base.manifest.index}: the archive is damaged`);
      }
      const replay = new Replay(machine, plan, options.target);
      for (const segment of plan.segments) {
        if (replay.finished) break;
        const bytes = await options.store.getBytes(segment.key);
        if (bytes === undefined) throw new RestoreError(`the segment ${segment.key} is missing from the archive`);
        await replay.take(decodeSegment(bytes, segment.key));
        replay.flush();
        options.onProgress?.({ phase: 'replay', doneCount: replay.index - plan.base.manifest.index, totalCount: total });
      }
      if (options.target.kind === 'index' && replay.index !== options.target.index) {
        throw new RestoreError(`the archive's segments end at index ${replay.index}, before the target ${options.target.index}`);
      }
      options.onProgress?.({ phase: 'write', doneCount: replay.index - plan.base.manifest.index, totalCount: total });
      const { bytes } = await chosenDatabase(machine, options.database, replay.index).backup(options.outputPath);
      return { index: replay.index, timeMs: replay.timeMs, baseIndex: plan.base.manifest.index, replayedCount: replay.replayedCount, bytes };
    } finally {
      machine.close();
    }
  } finally {
    await rm(options.workDirectory, { recursive: true, force: true });
  }
}
