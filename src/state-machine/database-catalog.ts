/**
 * The extra databases of a node (docs/ARCHITECTURE.md, "Several databases"): one
 * SqliteStateMachine each, with its own file pair and applied marker, under
 * `databases/NAME/`. Each applies only the entries addressed to it (sparse indexes), so
 * replay after a crash skips, per database, what its own marker says it has; creates and
 * drops are log entries, applied here at their index on every node.
 *
 * The rule that makes replay exact: an entry at index i for database X is skipped when X
 * exists and its applied index is at least i. A create at i finding X at >= i is this
 * very create (or a snapshot copy taken after it); finding X below i, an earlier one.
 */
import Database from 'better-sqlite3';
import { readFileSync, rmSync } from 'node:fs';
import { SqliteStateMachine } from './state-machine.js';
import {
  creatingDirectory,
  databaseFile,
  databaseNamesOnDisk,
  databasesDirectory,
  databasesTable,
  databasesTableSql,
  publishCreated,
  removeDatabaseFiles,
  settleDatabasesDirectory,
} from './database-catalog-files.js';
import { defaultDatabaseName, unknownDatabaseMessage, type DatabaseEntry } from './database-entries.js';
import { fsyncPath } from './files.js';
import type { StateMachineOptions } from './options.js';
import type { ApplyOutcome } from './types.js';

function failed(index: number, message: string): ApplyOutcome {
  return { entryIndex: index, results: [{ kind: 'error', error: message }], deduplicated: false, skipped: false };
}

function succeeded(index: number, skipped: boolean): ApplyOutcome {
  return { entryIndex: index, results: [], deduplicated: false, skipped };
}

export class DatabaseCatalog {
  readonly #defaultPath: string;
  readonly #directory: string;
  readonly #options: Omit<StateMachineOptions, 'path'>;
  /** Databases in all, the default one included (must be equal on every node). */
  readonly #countMax: number;
  readonly #databases = new Map<string, SqliteStateMachine>();

  constructor(defaultPath: string, options: Omit<StateMachineOptions, 'path'>, countMax: number) {
    this.#defaultPath = defaultPath;
    this.#directory = databasesDirectory(defaultPath);
    this.#options = options;
    this.#countMax = countMax;
    this.open();
  }

  /** Opens every database the directory holds (after settling what a crash left: database-catalog-files.ts). */
  open(): void {
    settleDatabasesDirectory(this.#defaultPath);
    for (const name of databaseNamesOnDisk(this.#directory)) this.#databases.set(name, this.#machine(name));
  }

  #machine(name: string, path = databaseFile(this.#directory, name)): SqliteStateMachine {
    return new SqliteStateMachine({ ...this.#options, path, sparseEntries: true });
  }

  /** Every database's name, the default one first, the others sorted. */
  names(): string[] {
    return [defaultDatabaseName, ...[...this.#databases.keys()].sort()];
  }

  get countMax(): number {
    return this.#countMax;
  }

  /** The extra database `name`, or undefined (the default one is not here). */
  get(name: string): SqliteStateMachine | undefined {
    return this.#databases.get(name);
  }

  /** Applies a database entry's own part at `index` (the default database then advances past it). */
  apply(index: number, entry: DatabaseEntry): ApplyOutcome {
    if (entry.kind !== 'targeted') return entry.kind === 'create' ? this.#create(index, entry.name) : this.#drop(index, entry.name);
    const machine = this.#databases.get(entry.name);
    if (machine === undefined) return failed(index, unknownDatabaseMessage(entry.name));
    return machine.apply(index, entry.inner);
  }

  #create(index: number, name: string): ApplyOutcome {
    const existing = this.#databases.get(name);
    if (existing !== undefined && existing.appliedIndex >= index) return succeeded(index, true);
    if (existing !== undefined || name === defaultDatabaseName) return failed(index, `database ${JSON.stringify(name)} already exists`);
    if (this.#databases.size + 1 >= this.#countMax) return failed(index, `too many databases: at most ${this.#countMax}`);
    // Built aside and renamed into place: a crash before the rename leaves no database of that name.
    const built = this.#machine(name, databaseFile(creatingDirectory(this.#directory, name), ''));
    try {
      built.applyNoop(index);
    } finally {
      built.close();
    }
    publishCreated(this.#directory, name);
    this.#databases.set(name, this.#machine(name));
    return succeeded(index, false);
  }

  #drop(index: number, name: string): ApplyOutcome {
    if (name === defaultDatabaseName) return failed(index, 'the default database cannot be dropped');
    const existing = this.#databases.get(name);
    if (existing === undefined) return failed(index, unknownDatabaseMessage(name));
    if (existing.appliedIndex >= index) return succeeded(index, true);
    existing.close();
    this.#databases.delete(name);
    removeDatabaseFiles(this.#directory, name);
    return succeeded(index, false);
  }

  /**
   * Adds every extra database to the snapshot file `path` (an export of the internal
   * state, or a one-file snapshot) as a table of one-file copies. Called after the default
   * database's capture at N: each copy is at N or later, which replay handles (its own
   * marker skips what it has).
   */
  async addToSnapshot(path: string): Promise<void> {
    const images: [string, Uint8Array][] = [];
    for (const [name, machine] of [...this.#databases]) {
      const copyPath = `${path}.db-${name}`;
      try {
        await machine.snapshot(copyPath);
        images.push([name, readFileSync(copyPath)]);
      } finally {
        rmSync(copyPath, { force: true });
      }
    }
    const file = new Database(path);
    try {
      file.transaction(() => {
        file.exec(`DROP TABLE IF EXISTS ${databasesTable}`);
        file.exec(databasesTableSql);
        const insert = file.prepare(`INSERT INTO ${databasesTable} (name, image) VALUES (?, ?)`);
        for (const [name, image] of images) insert.run(name, image);
      })();
    } finally {
      file.close();
    }
    fsyncPath(path, 'r+');
  }

  close(): void {
    for (const machine of this.#databases.values()) machine.close();
    this.#databases.clear();
  }
}
