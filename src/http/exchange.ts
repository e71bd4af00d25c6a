/**
 * One HTTP request and its response: parsed parameters, the body reader,
 * bounded service calls, and the writers for JSON (streamed, with back-pressure),
 * plain text and empty answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeJsonChunks, type JsonOutput } from './json-writer.js';
import type { HttpMetrics } from './metrics.js';
import type { HttpServerOptions } from './options.js';
import type { QueryParameters } from './query-parameters.js';
import { readRequestBody } from './request-body.js';
import { ServiceError, type CallContext } from '../service/service.js';

export class Exchange {
  readonly startedAtMs = performance.now();
  readonly #disconnect = new AbortController();
  readonly #metrics: HttpMetrics;

  constructor(
    readonly request: IncomingMessage,
    readonly response: ServerResponse,
    readonly path: string,
    readonly rawQuery: string,
    readonly parameters: QueryParameters,
    readonly options: HttpServerOptions,
    metrics: HttpMetrics,
    /** Who asks (auth-check.ts): a user, null when anonymous, undefined when the node checks no credentials. */
    readonly caller?: string | null,
  ) {
    this.#metrics = metrics;
    // 'close' on the response fires when it is finished or the socket died first.
    response.once('close', () => {
      if (!response.writableFinished) this.#disconnect.abort(new Error('client disconnected'));
    });
  }

  elapsedSeconds(): number {
    return (performance.now() - this.startedAtMs) / 1000;
  }

  flag(key: string): boolean {
    return this.parameters.has(key);
  }

  async readBody(bytesMax: number): Promise<Buffer> {
    const body = await readRequestBody(this.request, bytesMax, () => this.response.writeContinue());
    this.#metrics.bodyReceived(body.length);
    return body;
  }

  async readBodyText(bytesMax: number): Promise<string> {
    return (await this.readBody(bytesMax)).toString('utf8');
  }

  /**
   * Calls the service with a deadline of the request's timeout plus a grace period:
   * past it the call is abandoned (its signal aborted) and the answer is TIMEOUT.
   */
  async callService<T>(timeoutMs: number, call: (context: CallContext) => Promise<T>): Promise<T> {
    const deadline = new AbortController();
    const onDisconnect = (): void => deadline.abort(this.#disconnect.signal.reason);
    if (this.#disconnect.signal.aborted) onDisconnect();
    else this.#disconnect.signal.addEventListener('abort', onDisconnect, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new ServiceError('TIMEOUT', `timed out after ${timeoutMs}ms`);
        deadline.abort(error);
        reject(error);
      }, timeoutMs + this.options.serviceGraceMs);
    });
    try {
      const context: CallContext = this.caller === undefined ? { signal: deadline.signal } : { signal: deadline.signal, caller: this.caller };
      return await Promise.race([call(context), expired]);
    } finally {
      clearTimeout(timer);
      this.#disconnect.signal.removeEventListener('abort', onDisconnect);
    }
  }

  setHeader(name: string, value: string): void {
    this.response.setHeader(name, value);
  }

  async sendJson(status: number, value: JsonOutput): Promise<void> {
    const chunks = writeJsonChunks(value, {
      pretty: this.flag('pretty'),
      blobAsArray: this.flag('blob_array'),
      chunkCharacters: this.options.responseChunkCharacters,
    });
    this.response.statusCode = status;
    this.response.setHeader('Content-Type', 'application/json; charset=utf-8');
    await writeChunked(this.response, chunks, this.options.responseStallTimeoutMs);
  }

  sendText(status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
    sendText(this.response, status, text, contentType);
  }

  sendEmpty(status: number): void {
    sendEmpty(this.response, status);
  }
}

/** A whole text body with its Content-Length (also used for error answers, which have no Exchange). */
export function sendText(response: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  response.statusCode = status;
  response.setHeader('Content-Type', contentType);
  response.setHeader('Content-Length', Buffer.byteLength(text));
  response.end(text);
}

export function sendEmpty(response: ServerResponse, status: number): void {
  response.statusCode = status;
  response.setHeader('Content-Length', 0);
  response.end();
}

/** Writes a single-chunk body with Content-Length, a larger one chunked with back-pressure. */
async function writeChunked(response: ServerResponse, chunks: Generator<string, void, undefined>, stallTimeoutMs: number): Promise<void> {
  const first = chunks.next();
  const firstText = first.done === true ? '' : first.value;
  const second = first.done === true ? first : chunks.next();
  if (second.done === true) {
    response.setHeader('Content-Length', Buffer.byteLength(firstText));
    response.end(firstText);
    return;
  }
  response.write(firstText);
  let next: IteratorResult<string, void> = second;
  while (next.done !== true) {
    if (response.destroyed) return;
    if (!response.write(next.value)) await drainOrClose(response, stallTimeoutMs);
    next = chunks.next();
  }
  response.end();
}

/**
 * Waits until the client has taken what was written. A client that takes nothing for
 * `stallTimeoutMs` is cut off: reading nothing, it would hold its connection and the
 * response's results forever (request and headers timeouts end once the request is in).
 */
function drainOrClose(response: ServerResponse, stallTimeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(stalled);
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    const stalled = setTimeout(() => response.destroy(), stallTimeoutMs);
    response.on('drain', done);
    response.on('close', done);
  });
}
