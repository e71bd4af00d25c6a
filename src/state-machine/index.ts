/** The SQLite state machine's public surface, for the node runtime and the HTTP layer. */
export { SqliteStateMachine, applyBatchEntryCountMax, stateMachineDefaults } from './state-machine.js';
export type {
  ApplyOutcome, BatchEntry, DeterminismMode, RestoreStep, SnapshotInfo, StateMachineOptions, StateMachineStatus,
} from './state-machine.js';
export { encodeCommand, decodeCommand, commandLimits, commandVersion } from './command-codec.js';
export { validateForWrite, internalNamePrefix } from './sql-policy.js';
export { StateMachineError, StateMachineHaltedError } from './errors.js';
export type { StateMachineErrorCode } from './errors.js';
export type { ContentChecksum } from './checksum.js';
export { sqlLiteral } from './dump.js';
export { splitSqlStatements } from '../common/sql-statements.js';
export { randomBlobBytesMax } from './deterministic-functions.js';
export type { Command, SqlResultValue, SqlValue, Statement, StatementResult } from './types.js';
