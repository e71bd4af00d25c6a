/**
 * Interactive transactions over HTTP (ours; docs/API.md, "Interactive transactions"):
 * `POST /db/begin` answers `{"tx_id": "…"}`; `POST /db/commit?tx=ID` answers
 * `{"raft_index": N}`; `POST /db/rollback?tx=ID` answers `{}`. The statements in between
 * go to `/db/query`, `/db/execute` or `/db/request` with `?tx=ID` (data-handlers.ts).
 */
import type { Exchange } from './exchange.js';
import { badRequest, HttpError } from './http-error.js';
import type { ClusterService, InteractiveTransactionService, TransactionEndRequest } from '../service/service.js';

/** Bytes of a transaction id in `?tx=` (ours are 32 hex digits). */
const transactionIdBytesMax = 64;

export function transactionServiceOf(service: ClusterService): InteractiveTransactionService {
  const { beginTransaction, transactionStatements, endTransaction } = service;
  if (beginTransaction === undefined || transactionStatements === undefined || endTransaction === undefined) {
    throw new HttpError(404, 'NOT_FOUND', 'interactive transactions are not served by this node');
  }
  return {
    beginTransaction: beginTransaction.bind(service),
    transactionStatements: transactionStatements.bind(service),
    endTransaction: endTransaction.bind(service),
  };
}

/** The `?tx=` value, checked; undefined when absent. */
export function transactionIdOf(exchange: Exchange): string | undefined {
  const id = exchange.parameters.get('tx');
  if (id === undefined) return undefined;
  if (id.length === 0 || id.length > transactionIdBytesMax || !/^[\x21-\x7e]+$/.test(id)) {
    throw badRequest(`tx must be a transaction id of 1-${transactionIdBytesMax} printable characters`);
  }
  return id;
}

export async function handleBegin(exchange: Exchange, service: ClusterService): Promise<void> {
  const transactions = transactionServiceOf(service);
  const request = {
    timeoutMs: exchange.parameters.timeoutMs,
    forward: !exchange.flag('redirect'),
    clientAddress: exchange.request.socket.remoteAddress ?? 'unknown',
    database: exchange.parameters.get('db'),
  };
  const answer = await exchange.callService(request.timeoutMs, (context) => transactions.beginTransaction(request, context));
  if (answer.servedBy !== '') exchange.setHeader('X-RQLITE-SERVED-BY', answer.servedBy);
  await exchange.sendJson(200, { tx_id: answer.transactionId });
}

export async function handleCommit(exchange: Exchange, service: ClusterService): Promise<void> {
  await handleEnd(exchange, service, 'commit');
}

export async function handleRollback(exchange: Exchange, service: ClusterService): Promise<void> {
  await handleEnd(exchange, service, 'rollback');
}

async function handleEnd(exchange: Exchange, service: ClusterService, action: TransactionEndRequest['action']): Promise<void> {
  const transactions = transactionServiceOf(service);
  const transactionId = transactionIdOf(exchange);
  if (transactionId === undefined) throw badRequest('tx parameter not set');
  const request: TransactionEndRequest = {
    transactionId,
    action,
    idempotencyKey: idempotencyKeyOf(exchange),
    timeoutMs: exchange.parameters.timeoutMs,
    forward: !exchange.flag('redirect'),
    database: exchange.parameters.get('db'),
  };
  const answer = await exchange.callService(request.timeoutMs, (context) => transactions.endTransaction(request, context));
  if (answer.servedBy !== '') exchange.setHeader('X-RQLITE-SERVED-BY', answer.servedBy);
  await exchange.sendJson(200, answer.raftIndex === null ? {} : { raft_index: answer.raftIndex });
}

/** The `Idempotency-Key` header, checked as for writes. */
export function idempotencyKeyOf(exchange: Exchange): string | null {
  const header = exchange.request.headers['idempotency-key'];
  if (header === undefined) return null;
  const key = Array.isArray(header) ? header.join(',') : header;
  const keyBytesMax = exchange.options.idempotencyKeyBytesMax;
  if (key.length === 0) throw badRequest('Idempotency-Key must not be empty');
  if (Buffer.byteLength(key) > keyBytesMax) throw badRequest(`Idempotency-Key longer than ${keyBytesMax} bytes`);
  if (!/^[\x21-\x7e]+$/.test(key)) throw badRequest('Idempotency-Key must be printable ASCII without spaces');
  return key;
}
