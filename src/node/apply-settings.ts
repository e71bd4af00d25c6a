/**
 * What a node's state machine needs to apply entries the way every other node does, beyond
 * the entries themselves: the SQLite library, whether foreign keys are enforced (`-fk`),
 * and the extensions loaded into its connections (`-extensions-path`). Two nodes that
 * differ in any of them can apply the same statement differently (a foreign key violation
 * fails on one and succeeds on the other; an `INSERT … SELECT` without `ORDER BY` may
 * take rows in another order under another query planner; an extension function of
 * another build answers other values), and statement replication then forks their
 * databases without an error anywhere.
 *
 * So a node sends its settings when it joins or notifies (`--bootstrap-expect`), and the
 * leader (or the notified node) compares them with its own before anything changes:
 * - a node without state that differs in anything is refused;
 * - a member rejoining with its state (a restart) that differs in foreign keys or
 *   extensions is refused: changing either on a running cluster forks it. A different
 *   SQLite version is admitted with a warning on both sides: that is a rolling upgrade,
 *   the way the version changes, and the cluster must finish it before the versions'
 *   differences can matter.
 * A node that sends no settings (a build before them) is admitted with a warning.
 */
import { ServiceError } from '../service/service.js';

export interface ExtensionDigest {
  /** The file's name in `<data>/extensions`. */
  readonly name: string;
  /** The SHA-256 of the file's bytes, in hex. */
  readonly sha256: string;
}

export interface ApplySettings {
  /** `sqlite_version()`. */
  readonly sqliteVersion: string;
  /** `-fk`. */
  readonly foreignKeys: boolean;
  /** Sorted by name. */
  readonly extensions: readonly ExtensionDigest[];
}

/** Bounds on a peer's settings. */
export const applySettingsLimits = { versionLengthMax: 64, extensionCountMax: 256, extensionNameLengthMax: 255 } as const;

const sha256Pattern = /^[0-9a-f]{64}$/;

function refuse(what: string): never {
  throw new ServiceError('BAD_REQUEST', `settings: ${what}`);
}

/** A peer's settings from its payload: undefined when absent (a build before them); BAD_REQUEST when malformed. */
export function parseApplySettings(value: unknown): ApplySettings | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') refuse('must be an object');
  const { sqliteVersion, foreignKeys, extensions } = value as Record<string, unknown>;
  const { versionLengthMax, extensionCountMax, extensionNameLengthMax } = applySettingsLimits;
  if (typeof sqliteVersion !== 'string' || sqliteVersion.length === 0 || sqliteVersion.length > versionLengthMax) {
    refuse(`sqliteVersion must be a string of 1-${versionLengthMax} characters`);
  }
  if (typeof foreignKeys !== 'boolean') refuse('foreignKeys must be a boolean');
  if (!Array.isArray(extensions) || extensions.length > extensionCountMax) refuse(`extensions must be a list of at most ${extensionCountMax}`);
  const digests = extensions.map((entry: unknown): ExtensionDigest => {
    const { name, sha256 } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof name !== 'string' || name.length === 0 || name.length > extensionNameLengthMax) {
      refuse(`an extension's name must be a string of 1-${extensionNameLengthMax} characters`);
    }
    if (typeof sha256 !== 'string' || !sha256Pattern.test(sha256)) refuse(`extension ${name}: sha256 must be 64 hex digits`);
    return { name, sha256 };
  });
  // Differences are found by name: two files of one name would hide one of them.
  if (new Set(digests.map((digest) => digest.name)).size !== digests.length) refuse('an extension name is listed twice');
  return { sqliteVersion, foreignKeys, extensions: digests.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}

interface SettingsDifferences {
  /** Differences that fork the databases of nodes that apply the same entries. */
  readonly forking: readonly string[];
  /** A different SQLite version: what a rolling upgrade goes through. */
  readonly version: string | undefined;
}

/** Who holds which settings, as the messages name them: e.g. `the leader n1` and `n3`. */
interface SettingsHolders {
  readonly self: string;
  readonly peer: string;
}

/**
 * How `theirs` (the peer's) differs from `mine`, each difference a phrase naming both
 * sides, e.g. `foreign keys (-fk) are enforced on the leader n1, not on n3`.
 */
export function applySettingsDifferences(mine: ApplySettings, theirs: ApplySettings, holders: SettingsHolders): SettingsDifferences {
  const { self, peer } = holders;
  const forking: string[] = [];
  if (mine.foreignKeys !== theirs.foreignKeys) {
    const [enforcing, not] = mine.foreignKeys ? [self, peer] : [peer, self];
    forking.push(`foreign keys (-fk) are enforced on ${enforcing}, not on ${not}`);
  }
  const theirExtensions = new Map(theirs.extensions.map((extension) => [extension.name, extension.sha256]));
  const myExtensions = new Map(mine.extensions.map((extension) => [extension.name, extension.sha256]));
  for (const [name, sha256] of myExtensions) {
    const their = theirExtensions.get(name);
    if (their === undefined) forking.push(`extension ${name} is loaded on ${self}, not on ${peer}`);
    else if (their !== sha256)
      forking.push(`extension ${name} is another file on ${self} (SHA-256 ${sha256.slice(0, 12)}…) than on ${peer} (${their.slice(0, 12)}…)`);
  }
  for (const name of theirExtensions.keys()) {
    if (!myExtensions.has(name)) forking.push(`extension ${name} is loaded on ${peer}, not on ${self}`);
  }
  const version = mine.sqliteVersion === theirs.sqliteVersion ? undefined : `SQLite ${mine.sqliteVersion} on ${self}, ${theirs.sqliteVersion} on ${peer}`;
  return { forking, version };
}

/**
 * Whether node `peer` may take part with `theirs` (see the file comment): throws
 * SETTINGS_MISMATCH naming every difference when it may not; answers the warning to log
 * when it may with one (a rolling upgrade's version, or no settings sent), else undefined.
 */
export function checkApplySettings(
  mine: ApplySettings,
  theirs: ApplySettings | undefined,
  holders: SettingsHolders,
  options: { hasState: boolean },
): string | undefined {
  const { self, peer } = holders;
  if (theirs === undefined) return `${peer} sent no settings (a build before they were checked): it may apply entries differently from ${self}`;
  const { forking, version } = applySettingsDifferences(mine, theirs, holders);
  // A new node must match the version too; a member rejoining with another one is a rolling upgrade.
  const refused = !options.hasState && version !== undefined ? [...forking, version] : forking;
  if (refused.length > 0) {
    throw new ServiceError('SETTINGS_MISMATCH', `${peer} would apply entries differently from ${self}: ${refused.join('; ')}`);
  }
  return version === undefined ? undefined : `${version}: a rolling upgrade; finish it on every node`;
}
