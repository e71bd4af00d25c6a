/**
 * quorumlite's package entry (`import { QuorumNode } from 'quorumlite'`): what a program
 * needs to run a node in-process. The client is its own entry, `quorumlite/client`.
 *
 * The public API, chosen name by name:
 * - QuorumNode, QuorumNodeOptions: start a node (`QuorumNode.start(options)`), read the
 *   address its HTTP API listens on, stop it; defaultClusterId when options name none.
 *   The `http` and `transportLimits` options are partial overrides of the HTTP server's
 *   and the peer transport's bounds (QuorumNodeOptions['http'] names their shape); the
 *   entry does not import those layers itself.
 * - NodeConfig, NodeConfigInput, resolveNodeConfig, nodeConfigDefaults: the node's
 *   identity, addresses, timing and bounds, and how options become a checked config.
 * - NodeLogger, silentLogger: the logging surface a node writes to (pino's shape).
 * - ServiceError, ServiceErrorCode, isServiceError: what a node's calls reject with, by
 *   machine-readable code.
 * - NodeId: a node's id.
 * Nothing of the Raft core, the storage, the transport or the state machine is exported:
 * those are internals and may change in any release.
 */
export { QuorumNode, defaultClusterId, type QuorumNodeOptions } from './server/quorum-node.js';
export { resolveNodeConfig, nodeConfigDefaults, type NodeConfig, type NodeConfigInput } from './node/config.js';
export { silentLogger, type NodeLogger } from './node/logger.js';
export { ServiceError, isServiceError, type ServiceErrorCode } from './service/service.js';
export type { NodeId } from './raft/types.js';
