/**
 * The address book and the outbound links over it: one link per peer id and address
 * (a moved or removed peer's link is closed), plus links to bare addresses for calls
 * such as a join, closed again once idle. Messages sent by one callback of the event
 * loop (a Ready turn, the saves one flush completed) are flushed together when it returns
 * (SendTiming), so they share a frame per peer.
 */
import { TransportError } from './errors.js';
import { OutboundLink, type LinkContext } from './outbound-link.js';
import type { CallTarget, SendTiming } from './types.js';

export class PeerLinks {
  readonly #peers = new Map<string, string>();
  readonly #links = new Map<string, OutboundLink>();
  readonly #dirtyLinks = new Set<OutboundLink>();
  #flushScheduled = false;
  #turnFlushScheduled = false;
  readonly #linkContext: LinkContext;

  constructor(connectionContext: Omit<LinkContext, 'linkIdle'>) {
    this.#linkContext = { ...connectionContext, linkIdle: (link) => this.#closeIfBare(link) };
  }

  addressOf(id: string): string | undefined {
    return this.#peers.get(id);
  }

  setPeer(id: string, address: string): void {
    const previous = this.#peers.get(id);
    if (previous === address) return;
    this.#peers.set(id, address);
    if (previous !== undefined) this.#closeLink(linkKey(id, previous), `peer ${id} moved from ${previous} to ${address}`);
  }

  removePeer(id: string): void {
    const address = this.#peers.get(id);
    if (address === undefined) return;
    this.#peers.delete(id);
    this.#closeLink(linkKey(id, address), `peer ${id} was removed`);
  }

  /** Queues a message on the peer's link for the next flush; false when it is dropped (unknown peer, full queue). */
  enqueue(to: string, bytes: Uint8Array): boolean {
    const link = this.#linkForPeer(to);
    if (link === undefined || !link.enqueue(to, bytes)) return false;
    this.#dirtyLinks.add(link);
    return true;
  }

  scheduleFlush(timing: SendTiming): void {
    if (this.#dirtyLinks.size === 0) return;
    if (timing === 'next-turn') {
      if (this.#turnFlushScheduled) return;
      this.#turnFlushScheduled = true;
      setImmediate(() => {
        this.#turnFlushScheduled = false;
        this.#flush();
      });
      return;
    }
    if (this.#flushScheduled) return;
    // One flush per callback: everything it sent shares a frame per peer.
    this.#flushScheduled = true;
    process.nextTick(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    const links = [...this.#dirtyLinks];
    this.#dirtyLinks.clear();
    for (const link of links) if (!link.isClosed) link.flush();
  }

  /** The link for a call: to the target's address, or to the address known for its id. */
  linkForTarget(target: CallTarget): OutboundLink {
    const id = target.id;
    const address = target.address ?? (id === undefined ? undefined : this.#peers.get(id));
    if (address === undefined) {
      if (id === undefined) throw new TransportError('INVALID_ARGUMENT', 'a call target needs an id or an address');
      throw new TransportError('UNKNOWN_PEER', `no address known for peer ${id}`, { peer: id });
    }
    return this.#linkFor(id, address);
  }

  /** The transport is closing (it queues nothing more): a flush still scheduled finds nothing to send. */
  cancelFlush(): void {
    this.#dirtyLinks.clear();
  }

  closeAll(): void {
    for (const link of this.#links.values()) link.close(new TransportError('CLOSED', 'the transport is closed', { peer: link.metricsKey }));
    this.#links.clear();
  }

  #linkForPeer(id: string): OutboundLink | undefined {
    const address = this.#peers.get(id);
    if (address === undefined) return undefined;
    return this.#linkFor(id, address);
  }

  #linkFor(id: string | undefined, address: string): OutboundLink {
    const key = linkKey(id, address);
    let link = this.#links.get(key);
    if (link === undefined) {
      link = new OutboundLink(this.#linkContext, address, id);
      this.#links.set(key, link);
    }
    return link;
  }

  #closeLink(key: string, reason: string): void {
    const link = this.#links.get(key);
    if (link === undefined) return;
    this.#links.delete(key);
    this.#dirtyLinks.delete(link);
    link.close(new TransportError('UNREACHABLE', reason, { peer: link.metricsKey }));
  }

  #closeIfBare(link: OutboundLink): void {
    // A link to a bare address (a join, a discovery call) is not kept: the set of
    // links stays bounded by the peers in the address book.
    if (link.expectedId !== undefined) return;
    const key = linkKey(undefined, link.address);
    if (this.#links.get(key) === link) this.#links.delete(key);
    link.close(new TransportError('CLOSED', 'an idle link to a bare address is closed'));
  }
}

function linkKey(id: string | undefined, address: string): string {
  return `${id ?? ''}@${address}`;
}
