/**
 * Keep-alive HTTP for every system under test (quorumlite, etcd's JSON gateway,
 * dqlite-demo): one undici Pool per origin with enough connections for the 64 clients.
 */
import { Pool } from 'undici';

export const connectionCountMax = 80;
export const requestTimeoutMsDefault = 10_000;
/** Bound on a response body read by the benchmark. */
export const responseBytesMax = 1024 * 1024;

export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
  /** Response headers, names in lower case. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly body?: string;
  readonly contentType?: string;
  readonly timeoutMs?: number;
}

export class HttpOrigin {
  readonly origin: string;
  #pool: Pool;

  constructor(origin: string) {
    this.origin = origin;
    this.#pool = new Pool(origin, { connections: connectionCountMax, pipelining: 1, keepAliveTimeout: 30_000 });
  }

  async request(request: HttpRequest): Promise<HttpAnswer> {
    const response = await this.#pool.request({
      method: request.method,
      path: request.path,
      ...(request.body === undefined ? {} : { body: request.body }),
      headers: request.contentType === undefined ? {} : { 'content-type': request.contentType },
      signal: AbortSignal.timeout(request.timeoutMs ?? requestTimeoutMsDefault),
    });
    const text = await readBounded(response.body, `response from ${this.origin}${request.path}`);
    return { status: response.statusCode, text, headers: response.headers };
  }

  postJson(path: string, value: unknown, timeoutMs?: number): Promise<HttpAnswer> {
    return this.request({
      method: 'POST',
      path,
      body: JSON.stringify(value),
      contentType: 'application/json',
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
  }

  async close(): Promise<void> {
    await this.#pool.destroy().catch(() => undefined);
  }
}

/** The body as UTF-8 text; stops reading (and throws) at the first byte over responseBytesMax. */
async function readBounded(body: AsyncIterable<Uint8Array>, what: string): Promise<string> {
  const chunks: Uint8Array[] = [];
  let byteCount = 0;
  for await (const chunk of body) {
    byteCount += chunk.byteLength;
    if (byteCount > responseBytesMax) throw new Error(`${what} exceeds ${responseBytesMax} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, byteCount).toString('utf8');
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
