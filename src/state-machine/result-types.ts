/**
 * The `types` of a rows result, as rqlite reports them: the declared type of each
 * column, lower-cased; where a column has none (an expression such as `COUNT(*)`, or a
 * column declared without a type), the storage class of the first row's value fills it
 * in — `integer`, `real`, `text` or `blob` — and a NULL there, or no row at all, leaves
 * it `""`. Only the first row counts, so the answer does not depend on how many rows
 * are read. (rqlite turns a BLOB in such a column into text first and so says `text`;
 * quorumlite keeps the bytes, and says `blob`.)
 */

/** A value as better-sqlite3 returns it with safe integers on: every INTEGER is a bigint, every REAL a number. */
function storageClassName(value: unknown): string {
  if (typeof value === 'bigint') return 'integer';
  if (typeof value === 'number') return 'real';
  if (typeof value === 'string') return 'text';
  if (value instanceof Uint8Array) return 'blob';
  return '';
}

/** `declared` as the column types, with the empty ones taken from `firstRow` (undefined: no rows). */
export function resultTypes(declared: readonly (string | null)[], firstRow: readonly unknown[] | undefined): string[] {
  return declared.map((type, index) => {
    const lowered = (type ?? '').toLowerCase();
    if (lowered !== '' || firstRow === undefined) return lowered;
    return storageClassName(firstRow[index]);
  });
}
