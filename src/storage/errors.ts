/**
 * Errors of the durable storage layer. Callers branch on `code`:
 * - DISK_FULL: a write failed with ENOSPC; nothing was lost, retry once space returns.
 * - IO_ERROR: any other operating-system failure while reading or writing.
 * - CORRUPT: stored bytes fail their checksum or structure (file and byte offset in the message).
 * - LOCKED: another process holds the data directory.
 * - INVALID_ARGUMENT: the caller passed something the store refuses (nothing was written).
 * - TOO_LARGE: an entry, save or snapshot exceeds a named bound (nothing was written).
 * - OVERLOADED: the queue of saves waiting for the disk is full.
 * - NOT_FOUND: no such snapshot.
 * - CLOSED: the store was closed.
 */
type StorageErrorCode = 'DISK_FULL' | 'IO_ERROR' | 'CORRUPT' | 'LOCKED' | 'INVALID_ARGUMENT' | 'TOO_LARGE' | 'OVERLOADED' | 'NOT_FOUND' | 'CLOSED';

export class StorageError extends Error {
  readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
  }
}

/** Maps an operating-system error to DISK_FULL or IO_ERROR, keeping it as the cause. */
export function storageErrorFromSystem(error: unknown, action: string): StorageError {
  if (error instanceof StorageError) return error;
  const systemCode = (error as { code?: unknown } | undefined)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  if (systemCode === 'ENOSPC' || systemCode === 'EDQUOT') {
    return new StorageError('DISK_FULL', `disk full while ${action}: ${detail}`, { cause: error });
  }
  return new StorageError('IO_ERROR', `I/O error while ${action}: ${detail}`, { cause: error });
}
