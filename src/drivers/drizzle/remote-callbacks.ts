/**
 * drizzle-orm's sqlite-proxy calls one function per query with the SQL, its parameters
 * and a method; this turns those calls into quorumlite client calls. Rows travel as
 * arrays (drizzle maps them onto the selected fields itself). Routing: `run` goes to
 * `execute` on the leader; `all`, `get` and `values` of a SELECT go to `query` (the
 * client's read consistency), of anything else (INSERT … RETURNING, WITH …) to `request`,
 * where the server decides. A batch is one atomic `/db/execute?transaction`.
 */
import type { InValue, Reply, ResultSet } from '../../client/types.js';
import { type ClientPort, isPlainSelect, type StatementPort } from '../client-port.js';

type RemoteMethod = 'run' | 'all' | 'values' | 'get';

/** What a `run` (and `db.run(sql)`) answers: rqlite's write result. */
export interface QuorumliteRunResult {
  readonly rows: unknown[];
  readonly rowsAffected: number;
  readonly lastInsertId: number | bigint | undefined;
}

/** sqlite-proxy's answer: all rows for all/values, the first row (or undefined) for get. */
interface RemoteAnswer {
  // biome-ignore lint/suspicious/noExplicitAny: sqlite-proxy's own contract, where `rows` is a list of rows or, for get, one row
  rows: any;
}

interface RemoteQuery {
  readonly sql: string;
  readonly params: unknown[];
  readonly method: RemoteMethod;
}

export function remoteCallback(port: StatementPort): (sql: string, params: unknown[], method: RemoteMethod) => Promise<RemoteAnswer> {
  return async (sql, params, method) => {
    const statement = { sql, args: params as readonly InValue[] };
    if (method === 'run') return toAnswer((await port.execute(statement, { rowMode: 'array' })).results[0], method);
    const reply = isPlainSelect(sql) ? await port.query(statement, { rowMode: 'array' }) : await port.request(statement, { rowMode: 'array' });
    return toAnswer(reply.results[0], method);
  };
}

/** Every query of a batch in one atomic request: all apply, or none (the first SQL error throws). */
export function remoteBatchCallback(client: ClientPort): (queries: RemoteQuery[]) => Promise<RemoteAnswer[]> {
  return async (queries) => {
    const statements = queries.map((query) => ({ sql: query.sql, args: query.params as readonly InValue[] }));
    const reply: Reply<unknown> = await client.transaction(statements, { rowMode: 'array' });
    return queries.map((query, index) => toAnswer(reply.results[index], query.method));
  };
}

function toAnswer(result: ResultSet<unknown> | undefined, method: RemoteMethod): RemoteAnswer {
  const rows = (result?.rows ?? []) as unknown[];
  if (method === 'get') return { rows: rows[0] };
  if (method !== 'run') return { rows };
  const runResult: QuorumliteRunResult = { rows, rowsAffected: result?.rowsAffected ?? 0, lastInsertId: result?.lastInsertId };
  return runResult;
}
