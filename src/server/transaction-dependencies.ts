import type { NodeInteractiveTransactions } from '../node/interactive-transactions.js';
import { defaultTransactionLimits } from '../node/transaction-registry.js';
import type { QuorumNodeOptions } from './quorum-node.js';

/** The interactive transactions' dependencies: the node's parts, its random source and the bounds the options give. */
export function transactionDependencies(
  options: QuorumNodeOptions,
  parts: Omit<ConstructorParameters<typeof NodeInteractiveTransactions>[0], 'random' | 'limits'>,
): ConstructorParameters<typeof NodeInteractiveTransactions>[0] {
  return { ...parts, random: options.random ?? Math.random, limits: { ...defaultTransactionLimits, ...options.transactionLimits } };
}
