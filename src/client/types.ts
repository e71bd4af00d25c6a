/** The public data shapes of the client. Plain data, no Node-only types. */

/** A value read from a row. INTEGERs beyond 2^53 are bigint (see `bigint` option); BLOBs are Uint8Array. */
export type Value = null | number | bigint | string | Uint8Array;

/**
 * A value bound to a parameter. Booleans bind as true/false (SQLite stores 1 / 0). A
 * number that is an integer binds as INTEGER, any other as REAL; `{ real: 2 }` binds a
 * REAL whatever its value (sent as `2.0`, as rqlite reads a JSON number with a fraction).
 */
export type InValue = Value | boolean | { readonly real: number };

/** Positional (`?`) parameters in order, or named (`:name`, `@name`, `$name`) without the prefix. */
export type InArgs = readonly InValue[] | Readonly<Record<string, InValue>>;

/**
 * A statement: plain SQL, or SQL with parameters. `args` as an array binds
 * positionally, as an object by name; `named` adds named parameters next to
 * positional `args` (rqlite allows mixing).
 */
export type InStatement = string | { readonly sql: string; readonly args?: InArgs; readonly named?: Readonly<Record<string, InValue>> };

export type ConsistencyLevel = 'none' | 'weak' | 'linearizable' | 'strong' | 'auto';

/**
 * How INTEGERs come back: 'auto' — number when it fits exactly (|n| < 2^53), bigint
 * otherwise; 'always' — every integer literal in a row and last_insert_id is bigint;
 * 'never' — numbers only, and a value that does not fit throws INTEGER_OVERFLOW rather
 * than losing precision.
 */
export type BigIntMode = 'auto' | 'always' | 'never';

/** Rows as objects keyed by column name (default) or as arrays in column order. */
export type RowMode = 'object' | 'array';

/** What a per-statement SQL error does: throw QuorumliteError('SQL_ERROR') (default) or stay in the result. */
export type SqlErrorMode = 'throw' | 'return';

export interface ResultSet<Row = Record<string, Value>> {
  /** Column names; empty for writes. */
  readonly columns: readonly string[];
  /** Declared column types; "" for expressions. */
  readonly types: readonly string[];
  readonly rows: readonly Row[];
  /** 0 for reads. */
  readonly rowsAffected: number;
  /** Present for writes that report one. */
  readonly lastInsertId: number | bigint | undefined;
  /** Only with `sqlErrors: 'return'`: this statement's SQL error. */
  readonly error: string | undefined;
  /** Seconds, when the server reports timings. */
  readonly timeSeconds: number | undefined;
}

export interface Reply<Row = Record<string, Value>> {
  readonly results: readonly ResultSet<Row>[];
  /** The Raft log index of the write, when the request wrote. */
  readonly raftIndex: number | undefined;
}

/** A cluster member as `/nodes` describes it. */
export interface NodeInfo {
  readonly id: string;
  /** Normalised HTTP base URL (`http://host:port`). */
  readonly apiUrl: string;
  /** Raft (peer) address. */
  readonly raftAddress: string;
  readonly voter: boolean;
  readonly reachable: boolean;
  readonly leader: boolean;
  readonly error: string | undefined;
}
