/** `/db/execute`, `/db/query` and `/db/request`. */
import type { Statement } from '../state-machine/types.js';
import type { Exchange } from './exchange.js';
import { badRequest, errorCodeHeader, HttpError } from './http-error.js';
import { shapeDataResponse, shapeRequestError, type ShapeOptions } from './results.js';
import {
  isServiceError,
  type CallContext,
  type ClusterService,
  type DataRequestBase,
  type DataResponse,
  type ReadOptions,
  type WriteOptions,
} from '../service/service.js';
import { parseStatementsBody, plainStatement } from './statements.js';
import { idempotencyKeyOf, transactionIdOf, transactionServiceOf } from './transaction-handlers.js';

type DataEndpoint = 'execute' | 'query' | 'request';

// The requests below are built with Object.assign into the fresh base, never `{ ...base, ...options }`: on
// Node 20 (V8 11.3) a literal that spreads an object and then adds properties leaves every request's objects
// to survive young collections until a full one, which cost a point read about a sixth of its CPU (bench/README.md,
// issue 16; test/cluster/request-garbage.test.ts). Node 22 and later do not.

export async function handleExecute(exchange: Exchange, service: ClusterService): Promise<void> {
  if (transactionIdOf(exchange) !== undefined) return handleInTransaction(exchange, service, 'execute');
  // As rqlite: `?queue&wait` may carry no statements, a marker that answers once everything queued before it is written.
  const base = await dataRequestBase(exchange, exchange.flag('queue') && exchange.flag('wait'));
  const request = Object.assign(base, writeOptions(exchange));
  await answerData(exchange, 'execute', (context) => service.execute(request, context));
}

export async function handleQuery(exchange: Exchange, service: ClusterService): Promise<void> {
  if (transactionIdOf(exchange) !== undefined) return handleInTransaction(exchange, service, 'query');
  const base = await dataRequestBase(exchange);
  const request = Object.assign(base, readOptions(exchange));
  await answerData(exchange, 'query', (context) => service.query(request, context));
}

export async function handleRequest(exchange: Exchange, service: ClusterService): Promise<void> {
  if (transactionIdOf(exchange) !== undefined) return handleInTransaction(exchange, service, 'request');
  const base = await dataRequestBase(exchange);
  const request = Object.assign(base, readOptions(exchange), writeOptions(exchange));
  await answerData(exchange, 'request', (context) => service.request(request, context));
}

/** `?tx=`: the statements run inside an interactive transaction (transaction-handlers.ts), whichever of the three paths. */
async function handleInTransaction(exchange: Exchange, service: ClusterService, endpoint: DataEndpoint): Promise<void> {
  const transactions = transactionServiceOf(service);
  const base = await dataRequestBase(exchange);
  const request = {
    transactionId: transactionIdOf(exchange) as string,
    statements: base.statements,
    timings: base.timings,
    timeoutMs: base.timeoutMs,
    forward: base.forward,
    idempotencyKey: idempotencyKeyOf(exchange),
  };
  await answerData(exchange, endpoint, (context) => transactions.transactionStatements(request, context));
}

async function dataRequestBase(exchange: Exchange, noStatementsAllowed = false): Promise<DataRequestBase> {
  const statements = await readStatements(exchange, noStatementsAllowed);
  return {
    statements,
    transaction: exchange.flag('transaction'),
    timings: exchange.flag('timings'),
    timeoutMs: exchange.parameters.timeoutMs,
    dbTimeoutMs: exchange.parameters.dbTimeoutMs,
    forward: !exchange.flag('redirect'),
    database: exchange.parameters.get('db'),
  };
}

async function readStatements(exchange: Exchange, noStatementsAllowed: boolean): Promise<Statement[]> {
  if (exchange.request.method === 'GET') {
    const sql = exchange.parameters.get('q');
    if (sql === undefined || sql.trim().length === 0) throw badRequest('query parameter not set');
    return [plainStatement(sql)];
  }
  const body = await exchange.readBodyText(exchange.options.bodyBytesMax);
  if (noStatementsAllowed && /^\s*(\[\s*\])?\s*$/.test(body)) return [];
  return parseStatementsBody(body, exchange.request.headers['content-type'], exchange.options);
}

function readOptions(exchange: Exchange): ReadOptions {
  const parameters = exchange.parameters;
  return {
    level: parameters.level,
    freshnessMs: parameters.freshnessMs,
    freshnessStrict: parameters.freshnessStrict,
    appliedIndexMin: parameters.appliedIndexMin,
    linearizableTimeoutMs: parameters.linearizableTimeoutMs,
    // rqlite names the flag `qualify`; `qualify_columns` (its request field) works too.
    qualifyColumns: exchange.flag('qualify') || exchange.flag('qualify_columns'),
  };
}

function writeOptions(exchange: Exchange): WriteOptions {
  return {
    queue: exchange.flag('queue'),
    wait: exchange.flag('queue') && exchange.flag('wait'),
    idempotencyKey: idempotencyKeyOf(exchange),
    forwardRetryCountMax: exchange.parameters.forwardRetryCount,
  };
}

/** A linearizable read may wait `linearizable_timeout` for its ReadIndex round, even past `timeout`. */
function serviceDeadlineMs(exchange: Exchange, endpoint: DataEndpoint): number {
  const parameters = exchange.parameters;
  const linearizable = parameters.level === 'linearizable' || parameters.level === 'strong';
  if (endpoint === 'execute' || !linearizable) return parameters.timeoutMs;
  return Math.max(parameters.timeoutMs, parameters.linearizableTimeoutMs);
}

async function answerData(exchange: Exchange, endpoint: DataEndpoint, call: (context: CallContext) => Promise<DataResponse>): Promise<void> {
  const shape: ShapeOptions = {
    associative: exchange.flag('associative'),
    timings: exchange.flag('timings'),
    mixed: endpoint !== 'query',
    raftIndex: exchange.flag('raft_index'),
  };
  let response: DataResponse;
  try {
    response = await exchange.callService(serviceDeadlineMs(exchange, endpoint), call);
  } catch (error) {
    // rqlite answers a stale read, and a statement it refuses (a disallowed pragma), with
    // HTTP 200, no results and the reason in the body's `error`.
    if (isServiceError(error) && (error.code === 'STALE_READ' || error.code === 'REFUSED_SQL')) {
      exchange.setHeader(errorCodeHeader, error.code);
      await exchange.sendJson(200, shapeRequestError(error.message, shape.timings, exchange.elapsedSeconds()));
      return;
    }
    // rqlite answers 408 when a queued write is not flushed within the timeout. Only
    // /db/execute queues: elsewhere `queue` is ignored, and a timeout is a 503 like any other.
    if (isServiceError(error) && error.code === 'TIMEOUT' && endpoint === 'execute' && exchange.flag('queue')) {
      throw new HttpError(408, 'TIMEOUT', `queue wait timeout: ${error.message}`);
    }
    throw error;
  }
  if (response.servedBy !== '') exchange.setHeader('X-RQLITE-SERVED-BY', response.servedBy);
  // rqlite answers a queued write with its sequence number only, even after ?wait saw it applied.
  const answered = endpoint === 'execute' && exchange.flag('queue') ? { ...response, results: [] } : response;
  await exchange.sendJson(200, shapeDataResponse(answered, shape, exchange.elapsedSeconds()));
}
