/**
 * Opening a data directory: create it, take its lock, open the snapshot store, replay
 * the log (cutting off torn tails), and drop stored snapshots the log does not vouch
 * for. The store is built while the lock is held, so any failure releases it.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { SnapshotMetadata } from '../raft/types.js';
import { lockDirectory } from './directory-lock.js';
import { storageErrorFromSystem } from './errors.js';
import type { LogState } from './log-state.js';
import { replayLog, type RecoveryReport } from './log-replay.js';
import type { StorageOptions } from './options.js';
import { segmentFileBytesMax } from './record-format.js';
import { SnapshotStore } from './snapshot-store.js';

interface RecoveredStore {
  readonly state: LogState;
  readonly snapshots: SnapshotStore;
  /** What was repaired (torn tails cut off) and which snapshots were discarded. */
  readonly report: RecoveryReport;
  /** Releases the directory lock. */
  readonly unlock: () => void;
}

/** Recovers the store in `directory` and hands it to `create`; throws LOCKED if another process has it, CORRUPT on damage. */
export async function openStore<Store>(directory: string, options: StorageOptions, create: (recovered: RecoveredStore) => Store): Promise<Store> {
  try {
    await fs.promises.mkdir(join(directory, 'log'), { recursive: true });
  } catch (error) {
    throw storageErrorFromSystem(error, `creating data directory ${directory}`);
  }
  const unlock = lockDirectory(directory);
  try {
    const snapshots = await SnapshotStore.open(join(directory, 'snapshots'), {
      retainCount: options.snapshotRetainCount,
      snapshotBytesMax: options.snapshotBytesMax,
      contextBytesMax: options.snapshotContextBytesMax,
    });
    // Segments written with other options may be larger than these allow; only the format caps them.
    const { state, repairs } = await replayLog(join(directory, 'log'), segmentFileBytesMax);
    const discarded = await snapshots.discardWhere((metadata) => !snapshotMatchesLog(state, metadata));
    // `state` is the live log state: the guard follows the log as it is written and compacted.
    snapshots.guardRetention((metadata) => snapshotMatchesLog(state, metadata));
    const report: RecoveryReport = { repairs, discardedSnapshots: discarded.map((info) => info.metadata) };
    return create({ state, snapshots, report, unlock });
  } catch (error) {
    unlock();
    throw storageErrorFromSystem(error, `opening storage in ${directory}`);
  }
}

/**
 * Whether a stored snapshot is state this node may start from. Every snapshot, taken here
 * or received from a leader, is of committed entries. One the log reaches at the same
 * term (or that is covered by the commit index, the compacted prefix or the installed
 * snapshot) agrees with this log by log matching, so it stays, even though the commit
 * index is saved lazily and may lag it after a crash. A received snapshot is written to
 * the store before its install record reaches the log; if that record never became
 * durable and the log does not reach the snapshot, the file must not be mistaken for state.
 */
function snapshotMatchesLog(state: LogState, metadata: SnapshotMetadata): boolean {
  const coveredIndex = Math.max(state.hardState.commit, state.installedSnapshot?.index ?? 0, state.compactIndex);
  return metadata.index <= coveredIndex || state.termAt(metadata.index) === metadata.term;
}
