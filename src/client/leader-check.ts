/**
 * Is the leader hung? A leader that is stopped (SIGSTOP, a long GC pause, a frozen VM)
 * keeps its TCP connections open and answers nothing, so a write waits for the whole
 * attempt timeout (10 s) although the other nodes elected a new leader within a second.
 * While an attempt waits on the node the client takes for the leader for longer than
 * `leaderCheckAfterMs`, the client asks the other nodes who leads (`GET /status?key=store.leader`,
 * a local answer that never waits on the leader), every `leaderCheckIntervalMs`. Once one names
 * another node, the attempt is abandoned and the call retries there with the same
 * idempotency key, so the write is still applied once. A leader that is merely slow is
 * still named by its followers and keeps its attempt.
 *
 * Once a node has named the suspect, the next question to it also says
 * `leader_not=<the suspect's node id>`: a quorumlite node then holds its answer until it
 * knows another leader (at most half of `leaderCheckTimeoutMs`), so the client hears of the
 * new leader when it is elected instead of at its next poll. A server that does not know
 * the parameter (rqlite) answers at once, and the client asks again after the interval.
 */
import { normaliseNodeUrl, type ClusterView } from './cluster-view.js';
import { parseJson, type JsonValue } from './json-parse.js';
import type { ResolvedConfig } from './options.js';
import { isJsonObject } from './results.js';
import type { HttpTransport } from './transport.js';

/** Bound on a `/status` reply read by a check (the document is a few KiB). */
const statusBytesMax = 1024 * 1024;

/** The leader a node's `/status?key=store.leader` answer names: its API URL and node id; undefined for no leader, or a server that does not say. */
export function leaderFromStatus(leader: JsonValue, queriedUrl: string): NamedLeader | undefined {
  if (!isJsonObject(leader) || typeof leader.api_addr !== 'string' || leader.api_addr === '') return undefined;
  if (typeof leader.node_id !== 'string' || leader.node_id === '') return undefined;
  try {
    return { url: normaliseNodeUrl(leader.api_addr, new URL(queriedUrl).protocol), nodeId: leader.node_id };
  } catch {
    return undefined;
  }
}

interface NamedLeader {
  readonly url: string;
  readonly nodeId: string;
}

/** The `/status` question that waits for a leader other than `suspectId` waits this share of leaderCheckTimeoutMs, leaving the rest for the answer. */
const leaderWaitShare = 0.5;

interface Round {
  readonly answer: Promise<string | undefined>;
  /** Aborts the round's questions still out. */
  readonly cancel: AbortController;
  /** Attempts waiting on the round's answer. */
  watcherCount: number;
}

export class LeaderCheck {
  readonly #config: ResolvedConfig;
  readonly #transport: HttpTransport;
  readonly #view: ClusterView;
  /** One round of questions at a time per suspect: concurrent attempts on a hung leader share it. */
  readonly #rounds = new Map<string, Round>();
  /** The suspect the other nodes last named, by URL and node id, for `leader_not` (a round for another suspect polls without it). */
  #namedSuspect: NamedLeader | undefined;

  constructor(config: ResolvedConfig, transport: HttpTransport, view: ClusterView) {
    this.#config = config;
    this.#transport = transport;
    this.#view = view;
  }

  /**
   * Resolves with the URL of a leader other than `suspectUrl` once another node names
   * one; asks again leaderCheckIntervalMs after the last round began until then (at once
   * after a round the nodes held that long). Resolves undefined when `signal` fires (the
   * attempt ended) and never throws.
   */
  async watch(suspectUrl: string, signal: AbortSignal): Promise<string | undefined> {
    while (!signal.aborted) {
      const startedMs = performance.now();
      const leaderUrl = await this.#joinRound(suspectUrl, signal);
      if (leaderUrl !== undefined && !signal.aborted) return leaderUrl;
      const restMs = Math.ceil(this.#config.leaderCheckIntervalMs - (performance.now() - startedMs));
      if (restMs <= 0) continue;
      try {
        await this.#config.sleep(restMs, signal);
      } catch {
        return undefined; // aborted
      }
    }
    return undefined;
  }

  /**
   * The running round's answer for `suspectUrl`, or a new round's; undefined at once when
   * `signal` fires. A round's questions still out are cancelled once it has its answer (a
   * question to the hung node would otherwise wait leaderCheckTimeoutMs) or once no attempt
   * waits on it any more.
   */
  #joinRound(suspectUrl: string, signal: AbortSignal): Promise<string | undefined> {
    let round = this.#rounds.get(suspectUrl);
    if (round === undefined) {
      const cancel = new AbortController();
      const started: Round = { answer: this.#askOthers(suspectUrl, cancel.signal), cancel, watcherCount: 0 };
      void started.answer.then(() => this.#endRound(suspectUrl, started));
      this.#rounds.set(suspectUrl, started);
      round = started;
    }
    const joined = round;
    joined.watcherCount += 1;
    return new Promise((resolve) => {
      let left = false;
      const leave = (leaderUrl: string | undefined): void => {
        if (left) return;
        left = true;
        signal.removeEventListener('abort', onAbort);
        joined.watcherCount -= 1;
        if (joined.watcherCount === 0) this.#endRound(suspectUrl, joined);
        resolve(leaderUrl);
      };
      const onAbort = (): void => leave(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) leave(undefined);
      void joined.answer.then(leave);
    });
  }

  #endRound(suspectUrl: string, round: Round): void {
    round.cancel.abort();
    if (this.#rounds.get(suspectUrl) === round) this.#rounds.delete(suspectUrl);
  }

  /**
   * Asks every node but the suspect at once; the first that names another leader wins,
   * without waiting for the rest (one of them may be the hung node itself, whose question
   * ends at leaderCheckTimeoutMs or when `cancel` fires). Undefined once every answer is in
   * and none did.
   */
  #askOthers(suspectUrl: string, cancel: AbortSignal): Promise<string | undefined> {
    const others = this.#view.nodes.filter((url) => url !== suspectUrl);
    const suspectId = this.#namedSuspect?.url === suspectUrl ? this.#namedSuspect.nodeId : undefined;
    return new Promise((resolve) => {
      let pendingCount = others.length;
      if (pendingCount === 0) resolve(undefined);
      for (const url of others) {
        void this.#askOne(url, suspectId, cancel).then((leader) => {
          if (leader !== undefined && leader.url !== suspectUrl) resolve(leader.url);
          if (leader?.url === suspectUrl) this.#namedSuspect = leader;
          pendingCount -= 1;
          if (pendingCount === 0) resolve(undefined);
        });
      }
    });
  }

  async #askOne(nodeUrl: string, suspectId: string | undefined, cancel: AbortSignal): Promise<NamedLeader | undefined> {
    const timeoutMs = this.#config.leaderCheckTimeoutMs;
    const waitMs = Math.floor(timeoutMs * leaderWaitShare);
    const waiting = suspectId === undefined || waitMs < 1 ? '' : `&leader_not=${encodeURIComponent(suspectId)}&timeout=${waitMs}ms`;
    try {
      const response = await this.#transport.send({
        method: 'GET',
        url: `${nodeUrl}/status?key=store.leader${waiting}`,
        headers: { accept: 'application/json', ...this.#config.headers },
        signal: AbortSignal.any([cancel, AbortSignal.timeout(timeoutMs)]),
        responseBytesMax: statusBytesMax,
      });
      if (response.status !== 200) return undefined;
      return leaderFromStatus(parseJson(new TextDecoder().decode(response.body), 'auto'), nodeUrl);
    } catch {
      return undefined; // an unreachable or confused node names no one
    }
  }
}
