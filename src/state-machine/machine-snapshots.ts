/**
 * The state machine's snapshots, backups and restores (SqliteStateMachine delegates here):
 * captures that cost what changed (snapshot-capture.ts), chains materialised into one
 * file (snapshot-chains.ts), the old full copies (database-copies.ts), and the crash-safe
 * restore. At most one capture runs at a time, never during a restore; a restore waits
 * for a capture in progress.
 */
import type Database from 'better-sqlite3';
import { stat } from 'node:fs/promises';
import { assert } from '../common/assert.js';
import { checkpointFully, stageSnapshot, swapInStagedFile, writeBackup, writeSnapshot, type SnapshotInfo } from './database-copies.js';
import { internalStorePath } from './database-layout.js';
import { asEnvironmentFailure, StateMachineError } from './errors.js';
import { removeIfPresent } from './files.js';
import type { RestoreStep, SnapshotStep, StateMachineSettings } from './options.js';
import { SnapshotCapture, type CapturedSnapshot, type CaptureTarget } from './snapshot-capture.js';
import { absorbTask, isSelfContained, materialiseChain, type SnapshotChain } from './snapshot-chains.js';
import { ChainWorker } from './snapshot-worker.js';
import type { TimedReads } from './timed-reads.js';
import { readWalHeader } from './wal-frames.js';

/** What the snapshots need of the state machine that owns them. */
interface SnapshotsHost {
  readonly path: string;
  readonly settings: StateMachineSettings;
  readonly timedReads: TimedReads;
  readonly onRestoreStep: ((step: RestoreStep) => void) | undefined;
  readonly onSnapshotStep: ((step: SnapshotStep) => void) | undefined;
  /** The apply connection; throws once the machine is closed. */
  applyConnection(): Database.Database;
  pinHistory(): { readonly index: number; readonly release: () => void };
  /** The machine's applied index now. */
  appliedIndex(): number;
  /** Closes every connection, runs `swap`, opens them again (and forgets a halt). */
  reopenAround(swap: () => void): void;
}

export interface RestoredSnapshot extends SnapshotInfo {
  /** Set when the restored file is the snapshot itself, byte for byte: later deltas may build on it (see snapshot-capture.ts). */
  readonly proof: string | undefined;
}

export class MachineSnapshots {
  readonly #host: SnapshotsHost;
  readonly #capture: SnapshotCapture;
  /** One thread for the tasks of captures and folds (materialising, O(the database), starts its own). */
  readonly #worker = new ChainWorker();
  #capturing: Promise<unknown> | undefined;
  #restoring = false;

  constructor(host: SnapshotsHost) {
    this.#host = host;
    this.#capture = new SnapshotCapture({
      path: host.path,
      storePath: internalStorePath(host.path),
      applyConnection: () => host.applyConnection(),
      pinHistory: () => host.pinHistory(),
      onStep: host.onSnapshotStep,
      runTask: (task, failure) => this.#worker.run(task, failure),
    });
    // A restore that crashed before its rename left the old database in place: drop the staging copy.
    removeIfPresent(this.#stagingPath);
  }

  /** Between restore()'s start and its swap: applying entries then is a programmer error. */
  get restoring(): boolean {
    return this.#restoring;
  }

  get #stagingPath(): string {
    return `${this.#host.path}.restore`;
  }

  async fullCopy(toPath: string): Promise<SnapshotInfo> {
    // Until the worker has read the internal store, the store keeps its history back to this index.
    const pin = this.#host.pinHistory();
    try {
      const internal = { path: internalStorePath(this.#host.path), appliedIndexHint: pin.index };
      return await writeSnapshot(this.#host.path, toPath, this.#host.settings, internal);
    } finally {
      pin.release();
    }
  }

  capture(target: CaptureTarget, previousProof: string | undefined): Promise<CapturedSnapshot> {
    if (this.#restoring || this.#capturing !== undefined) return Promise.reject(new StateMachineError('BUSY', 'a restore or another capture is running'));
    const capturing = this.#capture.capture(target, previousProof);
    const settle = (): void => {
      this.#capturing = undefined;
    };
    this.#capturing = capturing.then(settle, settle);
    return capturing;
  }

  walBytes(): number {
    return this.#capture.walBytes();
  }

  materialise(chain: SnapshotChain, toPath: string): Promise<number> {
    return materialiseChain(chain, toPath, this.#host.settings.extensionPaths, false);
  }

  async absorbWal(rootPath: string): Promise<void> {
    await this.#worker.run(absorbTask(rootPath, this.#host.settings.extensionPaths), `folding into ${rootPath}`);
  }

  /** Ends the chain worker's thread. */
  close(): void {
    this.#worker.close();
  }

  backup(toPath: string): Promise<{ readonly bytes: number }> {
    return writeBackup(this.#host.path, toPath, this.#host.settings);
  }

  async restore(from: string | SnapshotChain): Promise<RestoredSnapshot> {
    assert(!this.#restoring, 'one restore at a time');
    this.#restoring = true;
    try {
      await this.#capturing;
      const whole = typeof from === 'string' ? from : isSelfContained(from) ? from.root.dataPath : undefined;
      const extensionPaths = this.#host.settings.extensionPaths;
      const appliedIndex = whole !== undefined ? await stageSnapshot(whole, this.#stagingPath, extensionPaths) : await this.#stageChain(from as SnapshotChain);
      this.#host.onRestoreStep?.('staged');
      // Read processes hold the old file and its WAL open: none runs across the swap.
      await this.#host.timedReads.whileSuspended(() => this.#swapInStagedDatabase());
      assert(this.#host.appliedIndex() === appliedIndex, 'the restored database holds the snapshot index');
      const proof = whole === undefined ? undefined : readWalHeader(`${this.#host.path}-wal`)?.salts;
      return { appliedIndex, bytes: (await stat(this.#host.path)).size, proof };
    } catch (error) {
      // A full disk or an I/O error on this thread (the checkpoint, the swap) is ENVIRONMENT, as on the worker's.
      throw asEnvironmentFailure(error);
    } finally {
      this.#restoring = false;
    }
  }

  async #stageChain(chain: SnapshotChain): Promise<number> {
    removeIfPresent(this.#stagingPath);
    try {
      return await materialiseChain(chain, this.#stagingPath, this.#host.settings.extensionPaths, true);
    } catch (error) {
      removeIfPresent(this.#stagingPath);
      throw error;
    }
  }

  /** The synchronous, crash-safe part of restore(): after it the new database is open. */
  #swapInStagedDatabase(): void {
    checkpointFully(this.#host.applyConnection());
    const onStep = this.#host.onRestoreStep;
    this.#host.reopenAround(() => {
      onStep?.('closed');
      swapInStagedFile(this.#host.path, this.#stagingPath, onStep);
    });
  }
}
