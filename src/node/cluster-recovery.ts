/**
 * Lost-quorum recovery, the rewrite (rqlite's "Recovering a cluster that has permanently
 * lost quorum", hashicorp/raft's RecoverCluster): at start, before the core or the
 * transport runs, a node whose data directory holds a valid `raft/peers.json` replaces the
 * membership in its store with the listed nodes, so they can elect a leader among
 * themselves.
 *
 * As rqlite documents, recovery commits every entry in this node's log: entries the old
 * leader may have committed without this node hearing so are kept, never dropped (and an
 * entry that was never committed anywhere becomes committed). Then, as hashicorp does, the
 * new membership is written in a snapshot, not as new log entries: a made-up entry would
 * need an index and term of its own, and two nodes recovered side by side would make up
 * different entries under the same index and term, which Raft would take for the same
 * entry. A snapshot of entries that really are in the log has no such risk.
 *
 * Steps, each one safe to repeat, so a crash anywhere only means the next start
 * (peers.json is still there) runs them again:
 * 1. restore the state machine from the newest snapshot if it is behind;
 * 2. store the commit index as the last index (every entry in the log is now committed);
 * 3. apply every entry not applied yet;
 * 4. store a snapshot at the last index carrying the new membership and addresses (or,
 *    if one is stored at that index already, rewrite its metadata atomically);
 * 5. install it in the log (the log before it is dropped; one atomic save), or with no
 *    entry after the snapshot point, store the new membership as the log's base;
 * 6. write the address book (members.json).
 * The caller then retires the file (peers-file.ts) and starts the node as usual.
 */
import { join } from 'node:path';
import { assert } from '../common/assert.js';
import { decodeConfChange } from '../raft/conf-change.js';
import type { ConfState, Entry, NodeId, SnapshotMetadata } from '../raft/types.js';
import { isLoadEntry } from '../state-machine/load-entries.js';
import { applyBatchEntryCountMax } from '../state-machine/state-machine.js';
import { planApplyRuns } from './apply.js';
import type { NodeConfig } from './config.js';
import { systemFiles } from './files.js';
import type { NodeLogger } from './logger.js';
import { decodeMemberContext, MemberBook, readMemberRecord } from './members.js';
import { PeersFileError, peersFilePath, type RecoveryPeer } from './peers-file.js';
import type { MemberAddresses, NodeFiles, NodeStateMachine, NodeStorage } from './ports.js';
import { chainFor, isWholeFile } from './snapshot-sending.js';
import { coreLimits } from './start-up.js';

/** What recovery needs of the store: the log's reads and saves, and its snapshot files. */
interface RecoveryStorage extends Pick<NodeStorage, 'isEmpty' | 'initialState' | 'firstIndex' | 'lastIndex' | 'term' | 'entries' | 'save'> {
  readonly snapshots: Pick<NodeStorage['snapshots'], 'latest' | 'find' | 'begin' | 'chain'> & {
    rewriteMembership(index: number, term: number, confState: ConfState, context: unknown): Promise<unknown>;
  };
}

type RecoveryStateMachine = Pick<NodeStateMachine, 'appliedIndex' | 'applyBatch' | 'applyNoop' | 'snapshot' | 'restore' | 'loads'>;

interface RecoveryParts {
  readonly config: Pick<NodeConfig, 'nodeId' | 'dataDirectory' | 'apiAdvertisedAddress'>;
  readonly storage: RecoveryStorage;
  readonly stateMachine: RecoveryStateMachine;
  readonly logger: NodeLogger;
  readonly files?: NodeFiles;
}

const emptyData = new Uint8Array(0);

/** Rewrites the store's membership to `peers` (already checked by peers-file.ts). */
export async function recoverCluster(parts: RecoveryParts, peers: readonly RecoveryPeer[]): Promise<void> {
  const { storage, stateMachine, logger } = parts;
  if (storage.isEmpty() || storage.lastIndex() === 0) {
    throw new PeersFileError(peersFilePath(parts.config.dataDirectory), 'this node has no Raft state to recover (a node without state joins with --join)');
  }
  const confState = recoveredConfState(peers);
  const book = recoveredAddressBook(parts, peers);
  logger.warn(
    { event: 'recovery-start', voters: confState.voters, learners: confState.learners, lastIndex: storage.lastIndex() },
    'raft/peers.json found: recovering the cluster with the membership it lists',
  );
  await restoreIfBehind(parts);
  const lastIndex = storage.lastIndex();
  const metadata: SnapshotMetadata = { index: lastIndex, term: storage.term(lastIndex), confState };
  await commitWholeLog(parts, lastIndex);
  await applyThrough(parts, lastIndex);
  // A load still staged has lost its leader for good; the snapshot must not fall inside it.
  parts.stateMachine.loads?.discardAll();
  await storeSnapshot(parts, metadata, book.toRecord());
  if (lastIndex > storage.firstIndex() - 1) await storage.save({ snapshot: { metadata, data: emptyData }, confState });
  else await storage.save({ confState });
  book.persist();
  logger.warn(
    { event: 'recovered', index: lastIndex, term: metadata.term, voters: confState.voters, learners: confState.learners, applied: stateMachine.appliedIndex },
    'cluster membership recovered from raft/peers.json; every entry in the log is committed',
  );
}

function recoveredConfState(peers: readonly RecoveryPeer[]): ConfState {
  return {
    voters: peers.filter((peer) => !peer.nonVoter).map((peer) => peer.id),
    learners: peers.filter((peer) => peer.nonVoter).map((peer) => peer.id),
  };
}

/**
 * The address book of the recovered cluster: each peer at the Raft address peers.json
 * gives, with the HTTP address this node knew for it (its own from its flags). peers.json
 * carries no HTTP address, so a node this one never knew has none until it rejoins.
 */
function recoveredAddressBook(parts: RecoveryParts, peers: readonly RecoveryPeer[]): MemberBook {
  const { config, logger } = parts;
  const known = knownAddresses(parts);
  const book = new MemberBook(config.dataDirectory, parts.files ?? systemFiles);
  for (const peer of peers) {
    const apiAddress = peer.id === config.nodeId ? config.apiAdvertisedAddress : known.get(peer.id)?.apiAddress;
    if (apiAddress === undefined) {
      logger.warn({ event: 'recovery-unknown-peer', peer: peer.id }, 'peers.json lists a node this one never knew: its HTTP address stays unknown');
    }
    book.set(peer.id, { raftAddress: peer.address, apiAddress: apiAddress ?? '' });
  }
  return book;
}

/** Every address this node knows, newest last: the newest snapshot's, the log's conf changes, then members.json. */
function knownAddresses(parts: RecoveryParts): Map<NodeId, MemberAddresses> {
  const { storage, config } = parts;
  const known = new Map<NodeId, MemberAddresses>(Object.entries(readMemberRecord(storage.snapshots.latest()?.context)));
  for (let next = storage.firstIndex(); next <= storage.lastIndex(); ) {
    const batch = storage.entries(next, storage.lastIndex() + 1, coreLimits.committedBytesPerReadyMax);
    assert(batch.length > 0, `storage returned no entries at ${next}`);
    for (const item of batch) {
      const change = item.type === 'conf-change' ? decodeConfChange(item.data) : undefined;
      const addresses = change === undefined ? undefined : decodeMemberContext(change.context);
      if (change !== undefined && addresses !== undefined) known.set(change.nodeId, addresses);
    }
    next += batch.length;
  }
  const book = new MemberBook(config.dataDirectory, parts.files ?? systemFiles);
  book.load();
  for (const [id, addresses] of book.entries()) known.set(id, addresses);
  return known;
}

async function restoreIfBehind(parts: RecoveryParts): Promise<void> {
  const snapshot = parts.storage.snapshots.latest();
  if (snapshot === undefined || snapshot.metadata.index <= parts.stateMachine.appliedIndex) return;
  const links = parts.storage.snapshots.chain(snapshot);
  await parts.stateMachine.restore(isWholeFile(links) ? snapshot.dataPath : chainFor(links));
  assert(parts.stateMachine.appliedIndex === snapshot.metadata.index, `restored snapshot ${snapshot.metadata.index}`);
}

/** Recovery commits whatever the log holds (rqlite: "implicitly commits all outstanding Raft log entries"). */
async function commitWholeLog(parts: RecoveryParts, lastIndex: number): Promise<void> {
  const { hardState } = parts.storage.initialState();
  if (hardState.commit >= lastIndex) return;
  parts.logger.warn({ event: 'recovery-commit', from: hardState.commit, to: lastIndex }, 'recovery commits every entry in the log');
  await parts.storage.save({ hardState: { ...hardState, commit: lastIndex } });
}

/** Applies every entry after the applied index, in bounded reads and batches; a membership change applies as a no-op. */
async function applyThrough(parts: RecoveryParts, lastIndex: number): Promise<void> {
  const { storage, stateMachine } = parts;
  assert(stateMachine.appliedIndex <= lastIndex, `the database applied ${stateMachine.appliedIndex}, beyond the log's last index ${lastIndex}`);
  while (stateMachine.appliedIndex < lastIndex) {
    const batch = storage.entries(stateMachine.appliedIndex + 1, lastIndex + 1, coreLimits.committedBytesPerReadyMax);
    assert(batch.length > 0, `storage returned no entries after ${stateMachine.appliedIndex}`);
    for (const run of planApplyRuns(batch, applyBatchEntryCountMax)) {
      const first = run[0] as (typeof run)[number];
      if (first.type === 'conf-change') stateMachine.applyNoop(first.index);
      else if (isLoadEntry(first.data)) await applyLoadRun(stateMachine, run);
      else stateMachine.applyBatch(run);
    }
  }
}

async function applyLoadRun(stateMachine: RecoveryStateMachine, run: readonly Entry[]): Promise<void> {
  assert(stateMachine.loads !== undefined, `entry ${run[0]?.index} is a load's, and this state machine takes none`);
  await stateMachine.loads.apply(run);
}

/** Step 4: a snapshot at `metadata.index` with the new membership and addresses. */
async function storeSnapshot(parts: RecoveryParts, metadata: SnapshotMetadata, context: Record<NodeId, MemberAddresses>): Promise<void> {
  const { storage, stateMachine, config } = parts;
  const files = parts.files ?? systemFiles;
  if (storage.snapshots.find(metadata.index, metadata.term) !== undefined) {
    await storage.snapshots.rewriteMembership(metadata.index, metadata.term, metadata.confState, context);
    return;
  }
  const temporaryPath = join(config.dataDirectory, `snapshot-recovery-${metadata.index}.tmp`);
  try {
    const copy = await stateMachine.snapshot(temporaryPath);
    assert(copy.appliedIndex === metadata.index, `recovery snapshot holds ${copy.appliedIndex}, expected ${metadata.index}`);
    const writer = await storage.snapshots.begin(metadata, context);
    try {
      await files.rename(temporaryPath, writer.dataPath);
    } catch (error) {
      await writer.abort();
      throw error;
    }
    await writer.commit();
  } finally {
    await files.remove(temporaryPath);
  }
}
