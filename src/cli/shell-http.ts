/**
 * The HTTP side of the rqlite-style shell, behaving as rqlite's shell client does: it
 * talks to one node at a time, follows `301` redirects to the leader (at most
 * `redirectsMax`), and when a node does not answer at all moves on to the next one in
 * the list (the `-a` fallbacks), logging `[client] … host '…' is unavailable` on
 * stderr. Every request carries the `-u` Basic credentials; TLS uses `-c` (trusted CA),
 * `-d`/`-k` (client certificate) and `-i` (no verification). `-t` bounds each exchange.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import { basicAuthorization } from './basic-credentials.js';
import type { TlsSettings } from './shell-arguments.js';
import { goFileErrorText, goLogTimestamp, goStatusLine } from './shell-go-text.js';
import { hostAndPort } from './shell-hosts.js';
import type { TransferProgress } from './shell-progress.js';

export interface ShellHttpResponse {
  readonly status: number;
  /** Go's `resp.Status` (`404 Not Found`), which rqlite's messages quote. */
  readonly statusLine: string;
  /** `X-RQLITE-VERSION`, when the server sent it. */
  readonly rqliteVersion: string | undefined;
  /** The reply body; empty when it went to a file. */
  readonly body: Uint8Array;
}

export interface ShellHttpExchange {
  readonly response: ShellHttpResponse;
  /** The node that answered, when it is not the one the call started with (rqlite then changes the prompt). */
  readonly newHost: string | undefined;
}

/** No node answered; `allRefused` when each one refused the connection (nothing listening). */
export class ShellHttpError extends Error {
  override readonly name = 'ShellHttpError';
  constructor(
    message: string,
    readonly allRefused: boolean,
  ) {
    super(message);
  }
}

interface ShellHttpOptions {
  readonly hosts: readonly string[];
  readonly user: { readonly username: string; readonly password: string } | undefined;
  readonly tls: TlsSettings;
  readonly timeoutMs: number;
  /** Where the `[client]` lines go (stderr). */
  readonly log: (line: string) => void;
}

/** Redirects followed within one attempt on one node: rqlite's shell allows 21. */
const redirectsMax = 21;
/** Reply bodies held in memory are refused beyond this; backups stream to their file. */
const responseBytesMax = 64 * 1024 * 1024;

type Method = 'GET' | 'POST' | 'DELETE';

/** A body streamed from its source (a file), opened afresh for every attempt (another node, a redirect). */
export interface StreamedBody {
  readonly bytes: number;
  open(): AsyncIterable<Uint8Array>;
}

interface Outgoing {
  readonly method: Method;
  readonly body: Uint8Array | StreamedBody | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** Stream a 200 reply's body to this file instead of memory. */
  readonly filePath: string | undefined;
  /** Counts the bytes of a streamed body or a reply written to its file. */
  readonly progress: TransferProgress | undefined;
}

class TooManyRedirectsError extends Error {}

/** A failure writing the reply to its file: the node did answer, so no other node is tried. */
class FileWriteError extends Error {}

export class ShellHttpClient {
  readonly #hosts: readonly string[];
  readonly #agent: Agent;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #timeoutMs: number;
  readonly #log: (line: string) => void;
  #hostIndex = 0;

  private constructor(options: ShellHttpOptions, agent: Agent) {
    if (options.hosts.length === 0) throw new RangeError('the shell needs at least one host');
    this.#hosts = options.hosts;
    this.#agent = agent;
    this.#timeoutMs = options.timeoutMs;
    this.#log = options.log;
    this.#headers = options.user === undefined ? {} : { authorization: basicAuthorization(options.user) };
  }

  /** Reads the TLS files; a missing or unreadable one is an error worded as Go's (`open x: no such file or directory`). */
  static async open(options: ShellHttpOptions): Promise<ShellHttpClient> {
    return new ShellHttpClient(options, new Agent({ connect: await tlsConnectOptions(options.tls) }));
  }

  /** The base URL of the node calls go to first. */
  get host(): string {
    return this.#hosts[this.#hostIndex] as string;
  }

  /** `path` is relative to the base URL: `status`, `db/request?timings`. */
  send(
    method: Method,
    path: string,
    body?: Uint8Array | StreamedBody,
    headers: Readonly<Record<string, string>> = {},
    progress?: TransferProgress,
  ): Promise<ShellHttpExchange> {
    return this.#sendToAnyHost(path, { method, body, headers, filePath: undefined, progress });
  }

  /** As `send`, but a 200 reply's body is streamed into `filePath` (created or truncated only then). */
  sendToFile(method: Method, path: string, filePath: string, progress?: TransferProgress): Promise<ShellHttpExchange> {
    return this.#sendToAnyHost(path, { method, body: undefined, headers: {}, filePath, progress });
  }

  /** GET exactly this URL: no other node, no redirect (rqlite's sysdump asks each node itself). */
  async getDirect(url: string): Promise<ShellHttpResponse> {
    return this.#exchange(url, { method: 'GET', body: undefined, headers: {}, filePath: undefined, progress: undefined });
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  async #sendToAnyHost(path: string, outgoing: Outgoing): Promise<ShellHttpExchange> {
    let allRefused = true;
    for (let triedCount = 0; triedCount < this.#hosts.length; triedCount += 1) {
      const host = this.host;
      try {
        const response = await this.#followRedirects(`${host}/${path}`, outgoing);
        return { response, newHost: triedCount > 0 ? host : undefined };
      } catch (error) {
        if (error instanceof FileWriteError) throw new Error(error.message);
        allRefused &&= errorCode(error) === 'ECONNREFUSED';
        if (error instanceof TooManyRedirectsError) this.#logLine(`too many redirects from host: '${hostAndPort(host)}'`);
        this.#logLine(`host '${hostAndPort(host)}' is unavailable (${describeFailure(error, this.#timeoutMs)}), retrying with the next available host`);
        this.#hostIndex = (this.#hostIndex + 1) % this.#hosts.length;
      }
    }
    this.#logLine('none of the available hosts are responsive');
    throw new ShellHttpError('no host available to perform the request', allRefused);
  }

  async #followRedirects(url: string, outgoing: Outgoing): Promise<ShellHttpResponse> {
    let target = url;
    for (let redirectCount = 0; ; redirectCount += 1) {
      const response = await this.#exchange(target, outgoing);
      if (response.status !== 301) return response;
      if (redirectCount >= redirectsMax) throw new TooManyRedirectsError('maximum leader redirect limit exceeded');
      const location = new TextDecoder().decode(response.body);
      target = new URL(location === '' ? target : location, target).href;
    }
  }

  /** One request and its whole reply, bounded by the timeout. A 301's body is its Location. */
  async #exchange(url: string, outgoing: Outgoing): Promise<ShellHttpResponse> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const streamed = outgoing.body instanceof Uint8Array || outgoing.body === undefined ? undefined : outgoing.body;
    const reply = await request(url, {
      method: outgoing.method,
      headers: { ...this.#headers, ...outgoing.headers, ...(streamed === undefined ? {} : { 'content-length': String(streamed.bytes) }) },
      body: streamed === undefined ? (outgoing.body as Uint8Array | undefined) : Readable.from(countedChunks(streamed.open(), outgoing.progress)),
      dispatcher: this.#agent,
      signal,
    });
    const rqliteVersion = firstHeader(reply.headers['x-rqlite-version']);
    const base = { status: reply.statusCode, statusLine: goStatusLine(reply.statusCode), rqliteVersion };
    if (reply.statusCode === 301) {
      await reply.body.dump();
      return { ...base, body: new TextEncoder().encode(firstHeader(reply.headers.location) ?? '') };
    }
    if (reply.statusCode === 200 && outgoing.filePath !== undefined) {
      const length = Number(firstHeader(reply.headers['content-length']));
      if (outgoing.progress !== undefined && Number.isSafeInteger(length)) outgoing.progress.totalBytes = length;
      await streamToFile(reply.body, outgoing.filePath, outgoing.progress);
      return { ...base, body: new Uint8Array() };
    }
    return { ...base, body: await readBounded(reply.body, url) };
  }

  #logLine(message: string): void {
    this.#log(`[client] ${goLogTimestamp(new Date())} ${message}\n`);
  }
}

interface TlsConnectOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

async function tlsConnectOptions(tls: TlsSettings): Promise<TlsConnectOptions> {
  const options: TlsConnectOptions = { rejectUnauthorized: !tls.insecure };
  if (tls.caCertPath !== undefined) {
    options.ca = await readTlsFile(tls.caCertPath);
    if (!options.ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`failed to load CA certificate(s) from ${tls.caCertPath}`);
  }
  if ((tls.clientCertPath === undefined) !== (tls.clientKeyPath === undefined)) {
    throw new Error('a client certificate needs both -d (certificate) and -k (key)');
  }
  if (tls.clientCertPath !== undefined) options.cert = await readTlsFile(tls.clientCertPath);
  if (tls.clientKeyPath !== undefined) options.key = await readTlsFile(tls.clientKeyPath);
  return options;
}

async function readTlsFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new Error(goFileErrorText(error, path));
  }
}

async function* countedChunks(chunks: AsyncIterable<Uint8Array>, progress: TransferProgress | undefined): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    progress?.advance(chunk.byteLength);
    yield chunk;
  }
}

/** Passes bytes through, counting them on `progress`. */
function counting(progress: TransferProgress | undefined): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      progress?.advance(chunk.byteLength);
      callback(null, chunk);
    },
  });
}

async function streamToFile(body: AsyncIterable<Uint8Array>, path: string, progress: TransferProgress | undefined): Promise<void> {
  const file = createWriteStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    file.once('open', () => resolve());
    file.once('error', reject);
  });
  try {
    await opened;
  } catch (error) {
    throw new FileWriteError(goFileErrorText(error, path));
  }
  await pipeline(body, counting(progress), file);
}

async function readBounded(body: AsyncIterable<Uint8Array> & { destroy(error?: Error): unknown }, url: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let byteCount = 0;
  for await (const chunk of body) {
    byteCount += chunk.byteLength;
    if (byteCount > responseBytesMax) {
      body.destroy();
      throw new Error(`the reply from ${url} holds more than ${responseBytesMax} bytes (responseBytesMax)`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function errorCode(error: unknown): string | undefined {
  const direct = (error as { code?: unknown } | undefined)?.code;
  if (typeof direct === 'string') return direct;
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof cause === 'string' ? cause : undefined;
}

function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return `no reply within ${timeoutMs / 1000}s`;
  return error instanceof Error ? error.message : String(error);
}
