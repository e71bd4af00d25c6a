/**
 * What the protocol needs from a network: accept byte streams on an address and dial
 * one. TCP/TLS (tcp-network.ts) and in-memory (memory-network.ts) provide it.
 */
import type { Duplex } from 'node:stream';

export interface StreamListener {
  /** The address peers can dial (the bound port filled in). */
  readonly address: string;
  close(): Promise<void>;
}

export interface StreamNetwork {
  listen(address: string, onStream: (stream: Duplex) => void): Promise<StreamListener>;
  /** Resolves with a connected (for TLS: authenticated) stream, or rejects. */
  dial(address: string, timeoutMs: number): Promise<Duplex>;
}
