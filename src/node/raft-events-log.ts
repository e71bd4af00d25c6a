/**
 * The Raft core's events in the node's log, each at a level that says how much an
 * operator cares, so rqlited's -raft-log-level (the Raft subsystem's own level) means
 * something: role changes and leadership moves at info, the core protecting itself from
 * bad input or a full queue at warn, the rest (votes ignored, snapshots deferred) at debug.
 */
import type { RaftLogEvent } from '../raft/types.js';
import type { NodeLogger } from './logger.js';

const infoEvents = new Set([
  'became-leader',
  'became-follower',
  'became-candidate',
  'became-pre-candidate',
  'leader-transfer-started',
  'leader-transfer-aborted',
  'check-quorum-failed',
  'stepped-down-after-removal',
  'restored-snapshot',
]);

const warnEvents = new Set(['message-queue-full', 'ignored-malformed-message', 'ignored-foreign-message', 'ignored-second-leader']);

export function logRaftEvent(logger: NodeLogger, event: RaftLogEvent): void {
  const fields = { ...event, raftEvent: event.event };
  if (warnEvents.has(event.event)) logger.warn(fields, 'raft');
  else if (infoEvents.has(event.event)) logger.info(fields, 'raft');
  else logger.debug(fields, 'raft');
}
