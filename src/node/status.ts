/**
 * The `/status` document, with the keys rqlite tooling reads (RQLITE_API.md):
 * store.raft.state, commit_index, applied_index, last_log_index, last_snapshot_index,
 * voter; store.leader.addr / node_id; store.fsm_index, db_applied_index;
 * store.sqlite3.path; store.snapshot_store.snapshots.
 */
import { statSync } from 'node:fs';
import type { StatusDocument, StatusValue } from '../service/service.js';
import type { NodeRuntime } from './runtime.js';

const startedAtMs = Date.now();

/** The content checksum reads every row: computed once per applied index, then reused. */
const cachedChecksums = new WeakMap<NodeRuntime, { appliedIndex: number; checksum: string }>();
/** Beyond this database size /status leaves the checksum out (it would read every row). */
export const checksumDatabaseBytesMax = 64 * 1024 * 1024;

function databaseBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function contentChecksum(runtime: NodeRuntime): string | null {
  if (databaseBytes(runtime.stateMachine.path) > checksumDatabaseBytesMax) return null;
  const appliedIndex = runtime.stateMachine.appliedIndex;
  const cached = cachedChecksums.get(runtime);
  if (cached?.appliedIndex === appliedIndex) return cached.checksum;
  const checksum = runtime.stateMachine.checksum().checksum;
  cachedChecksums.set(runtime, { appliedIndex, checksum });
  return checksum;
}

function raftStateName(role: string, stopped: boolean): string {
  if (stopped) return 'Shutdown';
  if (role === 'leader') return 'Leader';
  if (role === 'candidate' || role === 'pre-candidate') return 'Candidate';
  return 'Follower';
}

export function buildStatus(runtime: NodeRuntime, version: string): StatusDocument {
  const core = runtime.coreStatus();
  const config = runtime.config;
  const leaderId = runtime.leaderId;
  const leader = leaderId === '' ? undefined : runtime.members.get(leaderId);
  const stateMachine = runtime.stateMachine;
  const snapshot = runtime.storage.snapshots.latest();
  const confState = runtime.confState();
  const nodes: StatusValue[] = runtime.members.entries().map(([id, addresses]) => ({
    id,
    addr: addresses.raftAddress,
    api_addr: addresses.apiAddress,
    voter: confState.voters.includes(id),
  }));
  const raft: Record<string, StatusValue> = {
    state: raftStateName(core?.role ?? 'follower', runtime.stopped),
    term: core?.term ?? 0,
    commit_index: core?.commit ?? 0,
    applied_index: stateMachine.appliedIndex,
    last_log_index: core?.lastIndex ?? runtime.storage.lastIndex(),
    first_log_index: runtime.storage.firstIndex(),
    last_snapshot_index: runtime.lastSnapshotIndex,
    voter: confState.voters.includes(config.nodeId),
    num_peers: Math.max(0, confState.voters.length - 1),
    num_learners: confState.learners.length,
    voters: [...confState.voters],
    learners: [...confState.learners],
    heartbeat_ms: config.heartbeatMs,
    election_timeout_ms: config.electionTimeoutMs,
    leader_contact_age_ms: Number.isFinite(runtime.leaderContactAgeMs()) ? runtime.leaderContactAgeMs() : -1,
  };
  return {
    node: { id: config.nodeId, start_time: new Date(startedAtMs).toISOString(), uptime_s: (Date.now() - startedAtMs) / 1000 },
    build: { version, node_version: process.version },
    http: { addr: config.apiAdvertisedAddress },
    store: {
      node_id: config.nodeId,
      addr: config.raftAdvertisedAddress,
      dir: config.dataDirectory,
      ready: runtime.started && runtime.haltError === undefined,
      halted: runtime.haltError?.message ?? null,
      leader: { node_id: leaderId, addr: leader?.raftAddress ?? '', api_addr: leader?.apiAddress ?? '' },
      raft,
      fsm_index: stateMachine.appliedIndex,
      db_applied_index: stateMachine.appliedIndex,
      sqlite3: { path: stateMachine.path, version: stateMachine.sqliteVersion, checksum: contentChecksum(runtime) },
      snapshot_store: {
        snapshots: snapshot === undefined ? [] : [{ index: snapshot.metadata.index, term: snapshot.metadata.term }],
        snapshot_threshold: config.snapshotThresholdEntries,
        snapshot_interval_ms: config.snapshotIntervalMs,
      },
      nodes,
    },
  };
}
