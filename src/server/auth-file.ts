/**
 * rqlite's `-auth` file: a JSON array of users, each
 * `{"username": "bob", "password": "secret", "perms": ["query", "status"]}`. The password
 * is the cleartext or a bcrypt hash of it; the user `*` stands for everyone, anonymous
 * callers included, and needs no password. rqlite reads any JSON it can decode (an
 * unknown permission grants nothing, a repeated user replaces the earlier one);
 * quorumlite refuses those, naming the problem, since each is a mistake in a file that
 * decides who may do what. Fields other than these three are ignored, as rqlite does.
 */
import { readFileSync, statSync } from 'node:fs';
import { isPermission, permissionNames, type Permission } from '../service/access-control.js';

/** The anonymous pseudo-user: its permissions are everyone's. */
export const anyoneUsername = '*';

export interface AuthUser {
  readonly username: string;
  /** Cleartext or a bcrypt hash; '' when the file gives none. */
  readonly password: string;
  readonly permissions: ReadonlySet<Permission>;
}

/** Bounds on an -auth file (each tested at the bound and one past it). */
export const authFileLimits = {
  fileBytesMax: 1024 * 1024,
  userCountMax: 10_000,
  usernameLengthMax: 256,
  passwordLengthMax: 1024,
} as const;
const { fileBytesMax: authFileBytesMax, userCountMax: authUserCountMax, usernameLengthMax, passwordLengthMax } = authFileLimits;

/** The file cannot be used; the message says why (and where, for a file on disk). */
export class AuthFileError extends Error {
  override readonly name = 'AuthFileError';
}

/** Parses an -auth file's text into its users. */
export function parseAuthFile(text: string): AuthUser[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new AuthFileError(`not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!Array.isArray(parsed)) throw new AuthFileError('must be a JSON array of users ({"username", "password", "perms"})');
  if (parsed.length > authUserCountMax) throw new AuthFileError(`more than ${authUserCountMax} users`);
  const users: AuthUser[] = [];
  const seen = new Set<string>();
  parsed.forEach((entry: unknown, index) => {
    const user = parseUser(entry, index);
    if (seen.has(user.username)) throw new AuthFileError(`user ${JSON.stringify(user.username)} appears more than once`);
    seen.add(user.username);
    users.push(user);
  });
  return users;
}

function parseUser(entry: unknown, index: number): AuthUser {
  const where = `user ${index + 1}`;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new AuthFileError(`${where}: must be an object`);
  const { username, password, perms } = entry as Record<string, unknown>;
  if (typeof username !== 'string' || username.length === 0 || username.length > usernameLengthMax) {
    throw new AuthFileError(`${where}: "username" must be a string of 1-${usernameLengthMax} characters`);
  }
  const named = `user ${JSON.stringify(username)}`;
  // HTTP Basic ends the user name at the first ':', so such a user could never sign in.
  if (username.includes(':')) throw new AuthFileError(`${named}: a user name cannot contain ':'`);
  if (password !== undefined && (typeof password !== 'string' || password.length > passwordLengthMax)) {
    throw new AuthFileError(`${named}: "password" must be a string of at most ${passwordLengthMax} characters`);
  }
  return { username, password: password ?? '', permissions: parsePermissions(perms, named) };
}

function parsePermissions(perms: unknown, named: string): ReadonlySet<Permission> {
  if (perms === undefined || perms === null) return new Set();
  if (!Array.isArray(perms)) throw new AuthFileError(`${named}: "perms" must be an array of permission names`);
  const permissions = new Set<Permission>();
  for (const name of perms) {
    if (typeof name !== 'string' || !isPermission(name)) {
      throw new AuthFileError(`${named}: unknown permission ${JSON.stringify(name)} (known: ${permissionNames.join(', ')})`);
    }
    permissions.add(name);
  }
  return permissions;
}

/** Reads and parses the file at `path`; an AuthFileError names the path. */
export function readAuthFile(path: string): AuthUser[] {
  let text: string;
  try {
    if (statSync(path).size > authFileBytesMax) throw new AuthFileError(`${path}: larger than ${authFileBytesMax} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof AuthFileError) throw error;
    throw new AuthFileError(`${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return parseAuthFile(text);
  } catch (error) {
    if (error instanceof AuthFileError) throw new AuthFileError(`${path}: ${error.message}`);
    throw error;
  }
}
