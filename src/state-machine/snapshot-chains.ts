/**
 * A snapshot as the store keeps it: a chain of a root (a self-contained snapshot file in
 * the old one-file format, or a base: a copy of the database file) and the deltas after
 * it (WAL frames), with the internal state of the newest one. What a follower or a user
 * receives is one self-contained file, materialised from the chain on a worker thread
 * (snapshot-chain-tasks.ts); folding a delta into its root makes the chain shorter.
 */
import { existsSync } from 'node:fs';
import { markerIndexBits } from './applied-marker.js';
import { carriedLayout } from './snapshot-capture.js';
import type { ChainTask } from './snapshot-chain-tasks.js';
import { runChainTaskInWorker } from './snapshot-worker.js';

interface ChainLink {
  readonly dataPath: string;
  /** The applied index this link brings the chain to. */
  readonly index: number;
}

export interface SnapshotChain {
  /** A self-contained snapshot file, or a base (a database file whose internal state is beside it). */
  readonly root: ChainLink;
  /** WAL files after the root, oldest first. */
  readonly deltas: readonly ChainLink[];
  /** The internal state at the chain's newest snapshot; absent when the root alone is a self-contained snapshot. */
  readonly internalPath: string | undefined;
}

/** The chain's newest index: the snapshot it materialises to. */
function chainIndex(chain: SnapshotChain): number {
  return (chain.deltas.at(-1) ?? chain.root).index;
}

/** Whether the chain is one self-contained file already (nothing to apply, no WAL waiting beside the root). */
export function isSelfContained(chain: SnapshotChain): boolean {
  return chain.deltas.length === 0 && chain.internalPath === undefined && !existsSync(`${chain.root.dataPath}-wal`);
}

/** Writes the chain as one self-contained snapshot file at `targetPath`; resolves to its applied index. */
export async function materialiseChain(chain: SnapshotChain, targetPath: string, extensionPaths: readonly string[], verify: boolean): Promise<number> {
  const task = {
    kind: 'materialise',
    root: chain.root,
    deltas: chain.deltas,
    internalPath: chain.internalPath,
    targetPath,
    layout: carriedLayout,
    markerIndexBits,
    extensionPaths,
    verify,
  } as const;
  return (await runChainTaskInWorker(task, `materialising snapshot ${chainIndex(chain)}`)) as number;
}

/** The task that checkpoints a WAL placed beside a stored root into it (folding a delta). */
export function absorbTask(databasePath: string, extensionPaths: readonly string[]): ChainTask {
  return { kind: 'absorb-wal', databasePath, extensionPaths };
}
