/**
 * rqlited's -auto-backup FILE and -auto-restore FILE: each names a JSON file in rqlite's
 * format (src/backup/config.ts; environment variables expanded). The file is read and
 * checked while the command line is parsed, so a missing or malformed file is a usage
 * error naming the flag and the field, before anything starts. An empty value is off.
 */
import { BackupConfigError, parseAutoBackupConfig, parseAutoRestoreConfig, readConfigText } from '../backup/config.js';
import type { AutoBackupConfig, AutoRestoreConfig } from '../backup/config.js';
import type { GivenFlag } from './go-flags.js';
import { UsageError } from './usage-error.js';

export interface BackupOptions {
  /** -auto-backup's file, read and checked; undefined when not given. */
  readonly autoBackup: AutoBackupConfig | undefined;
  /** -auto-restore's file, read and checked. */
  readonly autoRestore: AutoRestoreConfig | undefined;
}

function readConfig<Config>(given: GivenFlag | undefined, parse: (text: string) => Config): Config | undefined {
  if (given === undefined || given.value === '') return undefined;
  try {
    return parse(readConfigText(given.value));
  } catch (error) {
    if (error instanceof BackupConfigError) throw new UsageError(`${given.spelling} ${given.value}: ${error.message}`);
    throw error;
  }
}

/** `onEtcd`: with --consensus etcd, whose log the point-in-time archive cannot read (it reads the embedded Raft's log files). */
export function backupOptions(flags: ReadonlyMap<string, GivenFlag>, onEtcd: boolean): BackupOptions {
  const given = flags.get('auto-backup');
  const autoBackup = readConfig(given, parseAutoBackupConfig);
  if (onEtcd && autoBackup?.pointInTime !== undefined && given !== undefined)
    throw new UsageError(
      `${given.spelling} ${given.value}: point_in_time is not available with --consensus etcd (the log archive reads the embedded Raft's log files)`,
    );
  return { autoBackup, autoRestore: readConfig(flags.get('auto-restore'), parseAutoRestoreConfig) };
}
