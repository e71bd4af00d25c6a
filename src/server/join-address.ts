/**
 * An `http://` or `https://` --join address names a member's HTTP API (as rqlited 7's
 * -join did). The join itself travels over the peer transport, so the member's Raft
 * address is read from its `GET /status`: `store.addr`, the key rqlite's /status uses
 * for the same thing. No join endpoint is added to the HTTP API (see src/node/joiner.ts).
 */
import type { HttpAddressResolver } from '../node/joiner.js';
import type { Credentials } from '../service/access-control.js';
import { ServiceError } from '../service/service.js';

/**
 * What an https:// join trusts and presents (rqlited: the -http-ca-cert CA, and this
 * node's own -http-cert and -http-key as a client certificate, for a member that asks
 * for one); read at each attempt, so a rotated file is used from the next one.
 */
export interface JoinTlsMaterial {
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
}

/** How long one /status request may take (a join attempt that exceeds it is retried). */
const statusRequestTimeoutMs = 5_000;
/** A /status answer longer than this is not a member's. */
const statusTextLengthMax = 4 * 1024 * 1024;
const raftAddressLengthMax = 256;

/**
 * `credentials`: the -join-as user and the password the -auth file gives it (read at each
 * request, so a reloaded file counts), sent as HTTP Basic; null: anonymous. On a member
 * that checks credentials, /status needs the `status` permission (or `*` to have it).
 */
export function createHttpAddressResolver(options: {
  readonly credentials: () => Credentials | null;
  readonly tls?: () => JoinTlsMaterial;
}): HttpAddressResolver {
  return async (url, signal) => {
    const timeout = AbortSignal.timeout(statusRequestTimeoutMs);
    const credentials = options.credentials();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (credentials !== null) headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    const init = { headers, redirect: 'error' as const, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) };
    const material = url.startsWith('https://') ? options.tls?.() : undefined;
    let text: string;
    try {
      text = await fetchStatusText(url, init, material);
    } catch (error) {
      throw new ServiceError('UNAVAILABLE', `${url}: ${describe(error)}`, { cause: error });
    }
    return readRaftAddress(url, text);
  };
}

/** GET /status; with TLS material through an undici Agent that presents it. */
async function fetchStatusText(url: string, init: RequestInit, material: JoinTlsMaterial | undefined): Promise<string> {
  if (material === undefined) return statusText(await fetch(`${url}/status`, init));
  // undici (about 20 MiB once loaded) is needed only for an https:// join with our own TLS material.
  const undici = await import('undici');
  const agent = new undici.Agent({ connect: connectOptionsOf(material) });
  try {
    return statusText(await undici.fetch(`${url}/status`, { ...(init as object), dispatcher: agent }));
  } finally {
    await agent.close();
  }
}

async function statusText(response: { readonly status: number; text(): Promise<string> }): Promise<string> {
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /status answered ${response.status}`);
  return text;
}

function connectOptionsOf(material: JoinTlsMaterial): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  return {
    ...(material.ca === undefined ? {} : { ca: material.ca }),
    ...(material.cert === undefined || material.key === undefined ? {} : { cert: material.cert, key: material.key }),
  };
}

/** fetch's own message is only "fetch failed": the reason (ECONNREFUSED, …) is its cause's. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}

function readRaftAddress(url: string, text: string): string {
  let parsed: unknown;
  try {
    parsed = text.length > statusTextLengthMax ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const store = typeof parsed === 'object' && parsed !== null ? (parsed as { store?: unknown }).store : undefined;
  const address = typeof store === 'object' && store !== null ? (store as { addr?: unknown }).addr : undefined;
  if (typeof address !== 'string' || address.length === 0 || address.length > raftAddressLengthMax) {
    throw new ServiceError('UNAVAILABLE', `${url}: GET /status has no store.addr (is it a quorumlite or rqlite node's HTTP address?)`);
  }
  return address;
}
