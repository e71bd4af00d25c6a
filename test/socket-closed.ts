/**
 * Whether a socket closes before a hang guard: resolves true on close, false once
 * `guardMs` passed without one. The guard keeps a server that never closes from hanging
 * the test; it is not a speed assertion.
 */
import type { Socket } from 'node:net';

export function closedWithin(socket: Socket, guardMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const guard = setTimeout(() => resolve(false), guardMs);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(true);
    });
  });
}
