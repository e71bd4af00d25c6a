/**
 * The HTTP seam of the client. The client only needs "send one request, get status,
 * Location, the error code headers and the whole body, bounded"; everything Node-specific (undici pools)
 * lives in undici-transport.ts behind this interface, so a browser build can use
 * the fetch-based transport here.
 */
import { QuorumliteError } from './errors.js';

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Absolute URL. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | undefined;
  /** Aborts the request (timeout, caller abort, client close). */
  readonly signal: AbortSignal;
  /** A reply body longer than this fails with BODY_TOO_LARGE. */
  readonly responseBytesMax: number;
}

export interface HttpResponse {
  readonly status: number;
  /** The Location header, for redirects. */
  readonly location: string | undefined;
  readonly contentType: string | undefined;
  readonly body: Uint8Array;
  /** `X-Quorumlite-Error`: a quorumlite server's code for an error reply; absent on successes and from rqlite. */
  readonly errorCode?: string | undefined;
  /** `X-Quorumlite-Version`: sent by a quorumlite server on every reply, never by rqlite. */
  readonly quorumliteVersion?: string | undefined;
}

/** The reply headers the client reads, by their lower-case names. */
export const errorCodeHeader = 'x-quorumlite-error';
export const quorumliteVersionHeader = 'x-quorumlite-version';

export interface HttpTransport {
  /**
   * Resolves with any HTTP status; rejects with QuorumliteError('CONNECTION_FAILED')
   * when no complete reply arrived, or with the signal's reason when aborted.
   */
  send(request: HttpRequest): Promise<HttpResponse>;
  /** Releases connections. Requests in flight fail. */
  close(): Promise<void>;
}

/** What the fetch transport needs of `fetch` (the global one, or an injected one). */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** A transport on `fetch`, with no Node-only API. Redirects are left to the client. */
export class FetchTransport implements HttpTransport {
  readonly #fetchFunction: FetchFunction;
  readonly #controllers = new Set<AbortController>();

  constructor(fetchFunction: FetchFunction = (input, init) => fetch(input, init)) {
    this.#fetchFunction = fetchFunction;
  }

  async send(request: HttpRequest): Promise<HttpResponse> {
    const controller = new AbortController();
    const forward = (): void => controller.abort(request.signal.reason);
    if (request.signal.aborted) forward();
    request.signal.addEventListener('abort', forward, { once: true });
    this.#controllers.add(controller);
    try {
      return await this.#sendOnce(request, controller.signal);
    } finally {
      request.signal.removeEventListener('abort', forward);
      this.#controllers.delete(controller);
    }
  }

  async #sendOnce(request: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    let response: Response;
    try {
      response = await this.#fetchFunction(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body as RequestInit['body'],
        signal,
        redirect: 'manual',
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw connectionFailed(request.url, error);
    }
    const body = await readBounded(response, request, signal);
    return {
      status: response.status,
      location: response.headers.get('location') ?? undefined,
      contentType: response.headers.get('content-type') ?? undefined,
      body,
      errorCode: response.headers.get(errorCodeHeader) ?? undefined,
      quorumliteVersion: response.headers.get(quorumliteVersionHeader) ?? undefined,
    };
  }

  async close(): Promise<void> {
    for (const controller of this.#controllers) controller.abort(new QuorumliteError('CLIENT_CLOSED', 'the client was closed'));
    this.#controllers.clear();
  }
}

async function readBounded(response: Response, request: HttpRequest, signal: AbortSignal): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks = new ChunkCollector(request.responseBytesMax, request.url);
  try {
    // Bounded: ends at the end of the body, or fails once responseBytesMax is passed.
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return chunks.concatenate();
      chunks.add(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    if (error instanceof QuorumliteError) throw error;
    if (signal.aborted) throw signal.reason;
    throw connectionFailed(request.url, error);
  }
}

/** Collects body chunks, refusing to hold more than `bytesMax`. */
export class ChunkCollector {
  readonly #chunks: Uint8Array[] = [];
  #byteCount = 0;
  readonly #bytesMax: number;
  readonly #url: string;

  constructor(bytesMax: number, url: string) {
    this.#bytesMax = bytesMax;
    this.#url = url;
  }

  add(chunk: Uint8Array): void {
    this.#byteCount += chunk.byteLength;
    if (this.#byteCount > this.#bytesMax) {
      throw new QuorumliteError('BODY_TOO_LARGE', `reply from ${this.#url} is larger than responseBytesMax (${this.#bytesMax} bytes)`, { nodeUrl: this.#url });
    }
    this.#chunks.push(chunk);
  }

  concatenate(): Uint8Array {
    if (this.#chunks.length === 1) return this.#chunks[0] as Uint8Array;
    const joined = new Uint8Array(this.#byteCount);
    let offset = 0;
    for (const chunk of this.#chunks) {
      joined.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return joined;
  }
}

export function connectionFailed(url: string, cause: unknown): QuorumliteError {
  const detail = describeCause(cause);
  return new QuorumliteError('CONNECTION_FAILED', `connection to ${url} failed: ${detail}`, { cause, nodeUrl: url });
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = (cause as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown }).code ?? (inner as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
}
