/**
 * Turns a save request into checked, encoded operations against a projection of the
 * log (the durable state plus saves still queued). Nothing here touches the disk; a
 * request that fails a check leaves the projection unchanged and writes nothing.
 */
import type { ConfState, Entry, EntryType, HardState, Snapshot } from '../raft/types.js';
import { StorageError } from './errors.js';
import { RecordKind, encodeEntryRecord, encodeMetadataRecord, type SnapshotRecord } from './record-format.js';
import { validateConfState, validateSnapshotMetadata } from './snapshot-store.js';

export interface SaveRequest {
  /** Persisted after this request's snapshot and entries. */
  readonly hardState?: HardState;
  /** Entries to append; one that starts at or below the last index replaces the suffix from there. */
  readonly entries?: readonly Entry[];
  /**
   * A received snapshot to install: the log is reset to it. Its data may be empty if the
   * snapshot store already holds (index, term), e.g. after streaming it in; otherwise the
   * data is written to the snapshot store first.
   */
  readonly snapshot?: Snapshot;
  /** Current membership, so initialState() returns it after a restart. */
  readonly confState?: ConfState;
}

export type Operation =
  | { readonly kind: 'entry'; readonly index: number; readonly term: number; readonly entryType: EntryType; readonly record: Buffer }
  | { readonly kind: 'hardState'; readonly value: HardState; readonly record: Buffer }
  | { readonly kind: 'confState'; readonly value: ConfState; readonly record: Buffer }
  | { readonly kind: 'compact'; readonly index: number; readonly term: number; readonly record: Buffer }
  | { readonly kind: 'snapshot'; readonly value: SnapshotRecord; readonly inlineData: Uint8Array | null; readonly record: Buffer };

export interface Projection {
  lastIndex: number;
  lastTerm: number;
  compactIndex: number;
  hardState: HardState;
}

interface PlanLimits {
  readonly entryBytesMax: number;
  readonly saveBytesMax: number;
  readonly metadataRecordBytesMax: number;
  readonly snapshotBytesMax: number;
}

export interface PlanContext {
  readonly limits: PlanLimits;
  /** Durable term of an index, or undefined if unknown or about to change (saves queued). */
  readonly settledTerm: (entryIndex: number) => number | undefined;
  readonly hasSnapshotFile: (index: number, term: number) => boolean;
}

function invalid(message: string): StorageError {
  return new StorageError('INVALID_ARGUMENT', message);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function metadataRecord(kind: (typeof RecordKind)[keyof typeof RecordKind], value: unknown, limits: PlanLimits): Buffer {
  const record = encodeMetadataRecord(kind, value);
  if (record.length > limits.metadataRecordBytesMax) {
    throw new StorageError('TOO_LARGE', `metadata record of ${record.length} bytes exceeds metadataRecordBytesMax ${limits.metadataRecordBytesMax}`);
  }
  return record;
}

function validateHardState(hardState: HardState): HardState {
  if (typeof hardState !== 'object' || hardState === null) throw invalid('hardState must be an object');
  if (!isNonNegativeInteger(hardState.term)) throw invalid(`hardState.term ${String(hardState.term)} must be a non-negative integer`);
  if (!isNonNegativeInteger(hardState.commit)) throw invalid(`hardState.commit ${String(hardState.commit)} must be a non-negative integer`);
  if (typeof hardState.vote !== 'string') throw invalid('hardState.vote must be a string');
  return { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
}

function planSnapshot(snapshot: Snapshot, projection: Projection, context: PlanContext, operations: Operation[]): void {
  const metadata = validateSnapshotMetadata(snapshot.metadata, 'save snapshot');
  if (metadata.index <= projection.compactIndex) {
    throw invalid(`snapshot ${metadata.index} is not newer than the log's snapshot point ${projection.compactIndex}`);
  }
  const data = snapshot.data;
  if (!(data instanceof Uint8Array)) throw invalid('snapshot.data must be a Uint8Array');
  if (data.length > context.limits.snapshotBytesMax)
    throw new StorageError('TOO_LARGE', `snapshot data exceeds snapshotBytesMax ${context.limits.snapshotBytesMax}`);
  if (data.length === 0 && !context.hasSnapshotFile(metadata.index, metadata.term)) {
    throw invalid(`snapshot ${metadata.index}/${metadata.term} has no data and is not in the snapshot store`);
  }
  const value: SnapshotRecord = { index: metadata.index, term: metadata.term, confState: metadata.confState };
  const record = metadataRecord(RecordKind.snapshot, value, context.limits);
  operations.push({ kind: 'snapshot', value, inlineData: data.length > 0 ? data : null, record });
  projection.compactIndex = metadata.index;
  projection.lastIndex = metadata.index;
  projection.lastTerm = metadata.term;
}

function validateEntry(entry: Entry, position: number, previous: Entry | undefined, limits: PlanLimits): void {
  if (typeof entry !== 'object' || entry === null) throw invalid(`entries[${position}] must be an object`);
  if (!isNonNegativeInteger(entry.index) || entry.index < 1) throw invalid(`entries[${position}].index ${String(entry.index)} must be a positive integer`);
  if (!isNonNegativeInteger(entry.term) || entry.term < 1) throw invalid(`entries[${position}].term ${String(entry.term)} must be a positive integer`);
  if (entry.type !== 'normal' && entry.type !== 'conf-change') throw invalid(`entries[${position}].type ${String(entry.type)} is not normal or conf-change`);
  if (!(entry.data instanceof Uint8Array)) throw invalid(`entries[${position}].data must be a Uint8Array`);
  if (entry.data.length > limits.entryBytesMax) {
    throw new StorageError('TOO_LARGE', `entries[${position}] data of ${entry.data.length} bytes exceeds entryBytesMax ${limits.entryBytesMax}`);
  }
  if (previous !== undefined && entry.index !== previous.index + 1)
    throw invalid(`entries[${position}].index ${entry.index} does not follow ${previous.index}`);
  if (previous !== undefined && entry.term < previous.term)
    throw invalid(`entries[${position}].term ${entry.term} is below the previous entry's ${previous.term}`);
}

function checkJoin(fresh: readonly Entry[], projection: Projection, context: PlanContext): void {
  const first = fresh[0]!;
  if (first.index > projection.lastIndex + 1) {
    throw invalid(
      `entries start at ${first.index} but the log ends at ${projection.lastIndex}: entries ${projection.lastIndex + 1}..${first.index - 1} are missing`,
    );
  }
  const previousTerm = first.index === projection.lastIndex + 1 ? projection.lastTerm : context.settledTerm(first.index - 1);
  if (previousTerm !== undefined && first.term < previousTerm) {
    throw invalid(`entry ${first.index} has term ${first.term}, below the term ${previousTerm} of entry ${first.index - 1}`);
  }
  for (const entry of fresh) {
    if (entry.index > projection.hardState.commit || entry.index > projection.lastIndex) break;
    const existingTerm = context.settledTerm(entry.index);
    if (existingTerm !== undefined && existingTerm !== entry.term) {
      throw invalid(
        `entry ${entry.index} (term ${entry.term}) would replace committed entry ${entry.index} (term ${existingTerm}); ` +
          `commit is ${projection.hardState.commit}`,
      );
    }
  }
}

function planEntries(entries: readonly Entry[], projection: Projection, context: PlanContext, operations: Operation[]): void {
  if (!Array.isArray(entries)) throw invalid('entries must be an array');
  let previous: Entry | undefined;
  entries.forEach((entry, position) => {
    validateEntry(entry, position, previous, context.limits);
    previous = entry;
  });
  const fresh = entries.filter((entry) => entry.index > projection.compactIndex);
  const first = fresh[0];
  if (first === undefined) return;
  checkJoin(fresh, projection, context);
  const newLast = fresh[fresh.length - 1]!.index;
  if (newLast < projection.hardState.commit) {
    throw invalid(`entries ending at ${newLast} would cut the log below the commit index ${projection.hardState.commit}`);
  }
  for (const entry of fresh) operations.push({ kind: 'entry', index: entry.index, term: entry.term, entryType: entry.type, record: encodeEntryRecord(entry) });
  const last = fresh[fresh.length - 1]!;
  projection.lastIndex = last.index;
  projection.lastTerm = last.term;
}

function planHardState(input: HardState, projection: Projection, context: PlanContext, operations: Operation[]): void {
  const hardState = validateHardState(input);
  const current = projection.hardState;
  if (hardState.term < current.term) throw invalid(`hardState.term ${hardState.term} is below the stored term ${current.term}`);
  if (hardState.term === current.term && current.vote !== '' && hardState.vote !== current.vote) {
    throw invalid(`hardState.vote ${JSON.stringify(hardState.vote)} changes the vote ${JSON.stringify(current.vote)} already cast in term ${current.term}`);
  }
  if (hardState.commit < current.commit) throw invalid(`hardState.commit ${hardState.commit} is below the stored commit ${current.commit}`);
  if (hardState.commit > projection.lastIndex) throw invalid(`hardState.commit ${hardState.commit} is beyond the last index ${projection.lastIndex}`);
  operations.push({ kind: 'hardState', value: hardState, record: metadataRecord(RecordKind.hardState, hardState, context.limits) });
  projection.hardState = hardState;
}

/**
 * Checks and encodes `request` against `projection`. On success returns the operations
 * and their byte count and updates `projection`; on failure throws and leaves it as it was.
 */
export function planSave(request: SaveRequest, projection: Projection, context: PlanContext): { operations: Operation[]; bytes: number } {
  if (typeof request !== 'object' || request === null) throw invalid('save request must be an object');
  const working: Projection = { ...projection };
  const operations: Operation[] = [];
  if (request.snapshot !== undefined) planSnapshot(request.snapshot, working, context, operations);
  if (request.entries !== undefined) planEntries(request.entries, working, context, operations);
  if (request.confState !== undefined) {
    const confState = validateConfState(request.confState, 'save confState');
    operations.push({ kind: 'confState', value: confState, record: metadataRecord(RecordKind.confState, confState, context.limits) });
  }
  if (request.hardState !== undefined) planHardState(request.hardState, working, context, operations);
  let bytes = 0;
  for (const operation of operations) bytes += operation.record.length;
  if (bytes > context.limits.saveBytesMax) {
    throw new StorageError(
      'TOO_LARGE',
      `save of ${bytes} encoded bytes exceeds the per-save limit ${context.limits.saveBytesMax} (flushBytesMax minus room for a checkpoint)`,
    );
  }
  Object.assign(projection, working);
  return { operations, bytes };
}
