/**
 * A programmable HTTP server on 127.0.0.1 that stands in for one quorumlite node:
 * each test decides what it answers. Records every request. `close()` destroys open
 * sockets so tests never leave handles behind.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export type FakeHandler = (request: RecordedRequest, response: ServerResponse, node: FakeNode) => void | Promise<void>;

export interface FakeNode {
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  handler: FakeHandler;
  /** TCP connections open right now. */
  openConnectionCount(): number;
  close(): Promise<void>;
}

export const requestBodyBytesMax = 16 * 1024 * 1024;

export async function startFakeNode(handler: FakeHandler = notFound, port = 0): Promise<FakeNode> {
  const sockets = new Set<Socket>();
  const requests: RecordedRequest[] = [];
  const server: Server = createServer();
  const node: FakeNode = {
    url: '',
    port: 0,
    requests,
    handler,
    openConnectionCount: () => sockets.size,
    close: () => closeServer(server, sockets),
  };
  server.on('connection', (socket) => {
    // A connection accepted while closing (the kernel queued it) would hold close() open.
    if (!server.listening) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (request, response) => {
    void receive(request).then(
      async (body) => {
        const url = new URL(request.url ?? '/', 'http://fake');
        const recorded: RecordedRequest = { method: request.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: request.headers, body };
        requests.push(recorded);
        await node.handler(recorded, response, node);
      },
      () => response.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  Object.assign(node, { url: `http://127.0.0.1:${address.port}`, port: address.port });
  return node;
}

function receive(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let byteCount = 0;
    request.on('data', (chunk: Buffer) => {
      byteCount += chunk.byteLength;
      if (byteCount > requestBodyBytesMax) request.destroy(new Error('body too large'));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const socket of sockets) socket.destroy();
  server.closeAllConnections();
  return closed;
}

export function notFound(_request: RecordedRequest, response: ServerResponse): void {
  sendJson(response, 404, { error: 'not found' });
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPortUrl(): Promise<string> {
  // An address of its own, so a server of another test on 127.0.0.1 cannot take the port meanwhile.
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, closedPortHost, () => resolve());
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no address');
  return `http://${closedPortHost}:${address.port}`;
}

const closedPortHost = '127.213.0.1';
