/**
 * The shape of messages the core accepts. The network may deliver anything; the core
 * must not crash on it, so step() drops what fails this cheap check.
 */
import { messageTypes } from './types.js';
import type { Entry, Message, Snapshot } from './types.js';

/** The context or data of a message or entry that carries none. */
export const emptyBytes = new Uint8Array(0);

const numberFields = ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const;

/** A cheap shape check: the network may deliver anything; the core must not crash on it. */
export function isWellFormed(message: Message): boolean {
  if (typeof message !== 'object' || message === null) return false;
  if (!messageTypes.includes(message.type)) return false;
  if (typeof message.from !== 'string' || typeof message.to !== 'string') return false;
  for (const field of numberFields) {
    const value = message[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) return false;
  }
  if (!Array.isArray(message.entries) || !(message.context instanceof Uint8Array)) return false;
  if (typeof message.reject !== 'boolean') return false;
  if (!message.entries.every((entry, i) => isWellFormedEntry(entry, message.index + 1 + i, message.term))) return false;
  return message.type !== 'MsgSnap' || isWellFormedSnapshot(message.snapshot);
}

/** Entries of a MsgApp follow its previous index contiguously and are not from a later term. */
function isWellFormedEntry(entry: Entry, index: number, messageTerm: number): boolean {
  if (typeof entry !== 'object' || entry === null) return false;
  if (entry.index !== index || !Number.isSafeInteger(entry.term) || entry.term < 1 || entry.term > messageTerm) return false;
  return (entry.type === 'normal' || entry.type === 'conf-change') && entry.data instanceof Uint8Array;
}

function isWellFormedSnapshot(snapshot: Snapshot | undefined): boolean {
  if (typeof snapshot !== 'object' || snapshot === null) return false;
  const metadata = snapshot.metadata;
  if (typeof metadata !== 'object' || metadata === null) return false;
  if (!Number.isSafeInteger(metadata.index) || !Number.isSafeInteger(metadata.term) || metadata.index < 1) return false;
  const confState = metadata.confState;
  if (typeof confState !== 'object' || confState === null) return false;
  if (!Array.isArray(confState.voters) || !Array.isArray(confState.learners)) return false;
  return snapshot.data instanceof Uint8Array;
}

/**
 * Messages that tell the receiver what this node has made durable: an append response
 * (its log holds the entries) and vote responses (its term and vote). With asynchronous
 * storage writes they leave only after the save covering them completes.
 */
export function isDurabilityAcknowledgement(message: Message): boolean {
  return message.type === 'MsgAppResp' || message.type === 'MsgVoteResp' || message.type === 'MsgPreVoteResp';
}
