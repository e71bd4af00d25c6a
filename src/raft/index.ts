/** The Raft consensus core: a pure state machine. See raw-node.ts and the Ready type. */
export { RawNode } from './raw-node.js';
export { MemoryStorage } from './memory-storage.js';
export { RaftError } from './errors.js';
export {
  applyConfChange,
  confChangeProblem,
  decodeConfChange,
  encodeConfChange,
  confChangeContextBytesMax,
  nodeIdBytesMax,
} from './conf-change.js';
export { RaftStorageError } from './types.js';
export type * from './types.js';
