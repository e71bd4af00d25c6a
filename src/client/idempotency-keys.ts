/**
 * Idempotency keys: every write call draws one (128 random bits, hex) and sends it on
 * every attempt, so a retry after a lost reply cannot apply twice; a caller's own key is
 * checked against the server's rule first.
 */
import { QuorumliteError } from './errors.js';

/** Client-side cap on how long an idempotency key may be. */
export const idempotencyKeyCharactersMax = 128;

export function newIdempotencyKey(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

export function checkIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || key.length === 0 || key.length > idempotencyKeyCharactersMax || !/^[\x21-\x7e]+$/.test(key)) {
    throw new QuorumliteError('INVALID_ARGUMENT', `idempotencyKey must be 1-${idempotencyKeyCharactersMax} printable ASCII characters`);
  }
  return key;
}
