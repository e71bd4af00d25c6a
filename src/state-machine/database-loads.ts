/**
 * Loads of several databases (docs/ARCHITECTURE.md, "Several databases"): a load of
 * database X is the default database's load entries (load-entries.ts), each in the
 * targeted envelope naming X (database-entries.ts). They stage and commit in X's own
 * MachineLoads, beside X's file; the default database then applies each index as a no-op,
 * exactly as for a targeted command. So a commit swaps X's file alone, and the rule that
 * makes replay exact is the one of every targeted entry: X skips what its applied index
 * holds, the default database what its own holds. A kill -9 mid-commit leaves X as a
 * restore leaves a database (old or new, never half), and replay finishes it.
 */
import { decodeDatabaseEntry, defaultDatabaseName, targetedInner, unknownDatabaseMessage } from './database-entries.js';
import type { DatabaseCatalog } from './database-catalog.js';
import { StateMachineHaltedError } from './errors.js';
import type { LoadApplier } from './machine-loads.js';
import type { OpenLoad } from './load-staging.js';
import type { ApplyOutcome } from './types.js';

type LoadEntryData = { readonly index: number; readonly data: Uint8Array };

/** What routing needs of the default database's machine. */
interface DefaultDatabase {
  readonly loads: LoadApplier;
  readonly appliedIndex: number;
  applyNoop(index: number): ApplyOutcome;
}

/** Consecutive entries split into runs of one database each (undefined: the default one). */
function runsByDatabase(entries: readonly LoadEntryData[], index: number): { readonly database: string | undefined; readonly entries: LoadEntryData[] }[] {
  const runs: { database: string | undefined; entries: LoadEntryData[] }[] = [];
  for (const entry of entries) {
    let database: string | undefined;
    if (targetedInner(entry.data) !== undefined) {
      try {
        database = decodeDatabaseEntry(entry.data).name;
      } catch (error) {
        throw new StateMachineHaltedError(entry.index, 'BAD_COMMAND', error instanceof Error ? error.message : String(error), { cause: error });
      }
    }
    const last = runs.at(-1);
    if (last !== undefined && last.database === database) last.entries.push(entry);
    else runs.push({ database, entries: [entry] });
  }
  if (runs.length === 0) throw new RangeError(`no load entries to route after ${index}`);
  return runs;
}

export class DatabaseLoads implements LoadApplier {
  readonly #main: DefaultDatabase;
  readonly #defaultLoads: LoadApplier;
  readonly #catalog: () => DatabaseCatalog;

  constructor(main: DefaultDatabase, defaultLoads: LoadApplier, catalog: () => DatabaseCatalog) {
    this.#main = main;
    this.#defaultLoads = defaultLoads;
    this.#catalog = catalog;
  }

  /** The default database's open load, else the first other database's (named). */
  get openLoad(): OpenLoad | undefined {
    const open = this.#defaultLoads.openLoad;
    if (open !== undefined) return open;
    return this.openLoads()[0];
  }

  /** Every open load of another database, each naming its database. */
  openLoads(): OpenLoad[] {
    const catalog = this.#catalog();
    const found: OpenLoad[] = [];
    for (const name of catalog.names().slice(1)) {
      const open = catalog.get(name)?.loads.openLoad;
      if (open !== undefined) found.push({ ...open, database: name });
    }
    return found;
  }

  /** The open load of `database` (absent or `main`: the default one). */
  openLoadOf(database: string | undefined): OpenLoad | undefined {
    if (database === undefined || database === defaultDatabaseName) return this.#defaultLoads.openLoad;
    const open = this.#catalog().get(database)?.loads.openLoad;
    return open === undefined ? undefined : { ...open, database };
  }

  /** `/boot` of another database: named as beginning at its own applied index (kept open across a crash, as the default's is). */
  adopt(path: string, loadId: string, beginIndex: number, database?: string): void {
    if (database === undefined || database === defaultDatabaseName) {
      this.#defaultLoads.adopt(path, loadId, beginIndex);
      return;
    }
    const machine = this.#catalog().get(database);
    if (machine === undefined) throw new RangeError(unknownDatabaseMessage(database));
    machine.loads.adopt(path, loadId, machine.appliedIndex);
  }

  /** The default database's staged files; another database's go with its directory (a restore replaces it). */
  discardAll(): void {
    this.#defaultLoads.discardAll();
  }

  async apply(entries: readonly LoadEntryData[]): Promise<ApplyOutcome[]> {
    const outcomes: ApplyOutcome[] = [];
    for (const run of runsByDatabase(entries, this.#main.appliedIndex)) {
      if (run.database === undefined) outcomes.push(...(await this.#defaultLoads.apply(run.entries)));
      else for (const entry of run.entries) outcomes.push(await this.#applyTargeted(run.database, entry));
    }
    return outcomes;
  }

  /**
   * One entry of a load of `database`: in that database first (alone: its indexes are
   * sparse, so a run of them is no batch there), then the default database's no-op.
   */
  async #applyTargeted(database: string, entry: LoadEntryData): Promise<ApplyOutcome> {
    if (entry.index <= this.#main.appliedIndex) return { entryIndex: entry.index, results: [], deduplicated: false, skipped: true };
    const machine = this.#catalog().get(database);
    if (machine === undefined) {
      this.#main.applyNoop(entry.index);
      return { entryIndex: entry.index, results: [{ kind: 'error', error: unknownDatabaseMessage(database) }], deduplicated: false, skipped: false };
    }
    const [outcome] = await machine.loads.apply([{ index: entry.index, data: targetedInner(entry.data) as Uint8Array }]);
    this.#main.applyNoop(entry.index);
    return { entryIndex: entry.index, results: outcome?.results ?? [], deduplicated: false, skipped: false };
  }
}
