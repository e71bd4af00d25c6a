/**
 * Membership changes: the binary encoding of a ConfChange inside a 'conf-change' entry,
 * and the pure function that applies one to a ConfState.
 *
 * Encoding, version 1 (all integers big-endian):
 *   u8 version (1) | u8 type (1 add-voter, 2 add-learner, 3 remove-node)
 *   | u16 nodeId byte length | nodeId UTF-8 | u32 context length | context bytes
 */
import { RaftError } from './errors.js';
import type { ConfChange, ConfChangeType, ConfState, NodeId } from './types.js';

const confChangeVersion = 1;
const confChangeTypeCodes: readonly ConfChangeType[] = ['add-voter', 'add-learner', 'remove-node'];
/** Node ids are short names; this bounds what a decoder accepts. */
export const nodeIdBytesMax = 1024;
/** The context carries a member's addresses; this bounds what a decoder accepts. */
export const confChangeContextBytesMax = 64 * 1024;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export function encodeConfChange(change: ConfChange): Uint8Array {
  const typeCode = confChangeTypeCodes.indexOf(change.type);
  if (typeCode < 0) throw new RaftError('INVALID_ARGUMENT', `unknown conf change type ${String(change.type)}`);
  const idBytes = textEncoder.encode(change.nodeId);
  if (idBytes.length === 0 || idBytes.length > nodeIdBytesMax) {
    throw new RaftError('INVALID_ARGUMENT', `node id must be 1..${nodeIdBytesMax} bytes, got ${idBytes.length}`);
  }
  if (change.context.length > confChangeContextBytesMax) {
    throw new RaftError('INVALID_ARGUMENT', `conf change context exceeds ${confChangeContextBytesMax} bytes`);
  }
  const out = new Uint8Array(2 + 2 + idBytes.length + 4 + change.context.length);
  const view = new DataView(out.buffer);
  out[0] = confChangeVersion;
  out[1] = typeCode + 1;
  view.setUint16(2, idBytes.length);
  out.set(idBytes, 4);
  view.setUint32(4 + idBytes.length, change.context.length);
  out.set(change.context, 8 + idBytes.length);
  return out;
}

export function decodeConfChange(bytes: Uint8Array): ConfChange {
  const fail = (why: string): never => {
    throw new RaftError('INVALID_ARGUMENT', `malformed conf change: ${why}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short`);
  if (bytes[0] !== confChangeVersion) fail(`unsupported version ${String(bytes[0])}`);
  const type = confChangeTypeCodes[(bytes[1] ?? 0) - 1] ?? fail(`unknown type code ${String(bytes[1])}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idLength = view.getUint16(2);
  if (idLength === 0 || idLength > nodeIdBytesMax) fail(`node id length ${idLength}`);
  if (bytes.length < 8 + idLength) fail('truncated node id');
  let nodeId = '';
  try {
    nodeId = textDecoder.decode(bytes.subarray(4, 4 + idLength));
  } catch (cause) {
    fail(`node id is not UTF-8 (${String(cause)})`);
  }
  const contextLength = view.getUint32(4 + idLength);
  if (contextLength > confChangeContextBytesMax) fail(`context length ${contextLength}`);
  if (bytes.length !== 8 + idLength + contextLength) fail(`length ${bytes.length} does not match its fields`);
  const context = bytes.slice(8 + idLength);
  return { type, nodeId, context };
}

/** The membership after `change`. Deterministic and total: followers apply what the leader appended. */
export function applyConfChange(confState: ConfState, change: ConfChange): ConfState {
  const voters = confState.voters.filter((id) => id !== change.nodeId);
  const learners = confState.learners.filter((id) => id !== change.nodeId);
  if (change.type === 'add-voter') voters.push(change.nodeId);
  if (change.type === 'add-learner') learners.push(change.nodeId);
  return { voters: sortedIds(voters), learners: sortedIds(learners) };
}

/**
 * Why `change` is refused against `confState`, or undefined if it is acceptable.
 * A leader checks this before appending the change.
 *
 * Re-adding a member in the role it already has changes no membership. Without a context
 * it is a mistake and refused; with one it re-states the member's context (the runtime
 * keeps a member's addresses there, so this is how a member that moved announces its new
 * addresses through the log) and is accepted.
 */
export function confChangeProblem(confState: ConfState, change: ConfChange): string | undefined {
  const isVoter = confState.voters.includes(change.nodeId);
  const isLearner = confState.learners.includes(change.nodeId);
  const restatesContext = change.context.byteLength > 0;
  if (change.type === 'add-voter' && isVoter && !restatesContext) return `${change.nodeId} is already a voter`;
  if (change.type === 'add-learner' && isVoter) return `${change.nodeId} is a voter; demotion is not supported`;
  if (change.type === 'add-learner' && isLearner && !restatesContext) return `${change.nodeId} is already a learner`;
  if (change.type === 'remove-node' && !isVoter && !isLearner) return `${change.nodeId} is not a member`;
  if (change.type === 'remove-node' && isVoter && confState.voters.length === 1) {
    return `${change.nodeId} is the last voter`;
  }
  return undefined;
}

export function sortedIds(ids: readonly NodeId[]): NodeId[] {
  return [...new Set(ids)].sort(compareIds);
}

/** Numeric-looking ids sort numerically ('2' < '10'), others lexically. */
export function compareIds(a: NodeId, b: NodeId): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b) && a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
