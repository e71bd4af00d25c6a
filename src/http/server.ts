/**
 * The rqlite-compatible HTTP server: routing, common headers and limits; failures
 * become replies in error-replies.ts. `createHttpServer(service, options)` returns a
 * server the runtime can `listen(host, port)` and `close()` gracefully.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleLeaderGet, handleLeaderPost, handleMetrics, handleNodes, handleReadyz, handleRemove, handleStatus } from './cluster-handlers.js';
import { handleExecute, handleQuery, handleRequest } from './data-handlers.js';
import { handleBegin, handleCommit, handleRollback } from './transaction-handlers.js';
import { handleDebugVars } from './debug-vars.js';
import { consolePaths, handleConsole } from './console-handler.js';
import { handleCreateDatabase, handleDropDatabase, handleListDatabases } from './database-handlers.js';
import { authorizeRequest } from './auth-check.js';
import { handleCopy, handleStream } from './replica-handlers.js';
import { handleBackup, handleBoot, handleLoad, handleReap, handleSnapshot } from './transfer-handlers.js';
import { answerClientError, answerError } from './error-replies.js';
import { Exchange, sendEmpty } from './exchange.js';
import { errorCodeHeader, HttpError } from './http-error.js';
import { createHttpsServer, updateHttpsCertificates } from './https-server.js';
import { HttpMetrics } from './metrics.js';
import { resolveHttpServerOptions, type HttpServerOptions } from './options.js';
import { parseQueryParameters } from './query-parameters.js';
import type { ClusterService } from '../service/service.js';

type Handler = (exchange: Exchange, service: ClusterService, metrics: HttpMetrics, server: Server) => Promise<void>;
type Method = 'GET' | 'POST' | 'DELETE';

const routes: ReadonlyMap<string, Readonly<Partial<Record<Method, Handler>>>> = new Map([
  ['/db/execute', { POST: handleExecute }],
  ['/db/query', { GET: handleQuery, POST: handleQuery }],
  ['/db/request', { POST: handleRequest }],
  ['/db/begin', { POST: handleBegin }],
  ['/db/commit', { POST: handleCommit }],
  ['/db/rollback', { POST: handleRollback }],
  ['/status', { GET: handleStatus }],
  ['/nodes', { GET: handleNodes }],
  ['/leader', { GET: handleLeaderGet, POST: handleLeaderPost }],
  ['/remove', { DELETE: handleRemove }],
  ['/readyz', { GET: handleReadyz }],
  ['/metrics', { GET: handleMetrics }],
  ['/debug/vars', { GET: handleDebugVars }],
  ['/db/backup', { GET: handleBackup }],
  ['/db/load', { POST: handleLoad }],
  ['/boot', { POST: handleBoot }],
  ['/snapshot', { POST: handleSnapshot }],
  ['/reap', { POST: handleReap }],
  ['/db/stream', { GET: handleStream }],
  ['/db/copy', { GET: handleCopy }],
  ...consolePaths.map((path): [string, Partial<Record<Method, Handler>>] => [path, { GET: handleConsole }]),
  ['/db/create', { POST: handleCreateDatabase }],
  ['/db/drop', { POST: handleDropDatabase }],
  ['/db/list', { GET: handleListDatabases }],
]);

export interface HttpApiServer {
  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stops accepting, lets requests in flight finish (up to closeTimeoutMs), then closes. */
  close(): Promise<void>;
  /** The underlying node:http (or node:https) server, for the runtime's own wiring. */
  readonly server: Server;
  readonly options: HttpServerOptions;
  /** With HTTPS: a new certificate, key and CA for connections accepted from now on. */
  updateTls(material: { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer | undefined }): void;
}

export function createHttpServer(service: ClusterService, partialOptions: Partial<HttpServerOptions> = {}): HttpApiServer {
  const options = resolveHttpServerOptions(partialOptions);
  const metrics = new HttpMetrics();
  const serverOptions = {
    // Node refuses a head once the bytes it counts reach maxHeaderSize: +1 makes headerBytesMax the largest accepted.
    maxHeaderSize: options.headerBytesMax + 1,
    headersTimeout: options.headersTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    connectionsCheckingInterval: options.connectionsCheckingIntervalMs,
  };
  // A TLS handshake counts against the same bound as the request head.
  const server = options.https === null ? createServer(serverOptions) : createHttpsServer(serverOptions, options.https, options.headersTimeoutMs);
  server.maxConnections = options.connectionCountMax;
  let inFlight = 0;
  let idle: (() => void) | null = null;
  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    inFlight++;
    void dispatch(request, response, service, options, metrics, server, () => {
      inFlight--;
      if (inFlight === 0 && idle !== null) idle();
    });
  };
  server.on('request', onRequest);
  // `Expect: 100-continue`: the interim answer goes out only when a handler starts
  // reading a body it accepts (see readRequestBody), so an oversized upload is refused
  // with 413 before the client sends it.
  server.on('checkContinue', onRequest);
  server.on('clientError', answerClientError);
  return {
    server,
    options,
    listen: (host, port) => listen(server, host, port),
    updateTls: (material) => updateHttpsCertificates(server, material),
    close: () => closeGracefully(server, options.closeTimeoutMs, () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (idle = resolve)))),
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
  server: Server,
  closed: () => void,
): Promise<void> {
  metrics.requestStarted();
  const startedAtMs = performance.now();
  let route = 'unknown';
  // 'close' comes once per response: when it is finished, or its socket died first.
  response.on('close', () => {
    metrics.requestFinished(route, response.statusCode, (performance.now() - startedAtMs) / 1000);
    closed();
  });
  setCommonHeaders(response, options);
  try {
    const target = request.url ?? '/';
    if (Buffer.byteLength(target) > options.urlBytesMax) {
      throw new HttpError(414, 'URL_TOO_LONG', `request URL too long: the maximum is ${options.urlBytesMax} bytes`);
    }
    const { path, rawQuery } = splitTarget(target);
    const handlers = routes.get(path);
    if (handlers !== undefined) route = path;
    if (request.method === 'OPTIONS') return answerOptions(response, options);
    if (handlers === undefined) throw new HttpError(404, 'NOT_FOUND', `not found: ${path}`);
    const caller = await authorizeRequest(request, path, options.accessControl);
    const handler = handlers[request.method as Method];
    if (handler === undefined) throw methodNotAllowed(handlers);
    const parameters = parseQueryParameters(rawQuery, {
      timeoutMs: options.defaultTimeoutMs,
      linearizableTimeoutMs: options.defaultLinearizableTimeoutMs,
      timeoutMsMax: options.timeoutMsMax,
    });
    await handler(new Exchange(request, response, path, rawQuery, parameters, options, metrics, caller), service, metrics, server);
  } catch (error) {
    answerError(request, response, error, options, metrics);
  }
}

function setCommonHeaders(response: ServerResponse, options: HttpServerOptions): void {
  response.setHeader('X-RQLITE-VERSION', options.rqliteVersion);
  response.setHeader('X-Quorumlite-Version', options.quorumliteVersion);
  if (options.accessControl !== null) response.setHeader('Access-Control-Allow-Credentials', 'true');
  if (options.allowOrigin === null) return;
  response.setHeader('Access-Control-Allow-Origin', options.allowOrigin);
  // A browser hides response headers from scripts unless they are exposed.
  response.setHeader('Access-Control-Expose-Headers', errorCodeHeader);
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
  return new HttpError(405, 'METHOD_NOT_ALLOWED', `method not allowed: use ${allowed}`, { Allow: allowed });
}
