/**
 * `quorumlite status` against a real in-process node: a readable summary (lines and
 * tables, not JSON) with the node, its leader, indexes, members and recent events;
 * `--json` still prints the /status document. The table formatting on its own: columns
 * line up, a follower's lag shows on the leader, control characters never reach the terminal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { runCli } from '../../src/cli/main.js';
import { formatStatusSummary, formatTable } from '../../src/cli/status-summary.js';
import type { QuorumNode } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { startTestNode } from '../node/start-node.js';

let node: QuorumNode;
let address: string;
let directory: string;

before(async () => {
  const started = await startTestNode('status-summary');
  ({ node, dataDirectory: directory } = started);
  address = started.baseUrl.replace('http://', '');
  await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
});

after(async () => {
  await node?.stop();
  rmSync(directory, { recursive: true, force: true });
});

async function status(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runCli(['status', '--http-addr', address, ...argv], { stdout: (text) => void out.push(text), stderr: (text) => void out.push(text) });
  return { code, out: out.join('') };
}

describe('quorumlite status', () => {
  it('prints a summary with the node, leader, indexes, members and recent events', async () => {
    const { code, out } = await status([]);
    assert.equal(code, 0, out);
    assert.throws(() => JSON.parse(out));
    const id = node.config.nodeId;
    assert.match(out, new RegExp(`^Node +${id} \\(Leader, term \\d+\\), version test$`, 'm'));
    assert.match(out, new RegExp(`^Leader +${id} at `, 'm'));
    assert.match(out, /^Indexes +commit \d+, applied \d+, last log \d+, last snapshot \d+$/m);
    assert.match(out, /^Health +ready, up /m);
    assert.match(out, /^MEMBER \(\* this node\) +ROLE +VOTER +REACHABLE +API ADDRESS +MATCH +LAG$/m);
    assert.match(out, new RegExp(`^${id} \\* +Leader +yes +yes +http://${address} +\\d+ +0$`, 'm'));
    assert.match(out, /^Recent events \(newest first, up to 10\)$/m);
    assert.match(out, /^\S+Z +info +elected +term=\d+$/m);
  });

  it('prints the /status document with --json', async () => {
    const { code, out } = await status(['--json']);
    assert.equal(code, 0, out);
    assert.equal((JSON.parse(out) as { store: { raft: { state: string } } }).store.raft.state, 'Leader');
  });
});

describe('the summary format', () => {
  it('lines up columns', () => {
    assert.equal(formatTable(['A', 'LONGER'], [['wide cell', 'x']]), 'A          LONGER\nwide cell  x');
  });

  it("shows a follower's lag on the leader and keeps control characters out", () => {
    const summary = formatStatusSummary(
      {
        store: {
          node_id: 'n1',
          ready: true,
          halted: null,
          leader: { node_id: 'n1', api_addr: 'http://h:1' },
          raft: { state: 'Leader', term: 2, last_log_index: 9 },
        },
        replication: { followers: [{ id: 'n2', match_index: 4, lag_entries: 5 }] },
        events: [{ time: 't', level: 'warn', event: 'halted', fields: { reason: 'disk-full\u001b[2J' } }],
      },
      [
        { id: 'n1', voter: true, leader: true, reachable: true, api_addr: 'http://h:1' },
        { id: 'n2', voter: true, leader: false, reachable: false, error: 'gone' },
      ],
    );
    assert.match(summary, /^n2 +Follower +yes +no gone +4 +5$/m);
    assert.match(summary, /^t +warn +halted +reason=disk-full \[2J$/m);
    assert.equal(summary.includes('\u001b'), false);
  });
});
