/**
 * Several databases per cluster, the service side (docs/ARCHITECTURE.md, "Several
 * databases"): `POST /db/create` and `POST /db/drop` become catalog log entries on the
 * leader (a follower forwards them), `GET /db/list` answers from what this node applied,
 * and writes to another database are wrapped in a targeted entry. Refusals:
 * - a bad name: BAD_REQUEST (400) before anything is proposed;
 * - a database that does not exist: NOT_FOUND (404) — checked on the leader before the
 *   proposal, and again when the entry applies (a drop may come between);
 * - a create of an existing name, or past -db-count-max: DB_CONFLICT (409);
 * - a drop of the default database: BAD_REQUEST (400).
 */
import { ServiceError, type CallContext, type DatabaseChangeRequest, type DatabaseList } from '../service/service.js';
import {
  databaseNameProblem,
  defaultDatabaseName,
  encodeCatalogEntry,
  encodeTargetedEntry,
  unknownDatabaseMessage,
} from '../state-machine/database-entries.js';
import type { StatementResult } from '../state-machine/types.js';
import type { LeaderRouting } from './leader-routing.js';
import { peerMethods, type PeerTransport } from './peer-calls.js';
import type { ReplicatedLog } from './replicated-log.js';

/** The databases a node's state machine holds (MultiDatabaseMachine.catalog). */
export interface DatabaseNames {
  names(): string[];
  readonly countMax: number;
}

interface CatalogDependencies {
  readonly log: ReplicatedLog;
  readonly peers: PeerTransport;
  readonly routing: LeaderRouting;
  readonly catalog: DatabaseNames;
  readonly applyTimeoutMs: number;
}

/** `?db=NAME` checked: undefined for the default database, the name otherwise; BAD_REQUEST for a bad name. */
export function checkedDatabase(name: string | null | undefined): string | undefined {
  // A forwarded request's absent field may arrive as null (the peer codec).
  if (name === undefined || name === null || name === defaultDatabaseName) return undefined;
  const problem = databaseNameProblem(name);
  if (problem !== undefined) throw new ServiceError('BAD_REQUEST', `${problem}: ${JSON.stringify(name)}`);
  return name;
}

/** The service error for a catalog entry's error result (database-catalog.ts words them). */
function refusal(result: StatementResult | undefined): ServiceError | undefined {
  if (result === undefined || result.kind !== 'error') return undefined;
  if (result.error.endsWith('does not exist')) return new ServiceError('NOT_FOUND', result.error);
  if (result.error.startsWith('the default database')) return new ServiceError('BAD_REQUEST', result.error);
  return new ServiceError('DB_CONFLICT', result.error);
}

export class NodeDatabaseCatalog {
  readonly #dependencies: CatalogDependencies;

  constructor(dependencies: CatalogDependencies) {
    this.#dependencies = dependencies;
  }

  async changeDatabase(request: DatabaseChangeRequest, context: CallContext): Promise<{ readonly raftIndex: number }> {
    const name = request.name;
    const problem = databaseNameProblem(name);
    if (problem !== undefined) throw new ServiceError('BAD_REQUEST', `${problem}: ${JSON.stringify(name)}`);
    if (request.change === 'drop' && name === defaultDatabaseName) throw new ServiceError('BAD_REQUEST', 'the default database cannot be dropped');
    const { routing, log, applyTimeoutMs } = this.#dependencies;
    const leaderId = routing.leaderOrRefuse(request.forward);
    if (leaderId !== undefined) return routing.forward(leaderId, peerMethods.database, request, context);
    const outcome = await log.propose(encodeCatalogEntry(request.change, name), Math.min(request.timeoutMs, applyTimeoutMs));
    const refused = refusal(outcome.results[0]);
    if (refused !== undefined) throw refused;
    return { raftIndex: outcome.index };
  }

  listDatabases(): Promise<DatabaseList> {
    const catalog = this.#dependencies.catalog;
    return Promise.resolve({ databases: catalog.names(), countMax: catalog.countMax });
  }

  /** On the leader, before a write to `database` is proposed: NOT_FOUND for a database it has not applied a create of. */
  assertExists(database: string | undefined): void {
    if (database !== undefined && !this.#dependencies.catalog.names().includes(database)) {
      throw new ServiceError('NOT_FOUND', unknownDatabaseMessage(database));
    }
  }

  /** A write's entry for `database` (the default database's entries are left as they are). */
  static wrap(database: string | undefined, data: Uint8Array): Uint8Array {
    return database === undefined ? data : encodeTargetedEntry(database, data);
  }
}
