/**
 * The one error class the transport throws and rejects with. Callers branch on
 * `code`, never on the message. A `REMOTE_ERROR` carries the remote handler's own
 * code and message in `remoteCode` / `remoteMessage`.
 */

export type TransportErrorCode =
  /** A call got no reply within its `timeoutMs`, or a connection attempt timed out. */
  | 'TIMEOUT'
  /** The peer could not be reached: connect failed, connection lost, or in backoff. */
  | 'UNREACHABLE'
  /** The remote handler threw; see `remoteCode` and `remoteMessage`. */
  | 'REMOTE_ERROR'
  /** A frame (or a single message or payload) is larger than `frameBytesMax`. */
  | 'FRAME_TOO_LARGE'
  /** Bytes on a connection that do not decode as a frame of this protocol. */
  | 'MALFORMED_FRAME'
  /** The peer refused the handshake (protocol version or cluster id differ), or we refused it. */
  | 'HANDSHAKE_REJECTED'
  /** The node at a peer's address says it has another node id than the one we addressed. */
  | 'PEER_ID_MISMATCH'
  /** `callsInFlightMax` calls to this peer are already waiting for replies. */
  | 'TOO_MANY_CALLS'
  /** `snapshotsSendingMax` snapshot transfers are already running from this node. */
  | 'TOO_MANY_SNAPSHOTS'
  /** The caller's AbortSignal fired. */
  | 'ABORTED'
  /** The transport was closed (or the connection closed) while the operation was pending. */
  | 'CLOSED'
  /** No address is known for this peer id (`setPeer` was never called, or `removePeer` was). */
  | 'UNKNOWN_PEER'
  /** A snapshot transfer failed; the receiver deleted its partial file. */
  | 'SNAPSHOT_FAILED'
  /** The caller passed something the transport cannot use. */
  | 'INVALID_ARGUMENT';

interface TransportErrorOptions {
  readonly cause?: unknown;
  readonly peer?: string;
  readonly remoteCode?: string;
  readonly remoteMessage?: string;
}

export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly code: TransportErrorCode;
  /** The peer id or address the failing operation addressed, when known. */
  readonly peer: string | undefined;
  readonly remoteCode: string | undefined;
  readonly remoteMessage: string | undefined;

  constructor(code: TransportErrorCode, message: string, options: TransportErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.peer = options.peer;
    this.remoteCode = options.remoteCode;
    this.remoteMessage = options.remoteMessage;
  }
}

/** Longest error code and message sent across the wire: a reply must always fit a frame. */
const errorCodeLengthMax = 128;
export const errorMessageLengthMax = 4096;

/** The code a handler's thrown error carries across the wire (its `code` if it is a string). */
export function errorCodeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code.slice(0, errorCodeLengthMax);
  }
  return 'HANDLER_ERROR';
}

/** The message a thrown error carries across the wire, cut at errorMessageLengthMax characters. */
export function errorMessageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (message.length <= errorMessageLengthMax) return message;
  return `${message.slice(0, errorMessageLengthMax)}… (${message.length - errorMessageLengthMax} more characters)`;
}
