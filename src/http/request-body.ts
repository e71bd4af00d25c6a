/**
 * Reading a request body with a hard bound. A declared Content-Length above the bound
 * is refused before a byte is read; an undeclared (chunked) body is refused as soon as
 * it passes the bound, and reading stops there. Either way the answer is 413 and the
 * connection closes, so the rest of the body is never read.
 */
import type { IncomingMessage } from 'node:http';
import { badRequest, HttpError } from './http-error.js';
import { JsonSyntaxError, parseJson, type JsonValue } from './json-reader.js';

export function bodyTooLarge(bodyBytesMax: number): HttpError {
  return new HttpError(413, 'BODY_TOO_LARGE', `request body too large: the maximum is ${bodyBytesMax} bytes`, {
    Connection: 'close',
  });
}

/** `writeContinue` sends `100 Continue` to a client that asked for it, once the declared size passes. */
export function readRequestBody(request: IncomingMessage, bodyBytesMax: number, writeContinue: () => void = () => undefined): Promise<Buffer> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > bodyBytesMax) return Promise.reject(bodyTooLarge(bodyBytesMax));
  if (request.headers.expect?.toLowerCase() === '100-continue') writeContinue();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let receivedBytes = 0;
    const cleanup = (): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      receivedBytes += chunk.length;
      if (receivedBytes > bodyBytesMax) {
        // Stop reading but keep the socket: the 413 answer still has to go out.
        cleanup();
        request.pause();
        reject(bodyTooLarge(bodyBytesMax));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, receivedBytes));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new HttpError(400, 'BAD_REQUEST', `request body could not be read: ${error.message}`));
    };
    const onClose = (): void => {
      if (request.complete) return;
      cleanup();
      reject(new HttpError(400, 'BAD_REQUEST', 'request body ended early: the client closed the connection'));
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}

/** A JSON request body, nested at most `depthMax` deep; malformed JSON is a 400. */
export function parseJsonBody(body: string, depthMax: number): JsonValue {
  try {
    return parseJson(body, depthMax);
  } catch (error) {
    if (error instanceof JsonSyntaxError) throw badRequest(`invalid JSON body: ${error.message}`);
    throw error;
  }
}
