/**
 * A request body read as it arrives, for the endpoints that move whole databases
 * (`/db/load`, `/boot`): never held whole in memory, and bounded as every body is
 * (request-body.ts): a declared Content-Length over the bound is refused before a byte is
 * read, an undeclared one as soon as it passes the bound; either way 413, and the
 * connection closes so the rest of the body is never read.
 */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.js';
import { bodyTooLarge } from './request-body.js';

/** Refuses a declared size over the bound at once; `writeContinue` answers `Expect: 100-continue` once it passes. */
export function streamRequestBody(request: IncomingMessage, bodyBytesMax: number, writeContinue: () => void): AsyncIterable<Uint8Array> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > bodyBytesMax) throw bodyTooLarge(bodyBytesMax);
  if (request.headers.expect?.toLowerCase() === '100-continue') writeContinue();
  return boundedChunks(request, bodyBytesMax);
}

async function* boundedChunks(request: IncomingMessage, bodyBytesMax: number): AsyncGenerator<Uint8Array> {
  let receivedBytes = 0;
  try {
    // Not destroyed when reading stops early: the 413 answer still has to go out on its socket.
    for await (const chunk of request.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      receivedBytes += chunk.byteLength;
      if (receivedBytes > bodyBytesMax) throw bodyTooLarge(bodyBytesMax);
      yield chunk;
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, 'BAD_REQUEST', `request body could not be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!request.complete) throw new HttpError(400, 'BAD_REQUEST', 'request body ended early: the client closed the connection');
}
