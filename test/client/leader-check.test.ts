/** Reading the leader from a node's `/status?key=store.leader` answer (leader-check.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterView } from '../../src/client/cluster-view.js';
import { LeaderCheck, leaderFromStatus } from '../../src/client/leader-check.js';
import { resolveConfig } from '../../src/client/options.js';
import type { HttpResponse, HttpTransport } from '../../src/client/transport.js';

describe('leaderFromStatus', () => {
  it("gives the leader's API URL, in the queried node's scheme when the address has none", () => {
    const leader = { node_id: '127.0.0.2:4002', addr: '127.0.0.2:4002', api_addr: '127.0.0.2:4001' };
    assert.equal(leaderFromStatus(leader, 'http://127.0.0.1:4001'), 'http://127.0.0.2:4001');
    assert.equal(leaderFromStatus(leader, 'https://127.0.0.1:4001'), 'https://127.0.0.2:4001');
    assert.equal(leaderFromStatus({ ...leader, api_addr: 'http://127.0.0.3:4001' }, 'http://127.0.0.1:4001'), 'http://127.0.0.3:4001');
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
