/**
 * The HTTP API's check, made once a request's path names an endpoint (an unknown path is
 * 404 and a CORS preflight is answered, unchecked, as rqlite does): HTTP Basic
 * credentials, read as Go's `Request.BasicAuth` reads them (a malformed header counts as
 * none), against the permissions the endpoint needs (auth-endpoints.ts). A refusal is a
 * ServiceError, so it is answered like every other: 401 with `WWW-Authenticate` without
 * valid credentials, 403 with them but without the permission.
 */
import type { IncomingMessage } from 'node:http';
import { accessRefusal, type AccessControl, type Credentials } from '../service/access-control.js';
import { permissionsFor } from './auth-endpoints.js';

const basicPrefix = 'basic ';
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `Authorization: Basic base64(user:password)`; null when absent or malformed. */
export function basicCredentials(header: string | undefined): Credentials | null {
  if (header === undefined || header.length < basicPrefix.length || header.slice(0, basicPrefix.length).toLowerCase() !== basicPrefix) return null;
  const encoded = header.slice(basicPrefix.length);
  if (!base64Pattern.test(encoded)) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Resolves with the caller the request runs as (a user name, or null when it is allowed
 * anonymously), or undefined when the node checks no credentials; rejects with
 * UNAUTHORIZED or FORBIDDEN.
 */
export async function authorizeRequest(request: IncomingMessage, path: string, access: AccessControl | null): Promise<string | null | undefined> {
  if (access === null) return undefined;
  const decision = await access.check(basicCredentials(request.headers.authorization), permissionsFor(path));
  if (!decision.allowed) throw accessRefusal(decision);
  return decision.caller;
}
