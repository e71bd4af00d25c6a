/**
 * The -auto-backup and -auto-restore files, in rqlite's JSON format (its auto/backup and
 * auto/restore packages): `version`, `type` ("s3" or "file"), `interval`, `no_compress`,
 * `vacuum`, `timestamp` (backup); `timeout`, `continue_on_failure` (restore); and `sub`,
 * the storage: for s3 `access_key_id`, `secret_access_key`, `endpoint`, `region`,
 * `bucket`, `path`, `force_path_style`; for file `dir` and `name` (`file`, the name
 * rqlite's documentation gives it, is accepted too). Environment variables are expanded
 * first, as rqlite does. quorumlite adds one optional object to the backup file,
 * `point_in_time` (docs/BACKUPS.md): the log archive for point-in-time restore.
 * rqlite's "gcs" type is refused. Unlike Go's decoder, an unknown field is an error.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, normalize, posix } from 'node:path';
import { expandEnvironment } from './env-expansion.js';
import {
  BackupConfigError,
  configVersion,
  durationMs,
  objectFields,
  optionalBoolean,
  optionalString,
  requiredString,
  type JsonFields,
} from './config-fields.js';

export { BackupConfigError } from './config-fields.js';

/** The newest file format read (rqlite's auto.Version). */
const configVersionMax = 1;
/** Config files are small; a larger one is a mistake (a database given by accident, say). */
const configBytesMax = 1024 * 1024;

export interface S3Storage {
  readonly type: 's3';
  /** '' for Amazon S3 itself; otherwise an S3-compatible endpoint (https:// is added when no scheme is given). */
  readonly endpoint: string;
  readonly region: string;
  /** Both '' for the SDK's default credential chain (an IAM role, the environment). */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly bucket: string;
  /** The backup's key in the bucket. */
  readonly path: string;
  readonly forcePathStyle: boolean;
}

export interface FileStorage {
  readonly type: 'file';
  /** An absolute directory, created when missing. */
  readonly directory: string;
  /** The backup's file name in `directory` (no separators). */
  readonly name: string;
}

export type StorageSettings = S3Storage | FileStorage;

/** quorumlite's log archive for point-in-time restore (docs/BACKUPS.md). Names after Litestream's settings. */
export interface PointInTimeSettings {
  /** Key prefix (s3) or subdirectory (file) of the archive, relative to the bucket or `dir`. */
  readonly path: string;
  /** How often the leader ships newly committed entries. */
  readonly syncIntervalMs: number;
  /** How often the leader uploads a new base snapshot (when anything changed since the last). */
  readonly snapshotIntervalMs: number;
  /** How far back a restore can go: older base snapshots and the entries before them are deleted. */
  readonly retentionMs: number;
}

export interface AutoBackupConfig {
  readonly version: number;
  readonly storage: StorageSettings;
  readonly intervalMs: number;
  /** gzip the backup (rqlite's default; `no_compress: true` turns it off). */
  readonly compress: boolean;
  readonly vacuum: boolean;
  /** Prefix each upload's name with its UTC time (YYYYMMDDHHMMSS_), keeping every upload. */
  readonly timestamp: boolean;
  readonly pointInTime: PointInTimeSettings | undefined;
}

export interface AutoRestoreConfig {
  readonly version: number;
  readonly storage: StorageSettings;
  /** The whole download's bound (rqlite's default 30 s). */
  readonly timeoutMs: number;
  /** A failed download is logged and the node starts empty instead of exiting. */
  readonly continueOnFailure: boolean;
}

export const pointInTimeDefaults = {
  path: 'pitr',
  syncIntervalMs: 1_000,
  snapshotIntervalMs: 60 * 60 * 1000,
  retentionMs: 24 * 60 * 60 * 1000,
} as const;

const restoreTimeoutMsDefault = 30_000;

function storageType(fields: JsonFields): 's3' | 'file' {
  const type = fields.type;
  if (type === 's3' || type === 'file') return type;
  if (type === 'gcs') throw new BackupConfigError('type: "gcs" is not supported: quorumlite backs up to S3-compatible storage ("s3") or a directory ("file")');
  throw new BackupConfigError(`type: unsupported storage type ${JSON.stringify(type ?? null)} (expected "s3" or "file")`);
}

const s3Fields = ['access_key_id', 'secret_access_key', 'endpoint', 'region', 'bucket', 'path', 'force_path_style'];

function parseS3(sub: unknown): S3Storage {
  const fields = objectFields(sub, 'sub', s3Fields);
  return {
    type: 's3',
    endpoint: optionalString(fields, 'endpoint', 'sub.endpoint') ?? '',
    region: requiredString(fields, 'region', 'sub.region'),
    accessKeyId: optionalString(fields, 'access_key_id', 'sub.access_key_id') ?? '',
    secretAccessKey: optionalString(fields, 'secret_access_key', 'sub.secret_access_key') ?? '',
    bucket: requiredString(fields, 'bucket', 'sub.bucket'),
    path: requiredString(fields, 'path', 'sub.path'),
    forcePathStyle: optionalBoolean(fields, 'force_path_style', 'sub.force_path_style'),
  };
}

/** rqlite's file client: `dir` absolute, the name a plain file name (no separators, no `..`). */
function parseFile(sub: unknown): FileStorage {
  const fields = objectFields(sub, 'sub', ['dir', 'name', 'file']);
  const directory = requiredString(fields, 'dir', 'sub.dir');
  if (!isAbsolute(directory)) throw new BackupConfigError(`sub.dir: the directory path must be absolute, got ${JSON.stringify(directory)}`);
  const byName = optionalString(fields, 'name', 'sub.name');
  const byFile = optionalString(fields, 'file', 'sub.file');
  if (byName !== undefined && byFile !== undefined && byName !== byFile) {
    throw new BackupConfigError(`sub.name and sub.file name the backup file twice (${JSON.stringify(byName)}, ${JSON.stringify(byFile)}): give one`);
  }
  const name = byName ?? byFile;
  if (name === undefined || name === '') throw new BackupConfigError('sub.name: required, and may not be empty (the backup file name)');
  if (name.includes('/') || name.includes('\\') || name === '.' || name === '..' || posix.basename(name) !== name) {
    throw new BackupConfigError(`sub.name: invalid file name ${JSON.stringify(name)} (must be a simple file name without path separators)`);
  }
  return { type: 'file', directory: normalize(directory), name };
}

function parseStorage(fields: JsonFields): StorageSettings {
  const type = storageType(fields);
  if (fields.sub === undefined || fields.sub === null) throw new BackupConfigError('sub: required (the storage settings)');
  return type === 's3' ? parseS3(fields.sub) : parseFile(fields.sub);
}

/** A relative key prefix or subdirectory: no leading '/', no '.' or '..' segment, no empty segment. */
function archivePath(fields: JsonFields): string {
  const path = optionalString(fields, 'path', 'point_in_time.path') ?? pointInTimeDefaults.path;
  const segments = path.split('/');
  if (path === '' || segments.some((segment) => segment === '' || segment === '.' || segment === '..') || path.includes('\\')) {
    throw new BackupConfigError(`point_in_time.path: ${JSON.stringify(path)} must be a relative path such as "pitr" (no empty, "." or ".." parts)`);
  }
  return path;
}

function parsePointInTime(value: unknown): PointInTimeSettings | undefined {
  if (value === undefined || value === null) return undefined;
  const fields = objectFields(value, 'point_in_time', ['path', 'sync_interval', 'snapshot_interval', 'retention']);
  return {
    path: archivePath(fields),
    syncIntervalMs: durationMs(fields, 'sync_interval', 'point_in_time.sync_interval', pointInTimeDefaults.syncIntervalMs),
    snapshotIntervalMs: durationMs(fields, 'snapshot_interval', 'point_in_time.snapshot_interval', pointInTimeDefaults.snapshotIntervalMs),
    retentionMs: durationMs(fields, 'retention', 'point_in_time.retention', pointInTimeDefaults.retentionMs),
  };
}

function parseJsonText(text: string): JsonFields {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BackupConfigError(`not valid JSON: ${(error as Error).message}`);
  }
  return objectFields(value, '', [
    'version',
    'type',
    'no_compress',
    'timestamp',
    'vacuum',
    'interval',
    'sub',
    'timeout',
    'continue_on_failure',
    'point_in_time',
  ]);
}

function refuseFields(fields: JsonFields, names: readonly string[], what: string): void {
  for (const name of names) if (fields[name] !== undefined) throw new BackupConfigError(`${name}: unknown field in ${what} file`);
}

/** An -auto-backup file's text, after environment expansion. */
export function parseAutoBackupConfig(text: string): AutoBackupConfig {
  const fields = parseJsonText(text);
  refuseFields(fields, ['timeout', 'continue_on_failure'], 'an -auto-backup');
  const version = configVersion(fields, configVersionMax);
  const storage = parseStorage(fields);
  const pointInTime = parsePointInTime(fields.point_in_time);
  const archiveTop = pointInTime?.path.split('/')[0];
  if (storage.type === 'file' && (archiveTop === storage.name || archiveTop === 'METADATA.json')) {
    throw new BackupConfigError(`point_in_time.path: ${JSON.stringify(pointInTime?.path)} would put the archive where the backup file goes in sub.dir`);
  }
  return {
    version,
    storage,
    intervalMs: durationMs(fields, 'interval', 'interval', undefined),
    compress: !optionalBoolean(fields, 'no_compress', 'no_compress'),
    vacuum: optionalBoolean(fields, 'vacuum', 'vacuum'),
    timestamp: optionalBoolean(fields, 'timestamp', 'timestamp'),
    pointInTime,
  };
}

/** An -auto-restore file's text, after environment expansion. */
export function parseAutoRestoreConfig(text: string): AutoRestoreConfig {
  const fields = parseJsonText(text);
  refuseFields(fields, ['no_compress', 'timestamp', 'vacuum', 'interval', 'point_in_time'], 'an -auto-restore');
  const version = configVersion(fields, configVersionMax);
  return {
    version,
    storage: parseStorage(fields),
    timeoutMs: durationMs(fields, 'timeout', 'timeout', restoreTimeoutMsDefault),
    continueOnFailure: optionalBoolean(fields, 'continue_on_failure', 'continue_on_failure'),
  };
}

/** Reads a config file and expands environment variables in it (rqlite's ReadConfigFile). */
export function readConfigText(path: string, environment: NodeJS.ProcessEnv = process.env): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new BackupConfigError(`cannot read ${path}: ${(error as Error).message}`);
  }
  if (bytes.length > configBytesMax) throw new BackupConfigError(`${path} is ${bytes.length} bytes; a config file holds at most ${configBytesMax}`);
  return expandEnvironment(bytes.toString('utf8'), (name) => environment[name]);
}
