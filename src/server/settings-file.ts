/**
 * `<data>/apply-settings.json`: the settings this node's data was written with (SQLite
 * version, -fk, extensions; node/apply-settings.ts). A join or a notify checks a node's
 * settings against the cluster's once; this file keeps the node from changing them
 * afterwards, on a restart with other flags, when no join runs (a restart without --join)
 * or runs too late (a rejoin runs beside the restarted node, which applies entries
 * meanwhile).
 *
 * - A node without Raft state records its settings, replacing any record.
 * - A node with state and a record: foreign keys or extensions that differ refuse the
 *   start, before the node applies anything. A changed SQLite version (an upgrade) is
 *   recorded, with a warning.
 * - A node with state and no record (data from a build before the file) records them.
 * - A record that cannot be read (not JSON, a wrong shape, over the size bound) refuses
 *   the start: the node cannot tell what its data was written with.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceAtomically } from '../backup/files.js';
import { applySettingsDifferences, parseApplySettings, type ApplySettings } from '../node/apply-settings.js';
import { readBoundedText } from '../node/files.js';
import type { NodeLogger } from '../node/logger.js';

export const settingsFileName = 'apply-settings.json';
/** A record is a few hundred bytes; 256 extensions of 255-character names fit well within. */
export const settingsFileBytesMax = 128 * 1024;

export class SettingsFileError extends Error {
  override readonly name = 'SettingsFileError';
}

function readRecord(path: string): ApplySettings | undefined {
  const read = readBoundedText(path, settingsFileBytesMax);
  if (read === undefined) return undefined;
  const unreadable = (why: string): SettingsFileError =>
    new SettingsFileError(
      `${path}: ${why}. It records the SQLite version, -fk and extensions this node's data was written with; ` +
        'restore it, or move it aside once the node is given the settings its cluster runs with',
    );
  if ('oversizeBytes' in read) throw unreadable(`${read.oversizeBytes} bytes, over the ${settingsFileBytesMax}-byte bound`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(read.text);
  } catch (error) {
    throw unreadable(`not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  try {
    const settings = parseApplySettings(parsed);
    if (settings === undefined) throw new Error('empty');
    return settings;
  } catch (error) {
    throw unreadable(`not a settings record (${error instanceof Error ? error.message : String(error)})`);
  }
}

async function writeRecord(path: string, settings: ApplySettings): Promise<void> {
  await replaceAtomically(path, (temporaryPath) => writeFile(temporaryPath, `${JSON.stringify(settings, null, 2)}\n`));
}

/** Checks this start's settings against the record (see the file comment); records them; throws SettingsFileError to refuse the start. */
export async function checkSettingsFile(dataDirectory: string, settings: ApplySettings, options: { hasState: boolean; logger: NodeLogger }): Promise<void> {
  const path = join(dataDirectory, settingsFileName);
  const recorded = readRecord(path);
  if (!options.hasState || recorded === undefined) {
    if (options.hasState) options.logger.info({ event: 'settings-recorded', path }, 'recorded the settings of data from before apply-settings.json');
    await writeRecord(path, settings);
    return;
  }
  const { forking, version } = applySettingsDifferences(recorded, settings, { self: 'its data', peer: 'this start' });
  if (forking.length > 0) {
    throw new SettingsFileError(
      `this node's data was written with other settings than it starts with: ${forking.join('; ')} (${path}). ` +
        'The other nodes apply the same entries with the settings the data was written with: start it with those. ' +
        'To change them for a cluster, back it up and restore the backup into a new cluster started with the new settings',
    );
  }
  if (version !== undefined) {
    options.logger.warn({ event: 'settings-upgraded', path, change: version }, `${version}: recorded; finish the upgrade on every node`);
    await writeRecord(path, settings);
  }
}
