/** Starts the real HTTP server on 127.0.0.1 (a free port) over a fresh SqliteService. */
import { createHttpServer, type HttpApiServer } from '../../src/http/server.js';
import type { HttpServerOptions } from '../../src/http/options.js';
import { SqliteService } from './sqlite-service.js';

export interface Harness {
  readonly base: string;
  readonly service: SqliteService;
  readonly server: HttpApiServer;
  close(): Promise<void>;
}

/** `service`: a SqliteService of the test's own (a subclass that records calls, say); a fresh one by default. */
export async function startHarness<Service extends SqliteService = SqliteService>(
  options: Partial<HttpServerOptions> = {},
  service: Service = new SqliteService() as Service,
): Promise<Harness & { readonly service: Service }> {
  const server = createHttpServer(service, { closeTimeoutMs: 2_000, ...options });
  const { port } = await server.listen('127.0.0.1', 0);
  return {
    base: `http://127.0.0.1:${port}`,
    service,
    server,
    close: async () => {
      await server.close();
      service.close();
    },
  };
}

export async function postJson(base: string, path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${base}${path}`, {
    method: 'POST',
    signal,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A parsed JSON response body, for assertions. */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON shapes and assert on them field by field
export type Json = any;

/** The `X-Quorumlite-Error` code of a reply; null when it carries none (every success). */
export function errorCode(response: Response): string | null {
  return response.headers.get('x-quorumlite-error');
}
