/**
 * What the client believes about the cluster: its nodes' HTTP addresses, which one
 * leads, and where the next read goes. Learned from the seed list, `/nodes`, 301
 * redirects and failures. Pure bookkeeping, no I/O.
 */
import { QuorumliteError } from './errors.js';
import type { JsonValue } from './json-parse.js';
import { isJsonObject } from './results.js';
import type { NodeInfo } from './types.js';

/** A node list longer than this (from config or `/nodes`) is refused / truncated. */
export const nodesMax = 64;

export function normaliseNodeUrl(raw: string, defaultScheme = 'http:'): string {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `${defaultScheme}//${raw}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new QuorumliteError('INVALID_ARGUMENT', `not a node URL: ${JSON.stringify(raw)}`, { cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new QuorumliteError('INVALID_ARGUMENT', `node URL must be http or https: ${JSON.stringify(raw)}`);
  }
  return url.origin;
}

export class ClusterView {
  readonly #nodeUrls: string[];
  #leaderUrl: string | undefined;
  /** Where a leader-bound request goes while the leader is unknown. */
  #guessIndex = 0;
  #readIndex = 0;

  constructor(seedUrls: readonly string[]) {
    if (seedUrls.length === 0) throw new QuorumliteError('INVALID_ARGUMENT', 'at least one node URL is needed');
    if (seedUrls.length > nodesMax) throw new QuorumliteError('INVALID_ARGUMENT', `more than nodesMax (${nodesMax}) nodes`);
    this.#nodeUrls = [...new Set(seedUrls.map((url) => normaliseNodeUrl(url)))];
  }

  get nodes(): readonly string[] {
    return this.#nodeUrls;
  }

  get leader(): string | undefined {
    return this.#leaderUrl;
  }

  /** The leader if known, otherwise the current guess (a non-leader will redirect or forward). */
  leaderOrGuess(): string {
    return this.#leaderUrl ?? (this.#nodeUrls[this.#guessIndex % this.#nodeUrls.length] as string);
  }

  /** Round robin over all nodes, for reads that any node may serve. */
  nextReadNode(): string {
    const url = this.#nodeUrls[this.#readIndex % this.#nodeUrls.length] as string;
    this.#readIndex = (this.#readIndex + 1) % this.#nodeUrls.length;
    return url;
  }

  setLeader(url: string): void {
    const normalised = normaliseNodeUrl(url);
    this.addNode(normalised);
    this.#leaderUrl = normalised;
  }

  /** After a leadership change the client caused (step down): ask again. */
  forgetLeader(): void {
    this.#leaderUrl = undefined;
  }

  /** After a failure at `url`: forget it as leader and move the guess past it. */
  markFailed(url: string): void {
    if (this.#leaderUrl === url) this.#leaderUrl = undefined;
    const failedIndex = this.#nodeUrls.indexOf(url);
    if (failedIndex >= 0) this.#guessIndex = (failedIndex + 1) % this.#nodeUrls.length;
  }

  addNode(url: string): void {
    if (this.#nodeUrls.includes(url) || this.#nodeUrls.length >= nodesMax) return;
    this.#nodeUrls.push(url);
  }

  /** Merges a `/nodes` answer: adds nodes joined later, adopts the leader it names. */
  applyNodes(nodes: readonly NodeInfo[]): void {
    for (const node of nodes) this.addNode(node.apiUrl);
    const leader = nodes.find((node) => node.leader);
    if (leader !== undefined) this.#leaderUrl = leader.apiUrl;
  }
}

/** Parses `/nodes` in either shape: `{id: node}` (default) or `{"nodes": [node]}` (`ver=2`). */
export function parseNodes(body: JsonValue, queriedUrl: string): NodeInfo[] {
  if (!isJsonObject(body)) throw new QuorumliteError('SERVER_ERROR', '/nodes reply is not a JSON object');
  const scheme = new URL(queriedUrl).protocol;
  const entries: [string, JsonValue][] = Array.isArray(body.nodes)
    ? body.nodes.map((node) => [isJsonObject(node) && typeof node.id === 'string' ? node.id : '', node])
    : Object.entries(body);
  const nodes: NodeInfo[] = [];
  for (const [id, raw] of entries.slice(0, nodesMax)) {
    if (!isJsonObject(raw) || typeof raw.api_addr !== 'string' || raw.api_addr === '') continue;
    nodes.push({
      id: typeof raw.id === 'string' ? raw.id : id,
      apiUrl: normaliseNodeUrl(raw.api_addr, scheme),
      raftAddress: typeof raw.addr === 'string' ? raw.addr : '',
      voter: raw.voter !== false,
      reachable: raw.reachable === true,
      leader: raw.leader === true,
      error: typeof raw.error === 'string' && raw.error !== '' ? raw.error : undefined,
    });
  }
  return nodes;
}
