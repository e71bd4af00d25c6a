/**
 * Credentials and callers on the peer transport, when the node checks credentials
 * (rqlited -auth; src/service/access-control.ts):
 * - a joining (or --bootstrap-expect notifying) node presents its -join-as user's
 *   credentials, as rqlite's joiner does; the node it reaches authenticates them: a voter
 *   needs `join`, a non-voter `join-read-only` (rqlite's rule, one each; `all` grants both);
 * - a request one node authenticated and forwards to the leader (a write, a read, a
 *   removal, a step-down, a join) carries the caller's name only, never a password: the
 *   leader checks that this name holds the permission in its own file.
 * The peer port is trusted to carry that name (only cluster nodes should reach it, as
 * rqlite's security guide says of its Raft port).
 */
import { accessRefusal, callerNameLengthMax, type AccessControl, type Credentials, type Permission } from '../service/access-control.js';
import { ServiceError, type CallContext } from '../service/service.js';

const credentialLengthMax = 1024;

/** A request to forward to the leader, with the caller this node authenticated. */
export function withCaller<Request extends object>(request: Request, context: CallContext): Request & { readonly caller: string | null } {
  // Not `{ ...request, caller }` (V8 11.3 keeps such literals' requests alive: src/http/data-handlers.ts).
  return Object.assign({}, request, { caller: context.caller ?? null });
}

function readCaller(payload: unknown): string | null {
  const caller = (payload as { caller?: unknown } | null)?.caller;
  if (caller === undefined || caller === null) return null;
  if (typeof caller !== 'string' || caller.length === 0 || caller.length > callerNameLengthMax) {
    throw new ServiceError('BAD_REQUEST', `caller must be null or a user name of 1-${callerNameLengthMax} characters`);
  }
  return caller;
}

function readCredentials(payload: unknown): Credentials | null {
  const credentials = (payload as { credentials?: unknown } | null)?.credentials;
  if (credentials === undefined || credentials === null) return null;
  const { username, password } = credentials as Record<string, unknown>;
  if (typeof username !== 'string' || typeof password !== 'string' || username.length > credentialLengthMax || password.length > credentialLengthMax) {
    throw new ServiceError('BAD_REQUEST', 'credentials must be a user name and a password');
  }
  return { username, password };
}

/**
 * A forwarded request on the leader: the caller it names, once this node (when it checks
 * credentials) found that caller holds every one of `needed`.
 */
export function authorizeForwarded(access: AccessControl | null, payload: unknown, needed: readonly Permission[]): string | null {
  const caller = readCaller(payload);
  if (access === null) return caller;
  const decision = access.allows(caller, needed);
  if (!decision.allowed) throw accessRefusal(decision);
  return caller;
}

/** What a join needs: `join` for a voter, `join-read-only` for a non-voter. */
export function joinPermission(voter: boolean): Permission {
  return voter ? 'join' : 'join-read-only';
}

/**
 * A join or a notification: from the joining node itself, its credentials are
 * authenticated; forwarded by a member (`forwarded: true`), its caller is checked.
 * Resolves with the caller to forward it as.
 */
export async function authorizeJoin(access: AccessControl | null, payload: unknown, needed: Permission): Promise<string | null> {
  const forwarded = (payload as { forwarded?: unknown } | null)?.forwarded === true;
  if (forwarded) return authorizeForwarded(access, payload, [needed]);
  const credentials = readCredentials(payload);
  // A node that checks no credentials authenticated no one: it forwards the join as anonymous.
  if (access === null) return null;
  const decision = await access.check(credentials, [needed]);
  if (!decision.allowed) throw accessRefusal(decision);
  return decision.caller;
}
