/** The Raft consensus core: a pure state machine. See raw-node.ts and the Ready type. */
export { RawNode } from './raw-node.js';
export { MemoryStorage } from './memory-storage.js';
export type { MemoryStorageOptions } from './memory-storage.js';
export { RaftError } from './errors.js';
export type { RaftErrorCode } from './errors.js';
export {
  applyConfChange,
  confChangeProblem,
  decodeConfChange,
  encodeConfChange,
  CONF_CHANGE_CONTEXT_BYTES_MAX,
  NODE_ID_BYTES_MAX,
} from './conf-change.js';
export {
  DEFAULT_LEASE_DRIFT_TICKS,
  DEFAULT_MAX_COMMITTED_BYTES_PER_READY,
  DEFAULT_MAX_QUEUED_MESSAGES,
  validateConfig,
} from './config.js';
export { RaftStorageError, MESSAGE_TYPES } from './types.js';
export type * from './types.js';
