/**
 * rqlited's -cdc-config: a URL, `stdout`, or a JSON file in rqlite's format (environment
 * variables expanded, as in -auto-backup's file), read and checked while the command line
 * is parsed: a bad value is a usage error before anything starts. Empty is off.
 */
import { BackupConfigError, readConfigText } from '../backup/config.js';
import { CdcConfigError, parseCdcFlag, type CdcConfig } from '../node/cdc-config.js';
import type { GivenFlag } from './go-flags.js';
import { UsageError } from './usage-error.js';

export interface CdcOptions {
  /** Change data capture's settings; undefined when -cdc-config is not given. */
  readonly cdc: CdcConfig | undefined;
}

export function cdcOptions(flags: ReadonlyMap<string, GivenFlag>): CdcOptions {
  const given = flags.get('cdc-config');
  if (given === undefined || given.value === '') return { cdc: undefined };
  try {
    return { cdc: parseCdcFlag(given.value, (path) => readConfigText(path)) };
  } catch (error) {
    if (error instanceof CdcConfigError || error instanceof BackupConfigError) {
      throw new UsageError(`${given.spelling} ${given.value}: ${error.message}`);
    }
    throw error;
  }
}
