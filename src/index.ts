export type * from './raft/types.js';
