/**
 * The Node transport: one undici Agent with keep-alive pools, at most
 * `connectionsPerNodeMax` sockets per node. The only client module that imports a
 * Node-only library.
 */
import { Agent } from 'undici';
import { QuorumliteError } from './errors.js';
import type { ClientTlsOptions } from './options.js';
import {
  ChunkCollector,
  connectionFailed,
  errorCodeHeader,
  quorumliteVersionHeader,
  type HttpRequest,
  type HttpResponse,
  type HttpTransport,
} from './transport.js';

export interface UndiciTransportOptions {
  /** Sockets per node (undici `connections`). */
  readonly connectionsPerNodeMax: number;
  /** How long an idle keep-alive socket stays open. */
  readonly keepAliveTimeoutMs: number;
  /** HTTPS: the CA to trust, a client certificate, or no verification at all. */
  readonly tls?: ClientTlsOptions;
}

export const defaultUndiciTransportOptions: UndiciTransportOptions = {
  connectionsPerNodeMax: 16,
  keepAliveTimeoutMs: 10_000,
};

export class UndiciTransport implements HttpTransport {
  readonly #agent: Agent;
  #closed = false;

  constructor(options: UndiciTransportOptions = defaultUndiciTransportOptions) {
    if (!(Number.isInteger(options.connectionsPerNodeMax) && options.connectionsPerNodeMax >= 1)) {
      throw new RangeError('connectionsPerNodeMax must be an integer ≥ 1');
    }
    this.#agent = new Agent({
      connections: options.connectionsPerNodeMax,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // The client enforces its own per-attempt timeout through the signal.
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(options.tls === undefined ? {} : { connect: connectOptionsOf(options.tls) }),
    });
  }

  async send(request: HttpRequest): Promise<HttpResponse> {
    if (this.#closed) throw new QuorumliteError('CLIENT_CLOSED', 'the client was closed');
    const url = new URL(request.url);
    let response: Awaited<ReturnType<Agent['request']>>;
    try {
      response = await this.#agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: request.signal,
      });
    } catch (error) {
      throw this.#mapError(request, error);
    }
    const body = await this.#readBody(request, response.body);
    const headers = response.headers;
    return {
      status: response.statusCode,
      location: firstValue(headers.location),
      contentType: firstValue(headers['content-type']),
      body,
      errorCode: firstValue(headers[errorCodeHeader]),
      quorumliteVersion: firstValue(headers[quorumliteVersionHeader]),
    };
  }

  async #readBody(request: HttpRequest, body: AsyncIterable<Uint8Array> & { destroy(error?: Error): unknown }): Promise<Uint8Array> {
    const chunks = new ChunkCollector(request.responseBytesMax, request.url);
    try {
      for await (const chunk of body) chunks.add(chunk);
    } catch (error) {
      body.destroy();
      throw this.#mapError(request, error);
    }
    return chunks.concatenate();
  }

  #mapError(request: HttpRequest, error: unknown): unknown {
    if (error instanceof QuorumliteError) return error;
    if (request.signal.aborted) return request.signal.reason;
    if (this.#closed) return new QuorumliteError('CLIENT_CLOSED', 'the client was closed', { cause: error });
    return connectionFailed(request.url, error);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // destroy, not close: requests still in flight are abandoned, sockets released now.
    await this.#agent.destroy();
  }
}

export function connectOptionsOf(tls: ClientTlsOptions): { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean } {
  const bytes = (value: string | Uint8Array): Buffer => (typeof value === 'string' ? Buffer.from(value) : Buffer.from(value));
  return {
    ...(tls.ca === undefined ? {} : { ca: bytes(tls.ca) }),
    ...(tls.cert === undefined ? {} : { cert: bytes(tls.cert) }),
    ...(tls.key === undefined ? {} : { key: bytes(tls.key) }),
    rejectUnauthorized: tls.insecure !== true,
  };
}

function firstValue(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}
