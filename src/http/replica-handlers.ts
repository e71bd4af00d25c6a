/**
 * `GET /db/stream?from=N[&db=NAME]` and `GET /db/copy[?db=NAME]`: the feed of embedded replicas
 * (src/service/replica-service.ts, docs/REPLICA.md), served by the node that receives them.
 *
 * The stream is one long response of length-prefixed frames (src/common/log-stream-frames.ts),
 * written with back-pressure: the next batch is read from the log only once the socket took
 * the last one, so a stream buffers one batch at most, and a replica that takes nothing for
 * `responseStallTimeoutMs` is disconnected rather than buffered for. A failure after the head
 * went out is an `error` frame, then the end of the response.
 */
import { encodeLogStreamFrame, type LogStreamFrame } from '../common/log-stream-frames.js';
import { drainOrClose, type Exchange } from './exchange.js';
import { badRequest, HttpError } from './http-error.js';
import { sendStream } from './transfer-handlers.js';
import { isServiceError, type ClusterService } from '../service/service.js';
import type { LogStream, ReplicaFeed } from '../service/replica-service.js';

/** The header that carries the applied index a stream starts at, or a copy holds. */
const appliedIndexHeader = 'X-Quorumlite-Applied-Index';

function feed<Name extends keyof ReplicaFeed>(exchange: Exchange, service: ClusterService, name: Name): ReplicaFeed[Name] {
  const method = service[name];
  if (method === undefined) throw new HttpError(404, 'NOT_FOUND', `not found: ${exchange.path}`);
  return method.bind(service) as ReplicaFeed[Name];
}

/** `from`: the replica's applied index, a non-negative integer. */
function fromIndexOf(text: string | undefined): number {
  if (text === undefined) throw badRequest('from is required: the index after which entries are sent');
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw badRequest(`invalid from value: ${JSON.stringify(text)}`);
  return Number(text);
}

export async function handleStream(exchange: Exchange, service: ClusterService): Promise<void> {
  const open = feed(exchange, service, 'openLogStream');
  const request = { fromIndex: fromIndexOf(exchange.parameters.get('from')), database: exchange.parameters.get('db') };
  const stream = await exchange.callService(exchange.parameters.timeoutMs, (context) => open(request, context));
  const response = exchange.response;
  response.once('close', () => stream.close());
  try {
    response.statusCode = 200;
    response.setHeader('Content-Type', 'application/vnd.quorumlite.log-stream');
    response.setHeader('Cache-Control', 'no-store');
    response.setHeader(appliedIndexHeader, String(stream.appliedIndex));
    response.setHeader('X-Quorumlite-Foreign-Keys', stream.foreignKeys ? 'on' : 'off');
    response.flushHeaders();
    await pump(exchange, stream);
  } finally {
    stream.close();
  }
}

async function pump(exchange: Exchange, stream: LogStream): Promise<void> {
  const response = exchange.response;
  while (!response.destroyed) {
    const frames = await nextFrames(exchange, stream);
    if (frames === null || response.destroyed) break;
    let drained = true;
    for (const frame of frames) drained = response.write(encodeLogStreamFrame(frame));
    if (!drained) await drainOrClose(response, exchange.options.responseStallTimeoutMs);
  }
  if (!response.destroyed) response.end();
}

/** The stream's next frames; a failure becomes its last frame, an `error` one (the head went out long ago). */
async function nextFrames(exchange: Exchange, stream: LogStream): Promise<readonly LogStreamFrame[] | null> {
  try {
    return await stream.next();
  } catch (error) {
    if (isServiceError(error)) {
      stream.close();
      return [{ kind: 'error', code: error.code, message: error.message }];
    }
    exchange.options.logger?.error({ err: error, url: exchange.request.url }, 'log stream failed');
    stream.close();
    return [{ kind: 'error', code: 'INTERNAL', message: 'internal error' }];
  }
}

export async function handleCopy(exchange: Exchange, service: ClusterService): Promise<void> {
  const open = feed(exchange, service, 'openDatabaseCopy');
  const copy = await exchange.callService(exchange.parameters.timeoutMs, (context) => open({ database: exchange.parameters.get('db') }, context));
  try {
    exchange.setHeader(appliedIndexHeader, String(copy.appliedIndex));
    await sendStream(exchange, copy, 'application/octet-stream', false);
  } finally {
    await copy.close();
  }
}
