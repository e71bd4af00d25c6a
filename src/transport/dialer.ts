/**
 * The dialling side of the handshake: opens a stream to a peer's address, sends our
 * hello, and resolves with the connection once the peer accepts us as the node we
 * expected (same cluster and protocol, the expected id when one is given). Connections
 * still in their handshake are tracked so that close() can end them.
 */
import type { Duplex } from 'node:stream';
import { encodeValueFrame, FrameKind, protocolFeatures, protocolVersion, type Frame } from './codec.js';
import { FramedConnection, type ConnectionEvents } from './connection.js';
import { TransportError } from './errors.js';
import type { FaultState } from './faults.js';
import type { TransportLimits } from './limits.js';
import { decodeHello, decodeRefusal } from './protocol.js';
import type { StreamNetwork } from './stream-network.js';

interface DialerContext {
  readonly network: StreamNetwork;
  readonly nodeId: string;
  readonly clusterId: string;
  readonly limits: TransportLimits;
  readonly faults: FaultState;
  /** Our advertised address, sent in the hello. */
  address(): string;
  isClosed(): boolean;
}

export class Dialer {
  readonly #context: DialerContext;
  readonly #dialled = new Set<FramedConnection>();

  constructor(context: DialerContext) {
    this.#context = context;
  }

  /** Dials and completes the handshake; the connection then uses `events`. */
  open(address: string, expectedId: string | undefined, events: ConnectionEvents): Promise<FramedConnection> {
    return this.#context.network.dial(address, this.#context.limits.connectTimeoutMs).then((stream) => {
      if (this.#context.isClosed()) {
        stream.destroy();
        throw new TransportError('CLOSED', 'the transport is closed');
      }
      return this.#handshake(stream, address, expectedId, events);
    });
  }

  closeAll(): void {
    for (const connection of [...this.#dialled]) connection.close(undefined);
  }

  #handshake(stream: Duplex, address: string, expectedId: string | undefined, events: ConnectionEvents): Promise<FramedConnection> {
    const { limits } = this.#context;
    return new Promise<FramedConnection>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | undefined, connection: FramedConnection): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined) {
          connection.events = {
            ...events,
            onClose: (closed, closeError) => {
              this.#dialled.delete(closed);
              events.onClose(closed, closeError);
            },
          };
          resolve(connection);
        } else {
          reject(error);
        }
      };
      const connection: FramedConnection = new FramedConnection(stream, limits.frameBytesMax, this.#context.faults, limits.heldFrameBytesMax, {
        onFrame: (_connection, frame) => finish(this.#checkHandshakeReply(frame, connection, address, expectedId), connection),
        onDrain: () => undefined,
        onClose: (_connection, error) => {
          this.#dialled.delete(connection);
          finish(error ?? new TransportError('UNREACHABLE', `${address} closed the connection during the handshake`, { peer: address }), connection);
        },
        onFaultDrop: (dropped, direction) => events.onFaultDrop(dropped, direction),
      });
      this.#dialled.add(connection);
      const timer = setTimeout(
        () => connection.close(new TransportError('TIMEOUT', `no handshake reply from ${address} within ${limits.connectTimeoutMs} ms`, { peer: address })),
        limits.connectTimeoutMs,
      );
      connection.remoteId = expectedId;
      const { nodeId, clusterId } = this.#context;
      const hello = { protocolVersion, clusterId, nodeId, address: this.#context.address(), features: protocolFeatures };
      connection.write(encodeValueFrame(FrameKind.hello, hello, limits.frameBytesMax));
    });
  }

  /** Undefined when the handshake reply accepts us as expected; the error otherwise (the connection is then closed). */
  #checkHandshakeReply(frame: Frame, connection: FramedConnection, address: string, expectedId: string | undefined): Error | undefined {
    let error: TransportError | undefined;
    if (frame.kind === FrameKind.helloRejected) {
      const refusal = decodeRefusal(frame.payload, 'handshake rejection');
      error = new TransportError('HANDSHAKE_REJECTED', `${address} refused the handshake: ${refusal.message}`, { peer: expectedId ?? address });
    } else if (frame.kind !== FrameKind.helloAccepted) {
      error = new TransportError('MALFORMED_FRAME', `expected a handshake reply from ${address}, got frame kind ${frame.kind}`, { peer: address });
    } else {
      const hello = decodeHello(frame.payload);
      if (hello.protocolVersion !== protocolVersion || hello.clusterId !== this.#context.clusterId) {
        error = new TransportError(
          'HANDSHAKE_REJECTED',
          `${address} answered for cluster ${JSON.stringify(hello.clusterId)} protocol ${hello.protocolVersion}`,
          { peer: address },
        );
      } else if (expectedId !== undefined && hello.nodeId !== expectedId) {
        error = new TransportError('PEER_ID_MISMATCH', `${address} is node ${hello.nodeId}, not ${expectedId}`, { peer: expectedId });
      } else {
        connection.remoteId = hello.nodeId;
        connection.remoteAddress = hello.address;
        connection.remoteFeatures = hello.features;
      }
    }
    if (error !== undefined) connection.close(error);
    return error;
  }
}
