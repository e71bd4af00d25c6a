/**
 * The replica's two requests to a node (docs/REPLICA.md), on an undici Agent of its own
 * (one long-lived stream must not take a socket from the client's pools): the log stream
 * from an index, read frame by frame as it arrives, and a full copy written to a file.
 */
import { open, rm } from 'node:fs/promises';
import { Agent } from 'undici';
import { QuorumliteError } from '../client/errors.js';
import type { ClientTlsOptions } from '../client/options.js';
import { connectOptionsOf } from '../client/undici-transport.js';
import { LogStreamFrameReader, type LogStreamFrame } from '../common/log-stream-frames.js';

/** The headers a node's feed answers with (src/http/replica-handlers.ts). */
const appliedIndexHeader = 'x-quorumlite-applied-index';
const foreignKeysHeader = 'x-quorumlite-foreign-keys';
const errorCodeHeader = 'x-quorumlite-error';

/** A refusal the node named (`X-Quorumlite-Error`), or a broken stream. */
export class FeedError extends Error {
  override readonly name = 'FeedError';
  constructor(
    readonly code: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export interface OpenedStream {
  readonly nodeUrl: string;
  readonly foreignKeys: boolean;
  /** Frames as they arrive, in batches; ends when the node ends the stream. */
  readonly frames: AsyncIterable<readonly LogStreamFrame[]>;
}

export class FeedRequests {
  readonly #agent: Agent;
  readonly #headers: () => Readonly<Record<string, string>>;
  readonly #databaseParameter: string;

  constructor(options: {
    readonly tls?: ClientTlsOptions | undefined;
    readonly silenceMsMax: number;
    readonly headers: () => Readonly<Record<string, string>>;
    /** The database followed (`db=`); undefined for the default one. */
    readonly database: string | undefined;
  }) {
    this.#headers = options.headers;
    this.#databaseParameter = options.database === undefined ? '' : `db=${encodeURIComponent(options.database)}`;
    this.#agent = new Agent({
      // A stream silent past this (no entry, no heartbeat) is from a node that stopped: drop it and go elsewhere.
      bodyTimeout: options.silenceMsMax,
      headersTimeout: options.silenceMsMax,
      ...(options.tls === undefined ? {} : { connect: connectOptionsOf(options.tls) }),
    });
  }

  async openStream(nodeUrl: string, fromIndex: number, signal: AbortSignal): Promise<OpenedStream> {
    const response = await this.#get(nodeUrl, `/db/stream?from=${fromIndex}${this.#databaseParameter === '' ? '' : `&${this.#databaseParameter}`}`, signal);
    if (response.statusCode !== 200) throw await refusal(nodeUrl, response);
    const body = response.body;
    const frames = (async function* () {
      const reader = new LogStreamFrameReader();
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        const batch = reader.push(chunk);
        if (batch.length > 0) yield batch;
      }
    })();
    return { nodeUrl, foreignKeys: firstValue(response.headers[foreignKeysHeader]) === 'on', frames };
  }

  /** Downloads `/db/copy` to `path`; resolves to the index the node says the copy holds. */
  async downloadCopy(nodeUrl: string, path: string, bytesMax: number, signal: AbortSignal): Promise<number> {
    const response = await this.#get(nodeUrl, this.#databaseParameter === '' ? '/db/copy' : `/db/copy?${this.#databaseParameter}`, signal);
    if (response.statusCode !== 200) throw await refusal(nodeUrl, response);
    const appliedIndex = Number(firstValue(response.headers[appliedIndexHeader]));
    if (!Number.isSafeInteger(appliedIndex) || appliedIndex < 0) {
      response.body.destroy();
      throw new FeedError('SERVER_ERROR', `${nodeUrl}/db/copy answered without a valid ${appliedIndexHeader}`);
    }
    const handle = await open(path, 'w');
    try {
      let bytes = 0;
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        bytes += chunk.byteLength;
        if (bytes > bytesMax) throw new FeedError('BODY_TOO_LARGE', `${nodeUrl}/db/copy is over copyBytesMax (${bytesMax} bytes)`);
        await handle.write(chunk);
      }
      await handle.sync();
    } catch (error) {
      response.body.destroy();
      await handle.close();
      await rm(path, { force: true });
      throw error;
    }
    await handle.close();
    return appliedIndex;
  }

  async #get(nodeUrl: string, path: string, signal: AbortSignal): Promise<Awaited<ReturnType<Agent['request']>>> {
    try {
      return await this.#agent.request({ origin: new URL(nodeUrl).origin, path, method: 'GET', headers: { ...this.#headers() }, signal });
    } catch (error) {
      throw new QuorumliteError('CONNECTION_FAILED', `${nodeUrl}${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, nodeUrl });
    }
  }

  async close(): Promise<void> {
    await this.#agent.destroy();
  }
}

async function refusal(nodeUrl: string, response: Awaited<ReturnType<Agent['request']>>): Promise<FeedError> {
  const text = (await response.body.text().catch(() => '')).trim();
  const code = firstValue(response.headers[errorCodeHeader]) ?? `HTTP_${response.statusCode}`;
  return new FeedError(code, `${nodeUrl} answered HTTP ${response.statusCode} (${code})${text === '' ? '' : `: ${text.slice(0, 300)}`}`);
}

function firstValue(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header[0] : header;
}
