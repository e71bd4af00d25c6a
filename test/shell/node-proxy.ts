/**
 * A proxy in front of a real node, for shell tests: it records every request (method,
 * path, headers, body), forwards it to the node unchanged (no redirect followed) unless
 * a rule answers it, and can serve HTTPS (a test certificate) and ask for a client
 * certificate. Rules stand in for endpoints the node lacks (or fail on purpose), so
 * each shell command is tested both on the real endpoint and on rqlite's documented one.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface RecordedRequest {
  readonly method: string;
  /** Path and query, as received (prefix included). */
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  /** Over HTTPS: whether the client presented a certificate the proxy trusts. */
  readonly clientAuthorized: boolean | undefined;
}

export interface ProxyReply {
  readonly status: number;
  readonly body?: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  /** Wait this long before answering (timeouts). */
  readonly delayMs?: number;
}

/** Answers a request itself, or returns undefined to forward it. */
export type ProxyRule = (request: RecordedRequest) => ProxyReply | undefined;

export interface ProxyOptions {
  /** The node's base URL; without one, unanswered requests get 502. */
  readonly target?: string;
  /** Served under this prefix (`/rqlite`): stripped before forwarding; other paths get 404. */
  readonly prefix?: string;
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer; readonly clientCa?: Buffer };
}

export interface NodeProxy {
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly rules: ProxyRule[];
  close(): Promise<void>;
}

/** Bodies the proxy holds for one request, at most. */
const requestBytesMax = 64 * 1024 * 1024;

export async function startNodeProxy(options: ProxyOptions): Promise<NodeProxy> {
  const requests: RecordedRequest[] = [];
  const rules: ProxyRule[] = [];
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    void answer(request, response, options, requests, rules).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(502);
      response.end(String(error));
    });
  };
  const server: Server = options.tls
    ? createHttpsServer(
        {
          key: options.tls.key,
          cert: options.tls.cert,
          requestCert: options.tls.clientCa !== undefined,
          rejectUnauthorized: false,
          ...(options.tls.clientCa ? { ca: options.tls.clientCa } : {}),
        },
        handle,
      )
    : createHttpServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    rules,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let byteCount = 0;
  for await (const chunk of request) {
    byteCount += (chunk as Buffer).byteLength;
    if (byteCount > requestBytesMax) throw new Error('request body too large for the test proxy');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  options: ProxyOptions,
  requests: RecordedRequest[],
  rules: ProxyRule[],
): Promise<void> {
  const socket = request.socket as Partial<TLSSocket>;
  const recorded: RecordedRequest = {
    method: request.method ?? 'GET',
    path: request.url ?? '/',
    headers: request.headers,
    body: await readBody(request),
    clientAuthorized: options.tls === undefined ? undefined : socket.authorized === true,
  };
  requests.push(recorded);
  for (const rule of rules) {
    const reply = rule(recorded);
    if (reply === undefined) continue;
    if (reply.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    response.writeHead(reply.status, reply.headers ?? {});
    response.end(reply.body ?? '');
    return;
  }
  let path = recorded.path;
  if (options.prefix !== undefined) {
    if (!path.startsWith(`${options.prefix}/`)) {
      response.writeHead(404).end(`not found: ${path}\n`);
      return;
    }
    path = path.slice(options.prefix.length);
  }
  if (options.target === undefined) {
    response.writeHead(502).end('no target');
    return;
  }
  await forward(`${options.target}${path}`, recorded, response);
}

async function forward(url: string, recorded: RecordedRequest, response: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(recorded.headers)) {
    if (typeof value === 'string' && name !== 'host' && name !== 'connection' && name !== 'content-length') headers[name] = value;
  }
  const reply = await fetch(url, {
    method: recorded.method,
    headers,
    body: recorded.method === 'GET' || recorded.body.byteLength === 0 ? undefined : recorded.body,
    redirect: 'manual',
  });
  const replyHeaders: Record<string, string> = {};
  reply.headers.forEach((value, name) => {
    if (name !== 'content-length' && name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding') replyHeaders[name] = value;
  });
  response.writeHead(reply.status, replyHeaders);
  response.end(Buffer.from(await reply.arrayBuffer()));
}

/** A rule answering `method path` (path without query; a trailing `*` matches any rest). */
export function on(method: string, path: string, reply: ProxyReply | ((request: RecordedRequest) => ProxyReply)): ProxyRule {
  return (request) => {
    const requestPath = request.path.split('?')[0] as string;
    const matches = path.endsWith('*') ? requestPath.startsWith(path.slice(0, -1)) : requestPath === path;
    if (request.method !== method || !matches) return undefined;
    return typeof reply === 'function' ? reply(request) : reply;
  };
}
