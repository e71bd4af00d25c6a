/**
 * Applying an interactive transaction's commit (docs/ARCHITECTURE.md, "Interactive
 * transactions"), on every node alike: its statements run in order inside a savepoint of
 * the entry's transaction, each with the transaction's 'now' and its own seed
 * (transaction-replay.ts), and each result's hash is compared with the one the leader's
 * preview recorded. All equal: the savepoint is released and the transaction is applied
 * at this log position, which is what makes it serializable. One differs: everything is
 * rolled back and the commit's one result is the conflict (HTTP 409 TX_CONFLICT).
 */
import type { Connections } from './connections.js';
import type { DeterministicFunctions } from './deterministic-functions.js';
import { conflictResult, resultHash, runTransactionStatement, sameHash, transactionMissingCode, type ReplayContext } from './transaction-replay.js';
import type { Command, InteractiveCommit, StatementResult } from './types.js';

/** A statement's ROLLBACK conflict resolution ended the entry's transaction (a schema from before quorumlite refused it). */
export const transactionEnded = Symbol('transaction ended');

/**
 * Runs the commit in the entry's open transaction. Returns the commit's results — none
 * when it applied, one conflict or missing result when it did not — or `transactionEnded`.
 */
export function applyInteractiveCommit(
  connections: Connections,
  command: Command,
  interactive: InteractiveCommit,
  functions: DeterministicFunctions | undefined,
): StatementResult[] | typeof transactionEnded {
  if (interactive.missing) {
    return [{ kind: 'error', error: 'the transaction is unknown to the leader and its commit never applied', sqliteCode: transactionMissingCode }];
  }
  const context: ReplayContext = { runner: connections.applyRunner, functions, timestampMs: interactive.timestampMs, seed: command.seed };
  connections.control.savepoint.run();
  for (const [position, statement] of command.statements.entries()) {
    const result = runTransactionStatement(context, statement, position, false);
    if (!connections.apply.inTransaction) return transactionEnded;
    if (!sameHash(resultHash(result), interactive.resultHashes[position])) {
      connections.control.rollbackToSavepoint.run();
      connections.control.releaseSavepoint.run();
      return [conflictResult(position)];
    }
  }
  connections.control.releaseSavepoint.run();
  return [];
}
