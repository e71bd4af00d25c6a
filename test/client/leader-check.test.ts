/** Reading the leader from a node's `/status?key=store.leader` answer (leader-check.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leaderFromStatus } from '../../src/client/leader-check.js';

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
