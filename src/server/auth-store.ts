/**
 * The users of one -auth file, and rqlite's rule for a request (its `AA`): a permission
 * granted to `*` needs no credentials at all (none are checked); otherwise the caller must
 * authenticate, and then hold the permission itself (or `all`). A request that needs
 * several permissions (`/db/request`: execute and query) needs each, from `*` or the user.
 *
 * A password matches when it is the string in the file, as rqlite compares; and when the
 * file holds a bcrypt hash, also when it is the cleartext of that hash (rqlite did both
 * until it dropped bcrypt in December 2023, rqlite#1492; a client that sends the hash
 * itself works either way). bcrypt is slow on purpose, so each outcome is remembered per
 * user and password (by digest, bounded) for the life of this store: a reload starts afresh.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { AccessControl, AccessDecision, Credentials, Permission } from '../service/access-control.js';
import { anyoneUsername, type AuthUser } from './auth-file.js';

/** bcrypt outcomes remembered per store; the oldest goes first beyond this. */
export const verifiedPasswordCountMax = 1024;
const bcryptHashPattern = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

/** Whether `granted` (a user's permissions, or `*`'s) includes `permission`. */
function grants(granted: ReadonlySet<Permission>, permission: Permission): boolean {
  if (granted.has(permission) || granted.has('all')) return true;
  return permission === 'join-read-only' && granted.has('join-read-replica');
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Compares in time that does not depend on where two secrets differ (digests have one length). */
function sameSecret(presented: string, stored: string): boolean {
  return timingSafeEqual(digest(presented), digest(stored));
}

function listed(permissions: readonly Permission[]): string {
  return permissions.length === 1 ? `the ${permissions[0]} permission` : `the ${permissions.join(' and ')} permissions`;
}

const unauthorized: AccessDecision = { allowed: false, code: 'UNAUTHORIZED', message: 'unauthorized' };

function forbidden(username: string, lacking: readonly Permission[], where = ''): AccessDecision {
  return { allowed: false, code: 'FORBIDDEN', message: `forbidden: user ${JSON.stringify(username)} lacks ${listed(lacking)}${where}` };
}

export class CredentialStore implements AccessControl {
  readonly #users: ReadonlyMap<string, AuthUser>;
  readonly #anyone: ReadonlySet<Permission>;
  readonly #verified = new Map<string, Promise<boolean>>();

  constructor(users: readonly AuthUser[]) {
    this.#users = new Map(users.filter((user) => user.username !== anyoneUsername).map((user) => [user.username, user]));
    this.#anyone = users.find((user) => user.username === anyoneUsername)?.permissions ?? new Set();
  }

  /** Named users (`*` aside). */
  get userCount(): number {
    return this.#users.size;
  }

  /** bcrypt outcomes remembered (at most verifiedPasswordCountMax). */
  get rememberedVerdictCount(): number {
    return this.#verified.size;
  }

  passwordOf(username: string): string | undefined {
    return this.#users.get(username)?.password;
  }

  async check(credentials: Credentials | null, needed: readonly Permission[]): Promise<AccessDecision> {
    const missing = needed.filter((permission) => !grants(this.#anyone, permission));
    if (missing.length === 0) return { allowed: true, caller: null };
    const user = credentials === null ? undefined : this.#users.get(credentials.username);
    if (credentials === null || user === undefined || !(await this.#passwordMatches(user, credentials.password))) return unauthorized;
    const lacking = missing.filter((permission) => !grants(user.permissions, permission));
    return lacking.length === 0 ? { allowed: true, caller: user.username } : forbidden(user.username, lacking);
  }

  allows(caller: string | null, needed: readonly Permission[]): AccessDecision {
    const missing = needed.filter((permission) => !grants(this.#anyone, permission));
    if (missing.length === 0) return { allowed: true, caller };
    if (caller === null) return unauthorized;
    const user = this.#users.get(caller);
    if (user === undefined) return forbidden(caller, missing, " (not a user in this node's auth file)");
    const lacking = missing.filter((permission) => !grants(user.permissions, permission));
    return lacking.length === 0 ? { allowed: true, caller } : forbidden(caller, lacking);
  }

  #passwordMatches(user: AuthUser, presented: string): Promise<boolean> {
    if (sameSecret(presented, user.password)) return Promise.resolve(true);
    if (!bcryptHashPattern.test(user.password)) return Promise.resolve(false);
    const key = `${user.username}\u0000${digest(presented).toString('base64')}`;
    const known = this.#verified.get(key);
    if (known !== undefined) return known;
    const verdict = bcrypt.compare(presented, user.password).catch(() => false);
    if (this.#verified.size >= verifiedPasswordCountMax) {
      const oldest = this.#verified.keys().next();
      if (oldest.done !== true) this.#verified.delete(oldest.value);
    }
    this.#verified.set(key, verdict);
    return verdict;
  }
}
