/**
 * One HTTP call from a workload client to one node, classified the way a history needs it:
 * ok (with the parsed body), fail (the write definitely did not take effect) or info (the
 * outcome is unknown). The classification errs towards info: calling a write `fail` when
 * it may have happened would make a checker report an anomaly the database never had.
 *
 * Definite failures: the connection was refused (the request never reached a server); or
 * the node answered with a code that it gives only before a write reaches the log
 * (NO_LEADER, NOT_LEADER, HALTED, BAD_REQUEST and the HTTP layer's size refusals); or a
 * statement of a transaction failed (it ran through the log and rolled back as a whole).
 * Everything else (timeouts, resets, UNAVAILABLE, TIMEOUT, 5xx without a code) is info.
 */

/** Server codes (X-Quorumlite-Error) given only before a request reaches the log. */
const definiteRefusalCodes = new Set(['NO_LEADER', 'NOT_LEADER', 'HALTED', 'BAD_REQUEST', 'BODY_TOO_LARGE', 'TOO_MANY_STATEMENTS', 'NOT_READY']);
/** Socket errors that mean the request was never delivered. */
const notDeliveredCodes = new Set(['ECONNREFUSED']);
/** Bound on an error text kept in the history. */
const errorTextCharactersMax = 200;

export interface StatementResult {
  readonly columns?: readonly string[];
  readonly values?: readonly (readonly unknown[])[];
  readonly rows_affected?: number;
  readonly last_insert_id?: number;
  readonly error?: string;
}

export type CallOutcome =
  | { readonly kind: 'ok'; readonly results: readonly StatementResult[] }
  | { readonly kind: 'fail'; readonly error: string }
  | { readonly kind: 'info'; readonly error: string };

export type Endpoint = 'execute' | 'query' | 'request';

export interface CallOptions {
  readonly endpoint: Endpoint;
  readonly statements: readonly (readonly unknown[])[];
  /** Query string parameters, e.g. { level: 'linearizable', transaction: '' }. */
  readonly parameters?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Sent as Idempotency-Key on writes, so a node never applies one request twice. */
  readonly idempotencyKey?: string;
}

function shortText(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > errorTextCharactersMax ? `${oneLine.slice(0, errorTextCharactersMax)}…` : oneLine;
}

function socketErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function classifyThrown(error: unknown): CallOutcome {
  const name = (error as { name?: unknown }).name;
  if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'info', error: 'timeout' };
  const code = socketErrorCode(error);
  if (code !== undefined && notDeliveredCodes.has(code)) return { kind: 'fail', error: code };
  return { kind: 'info', error: code ?? shortText(String(error)) };
}

/** Sends one data request to `baseUrl` and classifies the answer. Never throws. */
export async function callNode(baseUrl: string, options: CallOptions): Promise<CallOutcome> {
  const query = new URLSearchParams(options.parameters ?? {}).toString().replace(/=(&|$)/g, '$1');
  const url = `${baseUrl}/db/${options.endpoint}${query === '' ? '' : `?${query}`}`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
  let status: number;
  let text: string;
  let serverCode: string | null;
  try {
    const response = await fetch(url, {
      method: 'POST',
      body: JSON.stringify(options.statements),
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    status = response.status;
    serverCode = response.headers.get('x-quorumlite-error');
    text = await response.text();
  } catch (error) {
    return classifyThrown(error);
  }
  if (status !== 200) {
    const error = serverCode ?? `HTTP ${status}`;
    const definite = serverCode !== null && definiteRefusalCodes.has(serverCode);
    return { kind: definite ? 'fail' : 'info', error: `${error}: ${shortText(text)}` };
  }
  let body: { results?: StatementResult[]; error?: string };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return { kind: 'info', error: `not JSON: ${shortText(text)}` };
  }
  if (typeof body.error === 'string') return { kind: 'info', error: shortText(body.error) };
  if (!Array.isArray(body.results)) return { kind: 'info', error: `no results: ${shortText(text)}` };
  const failed = body.results.find((result) => typeof result.error === 'string');
  if (failed !== undefined) return { kind: 'fail', error: `statement: ${shortText(failed.error ?? '')}` };
  return { kind: 'ok', results: body.results };
}

/** The first column of every row of a result, as numbers (SQLite integers arrive as JSON numbers). */
export function numberColumn(result: StatementResult | undefined): number[] {
  return (result?.values ?? []).map((row) => Number(row[0]));
}
