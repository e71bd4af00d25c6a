/**
 * Who may do what, as rqlite's `-auth` file says: the contract between the code that
 * checks credentials (src/server/auth-store.ts, wired in by the server) and the places
 * that must ask it: the HTTP API (src/http/auth-check.ts) and the node's peer calls
 * (src/node/peer-access.ts: joins, and requests another node forwarded).
 *
 * A request is authenticated once, on the node that received it. When that node forwards
 * it to the leader, the caller's name travels with it (never the password, which the
 * leader never gets), and the leader checks that this name holds the permission in its
 * own file: each node's file governs that node, as in rqlite.
 */
import { ServiceError } from './service.js';

/**
 * rqlite's permission names, as an -auth file grants them. `all` grants every one;
 * `join-read-replica` is rqlite 10's newer name for `join-read-only`. `cdc-hwm-update`
 * and `ui` name rqlite features quorumlite does not have: accepted, granting nothing here.
 */
export const permissionNames = [
  'all',
  'execute',
  'query',
  'load',
  'backup',
  'snapshot',
  'status',
  'ready',
  'join',
  'join-read-only',
  'join-read-replica',
  'remove',
  'leader-ops',
  'cdc-hwm-update',
  'ui',
] as const;

export type Permission = (typeof permissionNames)[number];

export function isPermission(name: string): name is Permission {
  return (permissionNames as readonly string[]).includes(name);
}

/** HTTP Basic credentials, as a client or a joining node presents them. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/**
 * The outcome of a check. `caller`: the user the request runs as, null when it is allowed
 * anonymously (every permission it needs is granted to `*`). UNAUTHORIZED: no valid
 * credentials (HTTP 401, the client may authenticate); FORBIDDEN: valid credentials
 * without the permission (HTTP 403).
 */
export type AccessDecision =
  | { readonly allowed: true; readonly caller: string | null }
  | { readonly allowed: false; readonly code: 'UNAUTHORIZED' | 'FORBIDDEN'; readonly message: string };

export interface AccessControl {
  /** Authenticates `credentials` (null: anonymous) and decides whether they hold every one of `needed`. */
  check(credentials: Credentials | null, needed: readonly Permission[]): Promise<AccessDecision>;
  /** For a caller another node authenticated (null: anonymous): whether it holds every one of `needed` here. No password. */
  allows(caller: string | null, needed: readonly Permission[]): AccessDecision;
  /** The password the file gives `username` (for -join-as, which presents it); undefined when there is no such user. */
  passwordOf(username: string): string | undefined;
}

/** The longest user name a peer may name as a forwarded request's caller. */
export const callerNameLengthMax = 256;

/** The ServiceError for a refusal (the HTTP API answers 401 or 403 with its message). */
export function accessRefusal(decision: Extract<AccessDecision, { allowed: false }>): ServiceError {
  return new ServiceError(decision.code, decision.message);
}
