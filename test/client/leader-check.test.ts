/** Reading the leader from a node's `/status?key=store.leader` answer (leader-check.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterView } from '../../src/client/cluster-view.js';
import { createClient } from '../../src/client/index.js';
import { LeaderCheck, leaderFromStatus } from '../../src/client/leader-check.js';
import { resolveConfig } from '../../src/client/options.js';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../src/client/transport.js';

describe('leaderFromStatus', () => {
  it("gives the leader's node id and API URL, in the queried node's scheme when the address has none", () => {
    const leader = { node_id: '127.0.0.2:4002', addr: '127.0.0.2:4002', api_addr: '127.0.0.2:4001' };
    assert.deepEqual(leaderFromStatus(leader, 'http://127.0.0.1:4001'), { url: 'http://127.0.0.2:4001', nodeId: '127.0.0.2:4002' });
    assert.equal(leaderFromStatus(leader, 'https://127.0.0.1:4001')?.url, 'https://127.0.0.2:4001');
    assert.equal(leaderFromStatus({ ...leader, api_addr: 'http://127.0.0.3:4001' }, 'http://127.0.0.1:4001')?.url, 'http://127.0.0.3:4001');
  });

  it('names no one during an election, for a server that gives no API address, or for a reply of another shape', () => {
    assert.equal(leaderFromStatus({ node_id: '', addr: '', api_addr: '' }, 'http://127.0.0.1:4001'), undefined);
    assert.equal(leaderFromStatus({ node_id: 'n2', addr: '127.0.0.2:4002' }, 'http://127.0.0.1:4001'), undefined);
    assert.equal(leaderFromStatus({ node_id: 'n2', api_addr: 'ftp://x' }, 'http://127.0.0.1:4001'), undefined);
    assert.equal(leaderFromStatus([], 'http://127.0.0.1:4001'), undefined);
    assert.equal(leaderFromStatus(null, 'http://127.0.0.1:4001'), undefined);
  });
});

describe('LeaderCheck', () => {
  it('takes the first node that names another leader, without waiting for a node that never answers', async () => {
    const hung = 'http://127.0.0.1:4001';
    const follower = 'http://127.0.0.2:4001';
    const leader = 'http://127.0.0.3:4001';
    const config = resolveConfig({ nodes: [hung, follower, leader], leaderCheckTimeoutMs: 5_000 });
    const asked: string[] = [];
    const transport: HttpTransport = {
      send: (request) => {
        asked.push(request.url);
        // The hung node never answers: its question ends only at its timeout (5 s here).
        if (request.url.startsWith(hung)) return new Promise(() => undefined);
        const body = new TextEncoder().encode(JSON.stringify({ node_id: 'n3', addr: '127.0.0.3:4002', api_addr: '127.0.0.3:4001' }));
        return Promise.resolve({ status: 200, headers: {}, body } as unknown as HttpResponse);
      },
      close: () => Promise.resolve(),
    };
    const check = new LeaderCheck(config, transport, new ClusterView([hung, follower, leader]));
    const started = performance.now();
    // The suspect is the follower the client was writing through; the hung node is one of the others.
    const found = await check.watch(follower, new AbortController().signal);
    assert.equal(found, leader);
    assert.ok(performance.now() - started < 2_000, `answered after ${performance.now() - started} ms: it waited for the hung node`);
    assert.ok(asked.some((url) => url.startsWith(hung)));
  });
});

describe('LeaderCheck with leader_not', () => {
  const suspect = 'http://127.0.0.1:4001';
  const follower = 'http://127.0.0.2:4001';
  const other = 'http://127.0.0.3:4001';
  const naming = (id: string, host: string): HttpResponse =>
    ({
      status: 200,
      location: undefined,
      contentType: 'application/json',
      body: new TextEncoder().encode(JSON.stringify({ node_id: id, addr: `${host}:4002`, api_addr: `${host}:4001` })),
    }) as HttpResponse;

  it('asks a node that named the suspect again with its node id, and takes the leader a held answer names, without sleeping the interval', async () => {
    const asked: string[] = [];
    let elect: () => void = () => undefined;
    const elected = new Promise<void>((resolve) => {
      elect = resolve;
    });
    const transport: HttpTransport = {
      send: async (request) => {
        asked.push(request.url);
        const url = new URL(request.url);
        // The suspect is the hung leader: a question to it never ends before its timeout.
        if (url.origin === suspect) return new Promise(() => undefined);
        if (url.searchParams.get('leader_not') === null) return naming('n1', '127.0.0.1');
        // A quorumlite node holds the question until another leader is elected.
        await elected;
        return naming('n3', '127.0.0.3');
      },
      close: () => Promise.resolve(),
    };
    const sleeps: number[] = [];
    const config = resolveConfig({
      nodes: [suspect, follower, other],
      leaderCheckTimeoutMs: 600,
      leaderCheckIntervalMs: 100,
      sleep: async (delayMs) => {
        sleeps.push(delayMs);
        // The first round is answered at once: elect only once the client asked again.
        if (sleeps.length === 1) setTimeout(elect, 50);
      },
    });
    const check = new LeaderCheck(config, transport, new ClusterView([suspect, follower, other]));
    const found = await check.watch(suspect, new AbortController().signal);
    assert.equal(found, other);
    const waiting = asked.filter((url) => url.includes('leader_not='));
    assert.deepEqual(waiting.sort(), [
      `${follower}/status?key=store.leader&leader_not=n1&timeout=300ms`,
      `${other}/status?key=store.leader&leader_not=n1&timeout=300ms`,
    ]);
    assert.equal(sleeps.length, 1, `one sleep, after the first round only: ${JSON.stringify(sleeps)}`);
  });

  it('after a round a server held for the interval asks again at once, and after answers at once (rqlite) sleeps the interval', async () => {
    let heldRounds = 0;
    const transport: HttpTransport = {
      send: async (request) => {
        const url = new URL(request.url);
        // A server that ignores leader_not keeps naming the suspect at once; these hold each answer 150 ms first.
        if (url.searchParams.get('leader_not') !== null) {
          heldRounds += 1;
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
        return heldRounds >= 4 ? naming('n3', '127.0.0.3') : naming('n1', '127.0.0.1');
      },
      close: () => Promise.resolve(),
    };
    const sleeps: number[] = [];
    const config = resolveConfig({
      nodes: [suspect, follower, other],
      leaderCheckIntervalMs: 100,
      sleep: async (delayMs) => {
        sleeps.push(delayMs);
      },
    });
    const check = new LeaderCheck(config, transport, new ClusterView([suspect, follower, other]));
    assert.equal(await check.watch(suspect, new AbortController().signal), other);
    assert.equal(sleeps.length, 1, `only the round answered at once is followed by a sleep: ${JSON.stringify(sleeps)}`);
    assert.ok((sleeps[0] ?? 0) > 0 && (sleeps[0] ?? 0) <= 100);
  });
});

describe('LeaderCheck cancels the questions it no longer needs', () => {
  const suspect = 'http://127.0.0.1:4001';
  const follower = 'http://127.0.0.2:4001';
  const other = 'http://127.0.0.3:4001';

  /** A transport whose questions to `hung` never answer; it keeps every question's signal. */
  function recording(hung: readonly string[], answer: (url: URL) => Promise<HttpResponse>): { transport: HttpTransport; signals: Map<string, AbortSignal> } {
    const signals = new Map<string, AbortSignal>();
    const transport: HttpTransport = {
      send: (request) => {
        const url = new URL(request.url);
        signals.set(url.origin, request.signal);
        if (hung.includes(url.origin)) {
          // Like a real socket, a question ends when its signal fires.
          return new Promise((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason), { once: true }));
        }
        return answer(url);
      },
      close: () => Promise.resolve(),
    };
    return { transport, signals };
  }

  it('once a node names another leader, the question still out to the hung node is aborted', async () => {
    const { transport, signals } = recording([other], () =>
      Promise.resolve({
        status: 200,
        location: undefined,
        contentType: 'application/json',
        body: new TextEncoder().encode(JSON.stringify({ node_id: 'n2', addr: '127.0.0.2:4002', api_addr: '127.0.0.2:4001' })),
      }),
    );
    const config = resolveConfig({ nodes: [suspect, follower, other], leaderCheckTimeoutMs: 60_000 });
    const check = new LeaderCheck(config, transport, new ClusterView([suspect, follower, other]));
    assert.equal(await check.watch(suspect, new AbortController().signal), follower);
    assert.equal(signals.get(other)?.aborted, true, 'the question to the node that never answers was cancelled');
  });

  it('when the last attempt watching a round ends, its questions are aborted and watch resolves at once', async () => {
    const { transport, signals } = recording([follower, other], () => Promise.reject(new Error('not asked')));
    const config = resolveConfig({ nodes: [suspect, follower, other], leaderCheckTimeoutMs: 60_000 });
    const check = new LeaderCheck(config, transport, new ClusterView([suspect, follower, other]));
    const first = new AbortController();
    const second = new AbortController();
    const watching = [check.watch(suspect, first.signal), check.watch(suspect, second.signal)];
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(signals.size, 2, 'the two attempts share one round: one question per other node');
    first.abort();
    assert.equal(await watching[0], undefined);
    assert.equal(signals.get(follower)?.aborted, false, 'another attempt still waits on the round');
    const started = performance.now();
    second.abort();
    assert.equal(await watching[1], undefined);
    assert.ok(performance.now() - started < 1_000, 'watch did not wait for the questions to time out');
    assert.equal(signals.get(follower)?.aborted, true);
    assert.equal(signals.get(other)?.aborted, true);
  });
});

describe('a write the leader check moves', () => {
  it('is retried on the new leader at once, without the backoff delay', async () => {
    const hung = 'http://127.0.0.1:4001';
    const newLeader = 'http://127.0.0.2:4001';
    const reply = (body: unknown): Promise<HttpResponse> =>
      Promise.resolve({ status: 200, location: undefined, contentType: 'application/json', body: new TextEncoder().encode(JSON.stringify(body)) });
    const writes: string[] = [];
    const transport: HttpTransport = {
      send: (request: HttpRequest) => {
        const url = new URL(request.url);
        if (url.pathname === '/status') return reply({ node_id: 'n2', addr: '127.0.0.2:4002', api_addr: '127.0.0.2:4001' });
        if (url.pathname !== '/db/execute') return Promise.resolve({ status: 404, location: undefined, contentType: undefined, body: new Uint8Array() });
        writes.push(url.origin);
        // The leader answers the first write, then hangs: that attempt ends only when the check aborts it.
        if (url.origin === hung && writes.length > 1) {
          return new Promise((_, reject) => request.signal?.addEventListener('abort', () => reject(request.signal?.reason), { once: true }));
        }
        return reply({ results: [{ rows_affected: 1 }], raft_index: 7 });
      },
      close: () => Promise.resolve(),
    };
    const sleeps: number[] = [];
    const client = createClient({
      nodes: [hung, newLeader],
      transport,
      discoverNodes: false,
      leaderCheckAfterMs: 1,
      // A backoff would be drawn near its ceiling (25 ms) and recorded here.
      random: () => 0.99,
      sleep: (delayMs) => {
        sleeps.push(delayMs);
        return Promise.resolve();
      },
    });
    try {
      await client.execute({ sql: 'INSERT INTO t VALUES (0)' });
      assert.equal(client.knownLeader, hung, 'the client knows the leader before it hangs');
      const result = await client.execute({ sql: 'INSERT INTO t VALUES (1)' });
      assert.equal(result.results[0]?.rowsAffected, 1);
      assert.deepEqual(writes, [hung, hung, newLeader], 'the write went to the hung leader, then to the leader the check found');
      assert.deepEqual(sleeps, [], 'no backoff before the retry on the new leader');
      assert.equal(client.knownLeader, newLeader);
    } finally {
      await client.close();
    }
  });
});
