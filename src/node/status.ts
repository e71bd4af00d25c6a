/**
 * The `/status` document, with the keys rqlite tooling reads (docs/API.md, "Cluster endpoints"):
 * store.raft.state, commit_index, applied_index, last_log_index, last_snapshot_index,
 * voter; store.leader.addr / node_id; store.fsm_index, db_applied_index;
 * store.sqlite3.path and pragmas; store.snapshot_store.snapshots; extensions.names;
 * http.queue._default (the write queue); and rqlite's `os` and `runtime` sections with
 * this process's values under rqlite's key names (a Go-only fact such as GOMAXPROCS or
 * num_goroutine is left out, never made up).
 */
import { statSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { statusKeyShows, type StatusDocument, type StatusValue } from '../service/service.js';
import type { NodeConfig } from './config.js';
import type { ObservedNode } from './node-metrics.js';
import type { ReplicatedLog } from './replicated-log.js';

/** What /status reads of the database (the state machine). */
export interface StatusDatabase {
  readonly path: string;
  readonly appliedIndex: number;
  readonly sqliteVersion: string;
  /** The SQLite extensions every connection loads, by file name. */
  readonly extensionNames?: readonly string[];
  /** The content checksum, read off the event loop (it reads every row). */
  checksumOffThread(): Promise<{ readonly checksum: string }>;
  /** rqlite's `store.sqlite3.pragmas`: the write (`rw`) and read (`ro`) connections' settings. */
  pragmas(): Record<'rw' | 'ro', Record<string, string>>;
}

/** Everything /status reports on, passed in: no reaching through the runtime. */
interface StatusSources {
  /** `/status?key=`: what is shown; the content checksum (it reads every row) is computed only when it is. */
  readonly key: string;
  readonly config: NodeConfig;
  readonly log: ReplicatedLog;
  readonly database: StatusDatabase;
  /** When this node started, and now (wall clock, ms, from the node's scheduler). */
  readonly startedAtMs: number;
  readonly nowMs: number;
  /** `http.queue`: the write queue behind `?queue` (rqlite's keys). */
  readonly writeQueue: StatusValue;
  /** Ours: the recent events and, on the leader, each follower's replication. */
  readonly observed?: ObservedNode;
  /** `store.databases` (ours: several databases): their names, the default one first, and the bound. */
  readonly databases?: { readonly names: readonly string[]; readonly countMax: number };
}

/** The content checksum reads every row: computed once per applied index (concurrent asks share it), then reused. */
const cachedChecksums = new WeakMap<StatusDatabase, { appliedIndex: number; checksum: Promise<string> }>();
/** Beyond this database size /status leaves the checksum out (it would read every row). */
export const checksumDatabaseBytesMax = 64 * 1024 * 1024;

function fileBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The database file and its WAL: the WAL holds every change since the last snapshot (decision 9), so the file alone may be small. */
function databaseBytes(path: string): number {
  return fileBytes(path) + fileBytes(`${path}-wal`);
}

/** The content checksum `/status` shows: null above checksumDatabaseBytesMax, without reading a row. */
export async function contentChecksum(database: StatusDatabase): Promise<string | null> {
  if (databaseBytes(database.path) > checksumDatabaseBytesMax) return null;
  const appliedIndex = database.appliedIndex;
  const cached = cachedChecksums.get(database);
  if (cached?.appliedIndex === appliedIndex) return cached.checksum;
  const checksum = database.checksumOffThread().then((answer) => answer.checksum);
  cachedChecksums.set(database, { appliedIndex, checksum });
  // A failed read is not kept: the next /status tries again.
  checksum.catch(() => {
    if (cachedChecksums.get(database)?.checksum === checksum) cachedChecksums.delete(database);
  });
  return checksum;
}

const checksumPath = ['store', 'sqlite3', 'checksum'];

function raftStateName(role: string, stopped: boolean): string {
  if (stopped) return 'Shutdown';
  if (role === 'leader') return 'Leader';
  if (role === 'candidate' || role === 'pre-candidate') return 'Candidate';
  return 'Follower';
}

/** Go's names for the architectures and systems Node names otherwise (rqlite reports Go's). */
const goArchitectures: Readonly<Record<string, string>> = { x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', loong64: 'loong64' };
const goSystems: Readonly<Record<string, string>> = { win32: 'windows', sunos: 'solaris' };

/** rqlite's `os` and `runtime` sections, for this process. */
function processSections(): { os: StatusValue; runtime: StatusValue } {
  return {
    os: { pid: process.pid, ppid: process.ppid, executable: process.execPath, hostname: hostname() },
    runtime: {
      GOARCH: goArchitectures[process.arch] ?? process.arch,
      GOOS: goSystems[process.platform] ?? process.platform,
      num_cpu: availableParallelism(),
      version: process.version,
    },
  };
}

export async function buildStatus(sources: StatusSources, version: string): Promise<StatusDocument> {
  const { config, log, database, startedAtMs, nowMs, writeQueue } = sources;
  const checksum = statusKeyShows(sources.key, checksumPath) ? await contentChecksum(database) : null;
  const position = log.position();
  const leaderId = log.leaderId;
  const leader = leaderId === '' ? undefined : log.members.get(leaderId);
  const snapshot = position.latestSnapshot;
  const confState = log.confState();
  const leaderContactAgeMs = log.leaderContactAgeMs();
  const nodes: StatusValue[] = log.members.entries().map(([id, addresses]) => ({
    id,
    addr: addresses.raftAddress,
    api_addr: addresses.apiAddress,
    voter: confState.voters.includes(id),
  }));
  const raft: Record<string, StatusValue> = {
    state: raftStateName(log.role, log.stopped),
    term: position.term,
    commit_index: position.commitIndex,
    applied_index: database.appliedIndex,
    last_log_index: position.lastIndex,
    first_log_index: position.firstIndex,
    last_snapshot_index: position.lastSnapshotIndex,
    voter: confState.voters.includes(config.nodeId),
    num_peers: Math.max(0, confState.voters.length - 1),
    num_learners: confState.learners.length,
    voters: [...confState.voters],
    learners: [...confState.learners],
    heartbeat_ms: config.heartbeatMs,
    election_timeout_ms: config.electionTimeoutMs,
    leader_contact_age_ms: Number.isFinite(leaderContactAgeMs) ? leaderContactAgeMs : -1,
  };
  return {
    ...processSections(),
    node: { id: config.nodeId, start_time: new Date(startedAtMs).toISOString(), uptime_s: (nowMs - startedAtMs) / 1000 },
    build: { version, node_version: process.version },
    http: { addr: config.apiAdvertisedAddress, queue: writeQueue },
    store: {
      node_id: config.nodeId,
      addr: config.raftAdvertisedAddress,
      dir: config.dataDirectory,
      ready: log.started && log.haltError === undefined,
      halted: log.haltError?.message ?? null,
      leader: { node_id: leaderId, addr: leader?.raftAddress ?? '', api_addr: leader?.apiAddress ?? '' },
      raft,
      fsm_index: database.appliedIndex,
      db_applied_index: database.appliedIndex,
      ...(sources.databases === undefined ? {} : { databases: { names: [...sources.databases.names], count_max: sources.databases.countMax } }),
      sqlite3: { path: database.path, version: database.sqliteVersion, checksum, pragmas: database.pragmas() },
      snapshot_store: {
        snapshots: snapshot === undefined ? [] : [{ index: snapshot.index, term: snapshot.term }],
        snapshot_threshold: config.snapshotThresholdEntries,
        snapshot_interval_ms: config.snapshotIntervalMs,
      },
      nodes,
    },
    // rqlite's extensions section (its shell's .extensions reads names).
    extensions: { dir: join(config.dataDirectory, 'extensions'), names: [...(database.extensionNames ?? [])] },
    ...(sources.observed === undefined ? {} : observedSections(sources.observed)),
  };
}

/** Ours: `replication` (on the leader, one entry a follower) and `events` (the recent state changes, oldest first). */
function observedSections(observed: ObservedNode): { replication: StatusValue; events: StatusValue } {
  const followers = observed.followerProgress().map((follower) => ({
    id: follower.id,
    match_index: follower.matchIndex,
    lag_entries: follower.lagEntries,
    state: follower.state,
    voter: follower.voter,
    recent_active: follower.recentActive,
    last_contact_age_ms: follower.lastContactAgeMs,
  }));
  const events = observed.events
    .list()
    .map((event) => ({ time: event.time, level: event.level, event: event.event, message: event.message, fields: event.fields }));
  return { replication: { followers }, events };
}
