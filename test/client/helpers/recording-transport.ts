/**
 * An undici transport that records what the client sent: every request, and per write
 * (path and body; each write in these tests is unique) the Idempotency-Key of every
 * attempt, '' for an attempt without one. The failover tests read it to prove a retried
 * write reused its key.
 */
import { UndiciTransport, type HttpRequest } from '../../../src/client/index.js';

export interface AttemptLog {
  readonly keysByWrite: Map<string, string[]>;
  readonly requests: HttpRequest[];
}

export function recordingTransport(onSend: (request: HttpRequest) => void = () => undefined): { transport: UndiciTransport; log: AttemptLog } {
  const log: AttemptLog = { keysByWrite: new Map(), requests: [] };
  const transport = new UndiciTransport();
  const send = transport.send.bind(transport);
  transport.send = (request: HttpRequest) => {
    if (request.url.includes('/db/execute')) {
      const write = `${new URL(request.url).pathname} ${Buffer.from(request.body ?? new Uint8Array()).toString('latin1')}`;
      log.keysByWrite.set(write, [...(log.keysByWrite.get(write) ?? []), request.headers['idempotency-key'] ?? '']);
    }
    log.requests.push(request);
    onSend(request);
    return send(request);
  };
  return { transport, log };
}
