/**
 * `quorumlite restore`: point-in-time restore from the log archive the leader keeps
 * (docs/BACKUPS.md). rqlite has no such command; the flags:
 *
 *   --config FILE        the cluster's -auto-backup file (with `point_in_time`): where the archive is
 *   --to-time TIME       the state as of TIME, RFC 3339 (2026-01-02T03:04:05Z, 2026-01-02T04:04:05.250+01:00)
 *   --to-index N         the state after log index N
 *   --output FILE        the SQLite file to write (must not exist)
 *   --list               print what the archive can restore, and nothing else
 *   --extensions-path P  the SQLite extensions the cluster loaded (comma-separated files)
 *   --db NAME            the database to write out (several databases; default main)
 *
 * Exit codes: 0 done, 1 the archive cannot give that point (or could not be read), 2 usage.
 */
import { existsSync } from 'node:fs';
import { archiveStore } from '../backup/archive-store.js';
import { BackupConfigError, parseAutoBackupConfig, readConfigText, type AutoBackupConfig } from '../backup/config.js';
import { formatTime, readArchive, type ArchiveSummary, type RestoreTarget } from '../backup/pitr-plan.js';
import { restoreToPoint } from '../backup/pitr-restore.js';
import { databaseNameProblem } from '../state-machine/database-entries.js';
import { parseGoFlags, type FlagKind, type GivenFlag } from './go-flags.js';
import { ProgressBar } from './progress-bar.js';
import { UsageError } from './usage-error.js';

export const restoreUsage = `Usage: quorumlite restore --config FILE (--to-time TIME | --to-index N) --output FILE
       quorumlite restore --config FILE --list

Rebuilds the database as it was at a moment, from the point-in-time archive the
cluster's leader keeps (the "point_in_time" object of its -auto-backup file), by
replaying the archived log entries on a base snapshot. docs/BACKUPS.md has the steps.

  --config FILE        the cluster's -auto-backup file: where the archive is
  --to-time TIME       the state as of TIME (RFC 3339: 2026-01-02T03:04:05Z or with an offset)
  --to-index N         the state after log index N
  --output FILE        the SQLite file to write (must not exist)
  --list               print what the archive can restore
  --extensions-path P  the SQLite extensions the cluster loaded (comma-separated files)
  --db NAME            the database to write out, of a cluster with several (default main)
`;

const restoreFlagKinds: ReadonlyMap<string, FlagKind> = new Map([
  ['config', 'value'],
  ['to-time', 'value'],
  ['to-index', 'value'],
  ['output', 'value'],
  ['extensions-path', 'value'],
  ['db', 'value'],
  ['list', 'boolean'],
  ['help', 'boolean'],
  ['h', 'boolean'],
]);

interface RestoreIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly progress: { readonly isTTY?: boolean; write(text: string): unknown };
}

const rfc3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** An RFC 3339 time to milliseconds since the epoch (fractions below a millisecond are dropped). */
export function parseRestoreTime(text: string, spelling: string): number {
  const match = rfc3339.exec(text);
  const milliseconds = match === null ? Number.NaN : Date.parse(`${match[1]}${(match[2] ?? '.000').slice(0, 4).padEnd(4, '0')}${match[3]?.toUpperCase()}`);
  if (!Number.isFinite(milliseconds)) throw new UsageError(`${spelling}: ${JSON.stringify(text)} is not an RFC 3339 time such as 2026-01-02T03:04:05Z`);
  return milliseconds;
}

function targetOf(flags: ReadonlyMap<string, GivenFlag>): RestoreTarget {
  const time = flags.get('to-time');
  const index = flags.get('to-index');
  if (time !== undefined && index !== undefined) throw new UsageError('give --to-time or --to-index, not both');
  if (time !== undefined) return { kind: 'time', timeMs: parseRestoreTime(time.value, time.spelling) };
  if (index !== undefined) {
    if (!/^\d{1,16}$/.test(index.value) || Number(index.value) < 1)
      throw new UsageError(`${index.spelling}: ${JSON.stringify(index.value)} is not a log index (1 or more)`);
    return { kind: 'index', index: Number(index.value) };
  }
  throw new UsageError('give --to-time TIME or --to-index N (or --list)');
}

function configOf(flags: ReadonlyMap<string, GivenFlag>): AutoBackupConfig & { readonly pointInTime: NonNullable<AutoBackupConfig['pointInTime']> } {
  const given = flags.get('config');
  if (given === undefined || given.value === '') throw new UsageError("--config FILE is required: the cluster's -auto-backup file");
  let config: AutoBackupConfig;
  try {
    config = parseAutoBackupConfig(readConfigText(given.value));
  } catch (error) {
    if (error instanceof BackupConfigError) throw new UsageError(`${given.spelling} ${given.value}: ${error.message}`);
    throw error;
  }
  const pointInTime = config.pointInTime;
  if (pointInTime === undefined)
    throw new UsageError(`${given.spelling} ${given.value}: the file has no "point_in_time" object, so the cluster keeps no archive`);
  return { ...config, pointInTime };
}

function describeArchive(summary: ArchiveSummary): string {
  const lines = [`archive: ${summary.description} (${summary.prefix})`];
  if (summary.bases.length === 0) return `${lines[0]}\nno base snapshot yet: nothing to restore\n`;
  for (const base of summary.bases) {
    lines.push(
      `base at index ${base.manifest.index} (${formatTime(base.manifest.timeMs)}): restorable to index ${base.endIndex} (${formatTime(base.endTimeMs)})`,
    );
  }
  lines.push(`last archived entry: index ${summary.lastIndex} (${formatTime(summary.lastTimeMs)})`);
  return `${lines.join('\n')}\n`;
}

export async function runRestoreCommand(argv: readonly string[], io: RestoreIo): Promise<number> {
  const { flags, positionals } = parseGoFlags(argv, restoreFlagKinds);
  if (flags.has('help') || flags.has('h')) {
    io.stdout(restoreUsage);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const config = configOf(flags);
  const store = archiveStore(config.storage, config.pointInTime.path);
  if (flags.has('list')) {
    io.stdout(describeArchive(await readArchive(store, config.pointInTime.path)));
    return 0;
  }
  const target = targetOf(flags);
  const output = flags.get('output');
  if (output === undefined || output.value === '') throw new UsageError('--output FILE is required: the SQLite file to write');
  if (existsSync(output.value)) throw new UsageError(`${output.spelling} ${output.value}: the file exists; give a new path`);
  const extensions = flags.get('extensions-path')?.value;
  const database = flags.get('db');
  if (database !== undefined && databaseNameProblem(database.value) !== undefined) {
    throw new UsageError(`${database.spelling}: ${databaseNameProblem(database.value)}: ${JSON.stringify(database.value)}`);
  }
  const bar = new ProgressBar(io.progress);
  const outcome = await restoreToPoint({
    store,
    path: config.pointInTime.path,
    target,
    outputPath: output.value,
    workDirectory: `${output.value}.restore-work`,
    extensionPaths: extensions === undefined || extensions === '' ? [] : extensions.split(','),
    ...(database === undefined ? {} : { database: database.value }),
    onProgress: (progress) =>
      bar.update(progress.phase === 'write' ? 'writing  ' : 'replaying', progress.doneCount, progress.totalCount, progress.phase !== 'replay'),
  });
  bar.finish();
  io.stdout(
    `restored index ${outcome.index} (${formatTime(outcome.timeMs)}): base at index ${outcome.baseIndex}, ` +
      `${outcome.replayedCount} entries replayed; wrote ${output.value} (${outcome.bytes} bytes)\n`,
  );
  return 0;
}
