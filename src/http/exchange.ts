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
   * past it the call is abandoned (its signal aborted) and the answer is TIMEOUT. The
   * signal also aborts when the client disconnects. It is made only when the service
   * reads it (most reads never do): an AbortController and a listener per request
   * were a measurable part of a point read.
   */
  callService<T>(timeoutMs: number, call: (context: CallContext) => Promise<T>): Promise<T> {
    const deadline = new LazyDeadline(this.response, this.caller);
    // One promise settled by whichever comes first, the call or the deadline (cheaper than a race of two).
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new ServiceError('TIMEOUT', `timed out after ${timeoutMs}ms`);
        deadline.abort(error);
        deadline.release();
        reject(error);
      }, timeoutMs + this.options.serviceGraceMs);
      const settle = (): void => {
        clearTimeout(timer);
        deadline.release();
      };
      let pending: Promise<T>;
      try {
        pending = call(deadline);
      } catch (error) {
        settle();
        reject(error);
        return;
      }
      pending.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
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

/**
 * A call's context: its abort signal, made at its first read, aborted by `abort()` (the
 * deadline) or when the response closes before it finished (the client left).
 *
 * The getter is the class's, shared by every request. An object literal with a getter
 * (`{ get signal() {…} }`), as this was, costs far more than it looks: V8 keeps each such
 * literal's getter, a fresh closure, in an accessor pair it allocates in old space; the
 * closure reaches the request and its response, and what an old-space object points at
 * outlives young collections until a full one. That was a third of a point read's CPU
 * (bench/README.md, issue 16; test/http/call-context.test.ts).
 */
class LazyDeadline implements CallContext {
  declare readonly caller?: string | null;
  readonly #response: ServerResponse;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #aborted = false;
  #onClose: (() => void) | undefined;

  constructor(response: ServerResponse, caller: string | null | undefined) {
    this.#response = response;
    if (caller !== undefined) this.caller = caller;
  }

  get signal(): AbortSignal {
    return this.#signal();
  }

  abort(reason: unknown): void {
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  release(): void {
    if (this.#onClose !== undefined) this.#response.off('close', this.#onClose);
  }

  #signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    if (this.#aborted) controller.abort(this.#abortReason);
    else if (this.#clientLeft()) controller.abort(new Error('client disconnected'));
    else {
      // 'close' on the response fires when it is finished or the socket died first.
      this.#onClose = () => {
        if (!this.#response.writableFinished) controller.abort(new Error('client disconnected'));
      };
      this.#response.once('close', this.#onClose);
    }
    return controller.signal;
  }

  /** The response closed (its socket died) before it was written. */
  #clientLeft(): boolean {
    return (this.#response.closed || this.#response.socket?.destroyed === true) && !this.#response.writableFinished;
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
export function drainOrClose(response: ServerResponse, stallTimeoutMs: number): Promise<void> {
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
