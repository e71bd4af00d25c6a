/**
 * The service the HTTP API calls: the cluster service (writes, reads, cluster endpoints)
 * with the database transfers (backups, loads, boot, snapshots), the interactive
 * transactions and the embedded replicas' feed beside it. Four objects of
 * one contract, each with its own concern, delegated to explicitly.
 */
import type { NodeClusterService } from '../node/cluster-service.js';
import type { NodeDatabaseTransfers } from '../node/database-transfers.js';
import type { NodeInteractiveTransactions } from '../node/interactive-transactions.js';
import type { NodeLogStreams } from '../node/log-streams.js';
import { ServiceError, type ClusterService } from '../service/service.js';

export function apiService(
  cluster: NodeClusterService,
  transfers: NodeDatabaseTransfers,
  transactions: NodeInteractiveTransactions,
  logStreams: Pick<NodeLogStreams, 'openLogStream' | 'openDatabaseCopy'>,
): ClusterService {
  return {
    execute: (request, context) => cluster.execute(request, context),
    query: (request, context) => cluster.query(request, context),
    request: (request, context) => cluster.request(request, context),
    status: (request, context) => cluster.status(request, context),
    nodes: (request) => cluster.nodes(request),
    leader: (request) => cluster.leader(request),
    stepDown: (request, context) => cluster.stepDown(request, context),
    remove: (request, context) => cluster.remove(request, context),
    readiness: (request) => cluster.readiness(request),
    metrics: () => cluster.metrics(),
    counters: () => cluster.counters(),
    backup: (request) => transfers.backup(request),
    load: (request, body, context) => transfers.load(request, body, context),
    boot: (request, body) => transfers.boot(request, body),
    snapshot: (request) => transfers.snapshot(request),
    reap: (context) => transfers.reap(context),
    beginTransaction: (request, context) => transactions.beginTransaction(request, context),
    transactionStatements: (request, context) => transactions.transactionStatements(request, context),
    endTransaction: (request, context) => transactions.endTransaction(request, context),
    openLogStream: (request) => logStreams.openLogStream(request),
    openDatabaseCopy: (request) => logStreams.openDatabaseCopy(request),
    changeDatabase: (request, context) => cluster.changeDatabase(request, context),
    listDatabases: () => cluster.listDatabases(),
  };
}

/** The replicas' feed where a node has none (it reads the embedded Raft's log files): every request refused, saying why. */
export function refusedLogStreams(why: string): Pick<NodeLogStreams, 'openLogStream' | 'openDatabaseCopy'> {
  const refusal = (): Promise<never> => Promise.reject(new ServiceError('BAD_REQUEST', `the embedded replicas' feed is not available with ${why}`));
  return { openLogStream: refusal, openDatabaseCopy: refusal };
}
