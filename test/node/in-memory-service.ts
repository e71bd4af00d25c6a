/**
 * The node's NodeClusterService over an in-memory runtime (in-memory-runtime.ts), with
 * the runtime's own command encoders and no membership: what the service-level node
 * tests share. `config` overrides node settings for the service alone (its write queue).
 */
import { NodeClusterService } from '../../src/node/cluster-service.js';
import type { NodeConfig } from '../../src/node/config.js';
import type { InMemoryRuntime } from './in-memory-runtime.js';

export function serviceFor(node: InMemoryRuntime, config: Partial<NodeConfig> = {}): NodeClusterService {
  const { runtime, stateMachine, transport, scheduler } = node;
  return new NodeClusterService(
    {
      config: { ...node.config, ...config },
      log: runtime,
      database: stateMachine,
      peers: transport,
      scheduler,
      membership: { removeMember: () => Promise.reject(new Error('not used')) },
      encodeCommand: (statements, transaction, requestId, qualifyColumns) => runtime.encodeCommandFor(statements, transaction, requestId, qualifyColumns),
      encodeQueuedBatch: (requests, transaction, batchId) => runtime.encodeQueuedBatchFor(requests, transaction, batchId),
    },
    { version: 'test', isReadOnly: (candidate) => /^\s*select/i.test(candidate.sql) },
  );
}
