/**
 * Follower reads under a real partition (iptables, see packet-filter.ts): three nodes on
 * 127.0.0.5, .6 and .7; one follower is cut off from the leader (both ways) but not from
 * the other follower. The leader and the other follower go on committing writes. The cut
 * off follower's database is then behind (a `none` read shows it), and its linearizable
 * reads fail or wait (it cannot get a read index from the leader) but never answer with
 * its stale rows. Healed, it serves them itself again, with every acknowledged write.
 * Skipped, with the reason printed, where iptables is missing or not permitted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type TestCluster, waitFor, type HttpAnswer, type TestNode } from './harness.js';
import { startFilteredCluster, type FilteredCluster } from './filtered-cluster.js';
import { type PacketFilter, iptablesUnavailableReason, type Endpoint } from './packet-filter.js';

const unavailable = iptablesUnavailableReason();
if (unavailable !== undefined) console.log(`skipping iptables follower-read tests: ${unavailable}`);
const skip = unavailable ?? false;

let started: FilteredCluster | undefined;
let cluster: TestCluster | undefined;
let filter: PacketFilter | undefined;

before(async () => {
  if (unavailable !== undefined) return;
  started = await startFilteredCluster(5, 'CREATE TABLE events (id INTEGER PRIMARY KEY)');
  ({ cluster, filter } = started);
});

after(() => started?.close());

const linearizable = '?level=linearizable&timeout=2s&linearizable_timeout=2s';
/** Linearizable reads tried on the cut-off follower (each fails within about 2 s). */
const partitionedReadCount = 6;

function peerEndpoint(node: TestNode): Endpoint {
  return { host: node.spec.host, port: node.spec.raftPort };
}

function countOf(answer: HttpAnswer): number | undefined {
  const body = answer.body as { error?: string; results?: { error?: string; values?: number[][] }[] };
  if (answer.status !== 200 || body.error !== undefined || body.results?.[0]?.error !== undefined) return undefined;
  return body.results?.[0]?.values?.[0]?.[0];
}

async function insertRows(node: TestNode, first: number, count: number): Promise<void> {
  for (let id = first; id < first + count; id++) {
    const answer = await node.execute([['INSERT INTO events(id) VALUES (?)', id]], '?timeout=5s');
    assert.equal(answer.status, 200, answer.text);
    assert.equal((answer.body as { results: { rows_affected?: number }[] }).results[0]?.rows_affected, 1, answer.text);
  }
}

test('a follower cut off from the leader never answers a linearizable read with stale rows; healed, it serves them again', { skip }, async (t) =>
  cluster!.withLogs(async () => {
    const leader = await cluster!.waitForLeader();
    const [follower, other] = cluster!.nodes.filter((node) => node !== leader) as [TestNode, TestNode];
    await insertRows(leader, 1, 5);
    await cluster!.waitForApplied((await leader.checksum()).appliedIndex);

    filter!.dropBothWays(peerEndpoint(leader), peerEndpoint(follower));
    await insertRows(leader, 6, 5); // committed by the leader and the other follower
    const local = countOf(await follower.query('SELECT count(*) FROM events', '?level=none'));
    assert.equal(local, 5, 'the cut-off follower is behind: a read without ReadIndex would be stale');

    for (let attempt = 0; attempt < partitionedReadCount; attempt++) {
      const read = await follower.query('SELECT count(*) FROM events', linearizable);
      const count = countOf(read);
      assert.equal(count, undefined, `a linearizable read on the cut-off follower answered ${count} rows (10 acknowledged)`);
      assert.equal(read.status, 503, read.text);
      t.diagnostic(`cut-off follower, read ${attempt + 1}: ${read.status} ${read.text.trim()}`);
    }
    assert.ok(filter!.droppedPacketCount() > 0, 'the partition dropped peer packets');
    const stillLeader = await leader.raftStatus();
    assert.equal(stillLeader.state, 'Leader', 'the leader kept its quorum with the other follower');
    assert.equal(countOf(await other.query('SELECT count(*) FROM events', linearizable)), 10, 'the connected follower serves reads meanwhile');

    filter!.heal();
    const healed = await waitFor('the healed follower serves linearizable reads', async () => {
      const read = await follower.query('SELECT count(*) FROM events', linearizable);
      return countOf(read) === undefined ? undefined : read;
    });
    assert.equal(countOf(healed), 10);
    assert.equal(healed.headers.get('x-rqlite-served-by'), follower.raftAddress);
  }),
);
