/**
 * rqlited's -auth FILE for `quorumlite serve`: users, passwords and permissions in
 * rqlite's JSON format (src/server/auth-file.ts), checked on every HTTP endpoint and on
 * joins, and reloaded when the file changes. -join-as USER presents that user's password
 * from the file, as rqlited does. A file that cannot be used, or a -join-as user it does
 * not hold, is a usage error at start (exit 2) naming the problem.
 */
import { AuthFileError, anyoneUsername, readAuthFile } from '../server/auth-file.js';
import type { GivenFlag } from './go-flags.js';
import { UsageError } from './usage-error.js';

export interface AuthOptions {
  /** -auth: the file of users and permissions; null: no credentials are checked. */
  readonly authFile: string | null;
}

/** -auth FILE; '' (rqlited's default) leaves authentication off. */
export function parseAuthFlags(flags: ReadonlyMap<string, GivenFlag>): AuthOptions {
  const given = flags.get('auth');
  return { authFile: given === undefined || given.value === '' ? null : given.value };
}

/** Reads the -auth file and looks the -join-as user up in it; a UsageError says what is wrong. */
export function checkAuthFile(options: AuthOptions & { readonly joinAs: string }): void {
  const { authFile, joinAs } = options;
  if (authFile === null) {
    if (joinAs !== '') throw new UsageError(`-join-as ${joinAs}: needs -auth FILE (the join presents the password the file gives that user)`);
    return;
  }
  let usernames: string[];
  try {
    usernames = readAuthFile(authFile).map((user) => user.username);
  } catch (error) {
    if (error instanceof AuthFileError) throw new UsageError(`-auth ${error.message}`);
    throw error;
  }
  if (joinAs !== '' && (joinAs === anyoneUsername || !usernames.includes(joinAs))) {
    throw new UsageError(`-join-as ${joinAs}: no such user in ${authFile}`);
  }
}

/** Whether `host` (the -http-addr host) can be reached from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/**
 * The start-up warning for an HTTP API that other machines can reach and that checks no
 * credentials; undefined when there is none to give. (The TLS warning is made the same
 * way, so that the two can become one line.)
 */
export function authExposureWarning(httpHost: string, options: AuthOptions): string | undefined {
  if (options.authFile !== null || isLoopbackHost(httpHost)) return undefined;
  const risk = 'anyone who reaches it can read and change the database (give -auth FILE)';
  return `the HTTP API listens on ${httpHost}, reachable beyond this machine, without authentication: ${risk}`;
}
