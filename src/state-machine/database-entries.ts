/**
 * Several databases in one cluster (docs/ARCHITECTURE.md, "Several databases"): the log
 * entries that name a database other than the default, and the rules for names.
 *
 * - A targeted entry: u8 magic 0x44 ('D') · u8 version 1 · u8 name length · name (ASCII)
 *   · the inner entry (a command, 0x51, or a load's entry, 0x4C): a write to, or a load
 *   of, that database. An entry without this envelope is the default database's, exactly
 *   as before.
 * - A catalog entry: u8 magic 0x43 ('C') · u8 version 1 · u8 kind (1 create, 2 drop) ·
 *   u8 name length · name.
 */
import { StateMachineError } from './errors.js';

/** The database every request without `db=` addresses: the one a node has always had. */
export const defaultDatabaseName = 'main';
/** The longest database name, in characters (ASCII only). */
export const databaseNameLengthMax = 64;
/** How many databases a cluster holds by default, the default one included (-db-count-max). */
export const databaseCountMaxDefault = 64;

const targetedMagic = 0x44;
const catalogMagic = 0x43;
const version = 1;
const namePattern = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;

type CatalogChange = 'create' | 'drop';

export type DatabaseEntry =
  | { readonly kind: 'targeted'; readonly name: string; readonly inner: Uint8Array }
  | { readonly kind: CatalogChange; readonly name: string };

/** Why `name` is not a database name, or undefined when it is one. */
export function databaseNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'database name is empty';
  if (name.length > databaseNameLengthMax) return `database name is longer than ${databaseNameLengthMax} characters`;
  if (!namePattern.test(name)) return 'database name may hold only A-Z, a-z, 0-9, _ and -, and may not start with -';
  return undefined;
}

function checkedName(name: string): Uint8Array {
  const problem = databaseNameProblem(name);
  if (problem !== undefined) throw new StateMachineError('BAD_COMMAND', `${problem}: ${JSON.stringify(name)}`);
  return new TextEncoder().encode(name);
}

/** The entry that runs `inner` (an encoded command) in database `name`. */
export function encodeTargetedEntry(name: string, inner: Uint8Array): Uint8Array {
  const nameBytes = checkedName(name);
  const data = new Uint8Array(3 + nameBytes.length + inner.length);
  data.set([targetedMagic, version, nameBytes.length]);
  data.set(nameBytes, 3);
  data.set(inner, 3 + nameBytes.length);
  return data;
}

/** The entry that creates or drops database `name`. */
export function encodeCatalogEntry(kind: CatalogChange, name: string): Uint8Array {
  const nameBytes = checkedName(name);
  const data = new Uint8Array(4 + nameBytes.length);
  data.set([catalogMagic, version, kind === 'create' ? 1 : 2, nameBytes.length]);
  data.set(nameBytes, 4);
  return data;
}

/**
 * The inner entry of a targeted entry, told by its magic and version only (undefined for
 * any other entry): what kind of work it is (a load's entry applies apart: load-entries.ts).
 */
export function targetedInner(data: Uint8Array): Uint8Array | undefined {
  if (data.length < 3 || data[0] !== targetedMagic || data[1] !== version) return undefined;
  return data.subarray(3 + (data[2] ?? 0));
}

/** Whether `data` is an entry of this file's (it then applies through the database catalog). */
export function isDatabaseEntry(data: Uint8Array): boolean {
  return data.length > 0 && (data[0] === targetedMagic || data[0] === catalogMagic);
}

function decodedName(data: Uint8Array, lengthAt: number): string {
  const length = data[lengthAt] ?? 0;
  if (data.length < lengthAt + 1 + length) throw new StateMachineError('BAD_COMMAND', 'database entry is truncated');
  const name = new TextDecoder().decode(data.subarray(lengthAt + 1, lengthAt + 1 + length));
  const problem = databaseNameProblem(name);
  if (problem !== undefined) throw new StateMachineError('BAD_COMMAND', `database entry: ${problem}`);
  return name;
}

/** Decodes an entry isDatabaseEntry() accepts; throws BAD_COMMAND on anything else. */
export function decodeDatabaseEntry(data: Uint8Array): DatabaseEntry {
  if (data[1] !== version) throw new StateMachineError('BAD_COMMAND', `database entry version ${data[1] ?? 'missing'} is not supported`);
  if (data[0] === targetedMagic) {
    const name = decodedName(data, 2);
    return { kind: 'targeted', name, inner: data.subarray(3 + name.length) };
  }
  if (data[0] !== catalogMagic) throw new StateMachineError('BAD_COMMAND', 'not a database entry');
  const kind = data[2];
  if (kind !== 1 && kind !== 2) throw new StateMachineError('BAD_COMMAND', `catalog entry kind ${kind ?? 'missing'} is not known`);
  if (data.length !== 4 + (data[3] ?? 0)) throw new StateMachineError('BAD_COMMAND', 'catalog entry has the wrong length');
  return { kind: kind === 1 ? 'create' : 'drop', name: decodedName(data, 3) };
}

/** The error text a statement for a database that does not exist answers (HTTP 404 before the log, a result after it). */
export function unknownDatabaseMessage(name: string): string {
  return `database ${JSON.stringify(name)} does not exist`;
}
