/**
 * Node-to-node calls over the transport. Handlers never throw across the wire: they
 * answer an envelope, `{ ok: true, value }` or `{ ok: false, error }`, so a ServiceError
 * (with its code and the leader's address) arrives intact on the caller's side.
 */
import { ServiceError, type PlainServiceError } from '../service/service.js';
import { TransportError } from '../transport/errors.js';
import type { NodeTransport } from './ports.js';

/** What node-to-node calls need of the transport: calling a peer, answering one. */
export type PeerTransport = Pick<NodeTransport, 'call' | 'handle'>;

type Envelope = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: PlainServiceError };

export const peerMethods = {
  execute: 'quorumlite.execute',
  /** A follower's batch of queued writes (`?queue`), for the leader to propose. */
  queuedBatch: 'quorumlite.queued-batch',
  query: 'quorumlite.query',
  request: 'quorumlite.request',
  join: 'quorumlite.join',
  notify: 'quorumlite.notify',
  members: 'quorumlite.members',
  remove: 'quorumlite.remove',
  stepDown: 'quorumlite.step-down',
  ping: 'quorumlite.ping',
  removed: 'quorumlite.removed',
  /** A follower's create or drop of a database (database-catalog-service.ts). */
  database: 'quorumlite.database',
} as const;

function toPlainError(error: unknown): PlainServiceError {
  if (error instanceof ServiceError) return error.toPlain();
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'INTERNAL', message, leaderApiAddress: null };
}

/** Registers a handler that answers envelopes; `caller` is the id the calling node's handshake gave. */
export function handleEnvelope(
  transport: PeerTransport,
  method: string,
  handler: (payload: unknown, signal: AbortSignal, caller: { readonly fromId: string }) => Promise<unknown>,
): void {
  transport.handle(method, async (payload, context): Promise<Envelope> => {
    try {
      return { ok: true, value: await handler(payload, context.signal, { fromId: context.fromId }) };
    } catch (error) {
      return { ok: false, error: toPlainError(error) };
    }
  });
}

function isEnvelope(value: unknown): value is Envelope {
  return typeof value === 'object' && value !== null && 'ok' in value && typeof (value as { ok: unknown }).ok === 'boolean';
}

/** Translates a transport failure into the ServiceError a client should see. */
function transportFailure(error: unknown, what: string): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof TransportError) {
    if (error.code === 'TIMEOUT') return new ServiceError('TIMEOUT', `${what}: no answer in time`, { cause: error });
    if (error.code === 'ABORTED') return new ServiceError('TIMEOUT', `${what}: aborted`, { cause: error });
    return new ServiceError('UNAVAILABLE', `${what}: ${error.message}`, { cause: error });
  }
  return new ServiceError('INTERNAL', `${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** The call never reached the peer, or its connection was lost before a reply: another attempt may get through. */
export function isUnreachableFailure(error: unknown): boolean {
  return error instanceof ServiceError && error.cause instanceof TransportError && error.cause.code === 'UNREACHABLE';
}

/** Calls a peer and unwraps its envelope; rejects with a ServiceError. */
export async function callPeer(
  transport: PeerTransport,
  target: { id?: string; address?: string },
  method: string,
  payload: unknown,
  options: { timeoutMs: number; signal?: AbortSignal | undefined },
): Promise<unknown> {
  let reply: unknown;
  try {
    reply = await transport.call(target, method, payload, {
      timeoutMs: options.timeoutMs,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    throw transportFailure(error, `call ${method} to ${target.id ?? target.address ?? '?'}`);
  }
  if (!isEnvelope(reply)) throw new ServiceError('INTERNAL', `malformed reply to ${method}`);
  if (!reply.ok) throw ServiceError.fromPlain(reply.error);
  return reply.value;
}
