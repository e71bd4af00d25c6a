import type { PeerMetrics, TransportMetrics } from './types.js';

function emptyPeerMetrics(): PeerMetrics {
  return {
    messagesSent: 0,
    bytesSent: 0,
    framesSent: 0,
    messagesReceived: 0,
    bytesReceived: 0,
    messagesDropped: 0,
    faultDrops: 0,
    reconnects: 0,
    connectFailures: 0,
    callsSent: 0,
    callsFailed: 0,
    snapshotsSent: 0,
    snapshotsReceived: 0,
    snapshotBytesResumed: 0,
  };
}

/** Counters only ever grow; `snapshot()` copies them so readers cannot change them. */
export class MetricsRegistry {
  readonly #peers = new Map<string, PeerMetrics>();
  connectionsRejected = 0;
  connectionsAccepted = 0;

  peer(key: string): PeerMetrics {
    let metrics = this.#peers.get(key);
    if (metrics === undefined) {
      metrics = emptyPeerMetrics();
      this.#peers.set(key, metrics);
    }
    return metrics;
  }

  snapshot(): TransportMetrics {
    const peers: Record<string, PeerMetrics> = {};
    for (const [key, metrics] of this.#peers) peers[key] = { ...metrics };
    return { peers, connectionsRejected: this.connectionsRejected, connectionsAccepted: this.connectionsAccepted };
  }
}
