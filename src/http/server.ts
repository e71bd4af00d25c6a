/**
 * The rqlite-compatible HTTP server: routing, common headers, limits, and turning
 * errors into rqlite's status codes. `createHttpServer(service, options)` returns a
 * server the runtime can `listen(host, port)` and `close()` gracefully.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  handleLeaderGet,
  handleLeaderPost,
  handleMetrics,
  handleNodes,
  handleReadyz,
  handleRemove,
  handleStatus,
} from './cluster-handlers.js';
import { handleExecute, handleQuery, handleRequest } from './data-handlers.js';
import { Exchange, sendEmpty, sendText } from './exchange.js';
import { HttpError } from './http-error.js';
import { HttpMetrics } from './metrics.js';
import { resolveHttpServerOptions, type HttpServerOptions } from './options.js';
import { parseQueryParameters } from './query-parameters.js';
import { isServiceError, type ClusterService, type ServiceError } from '../service/service.js';

type Handler = (exchange: Exchange, service: ClusterService, metrics: HttpMetrics) => Promise<void>;
type Method = 'GET' | 'POST' | 'DELETE';

const routes: ReadonlyMap<string, Readonly<Partial<Record<Method, Handler>>>> = new Map([
  ['/db/execute', { POST: handleExecute }],
  ['/db/query', { GET: handleQuery, POST: handleQuery }],
  ['/db/request', { POST: handleRequest }],
  ['/status', { GET: handleStatus }],
  ['/nodes', { GET: handleNodes }],
  ['/leader', { GET: handleLeaderGet, POST: handleLeaderPost }],
  ['/remove', { DELETE: handleRemove }],
  ['/readyz', { GET: handleReadyz }],
  ['/metrics', { GET: handleMetrics }],
]);

export interface HttpApiServer {
  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stops accepting, lets requests in flight finish (up to closeTimeoutMs), then closes. */
  close(): Promise<void>;
  /** The underlying node:http server (for the runtime's own wiring, e.g. TLS later). */
  readonly server: Server;
  readonly options: HttpServerOptions;
}

export function createHttpServer(service: ClusterService, partialOptions: Partial<HttpServerOptions> = {}): HttpApiServer {
  const options = resolveHttpServerOptions(partialOptions);
  const metrics = new HttpMetrics();
  const server = createServer({
    maxHeaderSize: options.maxHeaderBytes,
    headersTimeout: options.headersTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    connectionsCheckingInterval: options.connectionsCheckingIntervalMs,
  });
  server.maxConnections = options.maxConnections;
  let inFlight = 0;
  let idle: (() => void) | null = null;
  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    inFlight++;
    response.once('close', () => {
      inFlight--;
      if (inFlight === 0 && idle !== null) idle();
    });
    void dispatch(request, response, service, options, metrics);
  };
  server.on('request', onRequest);
  // `Expect: 100-continue`: the interim answer goes out only when a handler starts
  // reading a body it accepts (see readRequestBody), so an oversized upload is refused
  // with 413 before the client sends it.
  server.on('checkContinue', onRequest);
  return {
    server,
    options,
    listen: (host, port) => listen(server, host, port),
    close: () =>
      closeGracefully(server, options.closeTimeoutMs, () =>
        inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (idle = resolve)),
      ),
  };
}

function listen(server: Server, host: string, port: number): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve({ host: address.address, port: address.port });
    });
  });
}

async function closeGracefully(server: Server, closeTimeoutMs: number, drained: () => Promise<void>): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, closeTimeoutMs)));
  await Promise.race([drained(), timedOut]);
  clearTimeout(timer);
  server.closeAllConnections();
  await closed;
}

async function dispatch(
  request: IncomingMessage,
  response: ServerResponse,
  service: ClusterService,
  options: HttpServerOptions,
  metrics: HttpMetrics,
): Promise<void> {
  metrics.requestStarted();
  const startedAtMs = performance.now();
  let route = 'unknown';
  response.once('close', () =>
    metrics.requestFinished(route, response.statusCode, (performance.now() - startedAtMs) / 1000),
  );
  setCommonHeaders(response, options);
  try {
    const target = request.url ?? '/';
    if (Buffer.byteLength(target) > options.maxUrlBytes) {
      throw new HttpError(414, `request URL too long: the maximum is ${options.maxUrlBytes} bytes`);
    }
    const { path, rawQuery } = splitTarget(target);
    const handlers = routes.get(path);
    if (handlers !== undefined) route = path;
    if (request.method === 'OPTIONS') return answerOptions(response, options);
    if (handlers === undefined) throw new HttpError(404, `not found: ${path}`);
    const handler = handlers[request.method as Method];
    if (handler === undefined) throw methodNotAllowed(handlers);
    const parameters = parseQueryParameters(rawQuery, {
      timeoutMs: options.defaultTimeoutMs,
      linearizableTimeoutMs: options.defaultLinearizableTimeoutMs,
      maxTimeoutMs: options.maxTimeoutMs,
    });
    await handler(new Exchange(request, response, path, rawQuery, parameters, options, metrics), service, metrics);
  } catch (error) {
    answerError(request, response, error, options, metrics);
  }
}

function setCommonHeaders(response: ServerResponse, options: HttpServerOptions): void {
  response.setHeader('X-RQLITE-VERSION', options.rqliteVersion);
  response.setHeader('X-Quorumlite-Version', options.quorumliteVersion);
  if (options.allowOrigin !== null) response.setHeader('Access-Control-Allow-Origin', options.allowOrigin);
}

/** rqlite matches its paths by prefix; we accept the exact path with or without a trailing slash. */
function splitTarget(target: string): { path: string; rawQuery: string } {
  const questionMark = target.indexOf('?');
  const rawPath = questionMark < 0 ? target : target.slice(0, questionMark);
  const rawQuery = questionMark < 0 ? '' : target.slice(questionMark + 1);
  const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  return { path, rawQuery };
}

function answerOptions(response: ServerResponse, options: HttpServerOptions): void {
  response.setHeader('Access-Control-Allow-Origin', options.allowOrigin ?? '*');
  response.setHeader('Access-Control-Allow-Methods', 'OPTIONS, GET, POST, DELETE');
  response.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization, Idempotency-Key');
  sendEmpty(response, 200);
}

function methodNotAllowed(handlers: Readonly<Partial<Record<Method, Handler>>>): HttpError {
  const allowed = ['OPTIONS', ...Object.keys(handlers)].join(', ');
  return new HttpError(405, `method not allowed: use ${allowed}`, { Allow: allowed });
}

function answerError(
  request: IncomingMessage,
  response: ServerResponse,
  error: unknown,
  options: HttpServerOptions,
  metrics: HttpMetrics,
): void {
  const httpError = toHttpError(request, error);
  if (httpError.status === 413) metrics.bodyTooLarge();
  if (httpError.status === 500) options.logger?.error({ err: error, url: request.url }, 'HTTP request failed');
  if (response.headersSent) {
    response.destroy();
    return;
  }
  for (const [name, value] of Object.entries(httpError.headers)) response.setHeader(name, value);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  sendText(response, httpError.status, `${httpError.message}\n`);
}

function toHttpError(request: IncomingMessage, error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (isServiceError(error)) return serviceErrorToHttp(request, error);
  return new HttpError(500, 'internal error');
}

/** rqlite's status codes for each service failure. */
export function serviceErrorToHttp(request: IncomingMessage, error: ServiceError): HttpError {
  switch (error.code) {
    case 'NOT_LEADER':
      if (error.leaderApiAddress === null) return new HttpError(503, 'leader not found');
      return new HttpError(301, `moved permanently to the leader at ${error.leaderApiAddress}`, {
        Location: `${error.leaderApiAddress.replace(/\/+$/, '')}${request.url ?? '/'}`,
      });
    case 'NO_LEADER':
      return new HttpError(503, 'leader not found');
    case 'STALE_READ':
      return new HttpError(200, error.message);
    case 'TIMEOUT':
      return new HttpError(503, error.message);
    case 'BAD_REQUEST':
      return new HttpError(400, error.message);
    case 'UNAUTHORIZED':
      return new HttpError(401, error.message, { 'WWW-Authenticate': 'Basic realm="quorumlite"' });
    case 'UNAVAILABLE':
    case 'HALTED':
      return new HttpError(503, error.message);
    case 'NOT_FOUND':
      return new HttpError(404, error.message);
    case 'INTERNAL':
      return new HttpError(500, error.message);
  }
}
