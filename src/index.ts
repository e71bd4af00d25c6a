/**
 * quorumlite's public entry point: run a node in-process, or use the shared types.
 * The client lives at `quorumlite/client`.
 */
export type * from './raft/types.js';
export { QuorumNode, defaultClusterId, type QuorumNodeOptions } from './server/quorum-node.js';
export { resolveNodeConfig, nodeConfigDefaults, type NodeConfig, type NodeConfigInput } from './node/config.js';
export type { NodeLogger } from './node/logger.js';
export { silentLogger } from './node/logger.js';
