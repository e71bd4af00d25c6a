/**
 * The follower-read scenarios of follower-reads.test.ts, shared with the etcd log's run
 * (test/etcd/etcd-cluster-scenarios.test.ts): a running 3-node cluster whose table
 * `events (id INTEGER PRIMARY KEY)` exists and is empty.
 */
import assert from 'node:assert/strict';
import { whilePaused } from '../client/helpers/process-pause.js';
import { sleep, waitFor, type HttpAnswer, type TestCluster, type TestNode } from './harness.js';

const linearizable = '?level=linearizable&timeout=3s&linearizable_timeout=3s';
/** Bound on the reads tried while the cluster fails over (each waits at most 3 s). */
const failoverReadAttemptsMax = 200;

function countOf(answer: HttpAnswer): number | undefined {
  const body = answer.body as { error?: string; results?: { error?: string; values?: number[][] }[] };
  if (answer.status !== 200 || body.error !== undefined || body.results?.[0]?.error !== undefined) return undefined;
  return body.results?.[0]?.values?.[0]?.[0];
}

let nextId = 1;

/** Inserts a fresh row through `node`; true when acknowledged. */
async function insert(node: TestNode): Promise<boolean> {
  const id = nextId++;
  const answer = await node.execute([['INSERT INTO events(id) VALUES (?)', id]], '?timeout=3s').catch(() => undefined);
  const body = answer?.body as { error?: string; results?: { error?: string; rows_affected?: number }[] } | undefined;
  return answer?.status === 200 && body?.error === undefined && body?.results?.[0]?.rows_affected === 1;
}

/** a follower answers a linearizable read itself and sees every acknowledged write; redirect and strong go to the leader. */
export async function followerAnswersLinearizableReads(cluster: TestCluster): Promise<void> {
  const leader = await cluster.waitForLeader();
  const follower = cluster.nodes.find((node) => node !== leader)!;
  for (let id = 1; id <= 10; id++) {
    assert.ok(await insert(leader), `write ${id}`);
    const read = await follower.query('SELECT count(*) FROM events', linearizable);
    assert.equal(countOf(read), id, read.text);
    assert.equal(read.headers.get('x-rqlite-served-by'), follower.raftAddress, 'served by the follower');
  }
  const redirected = await follower.query('SELECT count(*) FROM events', `${linearizable}&redirect`);
  assert.equal(redirected.status, 301, redirected.text);
  assert.equal(new URL(redirected.headers.get('location') ?? '').host, `${leader.spec.host}:${leader.spec.httpPort}`);
  const strong = await follower.query('SELECT count(*) FROM events', '?level=strong');
  assert.equal(countOf(strong), 10, strong.text);
  assert.equal(strong.headers.get('x-rqlite-served-by'), leader.raftAddress, 'strong is read by the leader');
}

/** leader killed: follower linearizable reads fail or wait, never miss an acknowledged write; then they are served again. */
export async function followerReadsAcrossLeaderKill(cluster: TestCluster): Promise<void> {
  const leader = await cluster.waitForLeader();
  const survivors = cluster.nodes.filter((node) => node !== leader);
  let acknowledged = countOf(await leader.query('SELECT count(*) FROM events', linearizable)) ?? 0;
  for (let write = 0; write < 5; write++) assert.ok(await insert(leader), `write ${write}`);
  acknowledged += 5;
  await leader.kill();
  const outcomes = { served: 0, refused: 0 };
  for (let attempt = 0; attempt < failoverReadAttemptsMax; attempt++) {
    const reader = survivors[attempt % 2]!;
    const read = await reader.query('SELECT count(*) FROM events', linearizable).catch(() => undefined);
    const count = read === undefined ? undefined : countOf(read);
    if (count === undefined) {
      outcomes.refused++;
      await sleep(50);
      continue;
    }
    outcomes.served++;
    assert.ok(count >= acknowledged, `a stale read on ${reader.id}: ${count} rows, ${acknowledged} acknowledged before it was sent`);
    if (outcomes.served >= 10) break;
  }
  assert.ok(outcomes.served >= 10, `reads never came back after the failover (${JSON.stringify(outcomes)})`);
  const newLeader = await cluster.waitForLeader(survivors);
  const follower = survivors.find((node) => node !== newLeader)!;
  await waitFor('a write through the new leader', async () => ((await insert(newLeader)) ? true : undefined));
  acknowledged += 1;
  const read = await follower.query('SELECT count(*) FROM events', linearizable);
  assert.ok((countOf(read) ?? 0) >= acknowledged, read.text);
  assert.equal(read.headers.get('x-rqlite-served-by'), follower.raftAddress);
}

/** Reads on the leader while one follower is stopped, for each follower in turn (each pause bounded by this many reads). */
const readsWhilePaused = 30;

/**
 * A follower stopped (SIGSTOP): the leader's linearizable reads are still served, every
 * one seeing every acknowledged write. A read round asks only the followers a quorum
 * needs, so one of the two pauses stops the follower the leader asks first: the tick's
 * heartbeat, to every follower, must confirm that round, and the leader must then ask the
 * other (otherwise each read would wait for its timeout and fail).
 */
export async function leaderReadsWithAFollowerStopped(cluster: TestCluster): Promise<void> {
  const leader = await cluster.waitForLeader();
  for (let read = 0; read < 10; read++) assert.notEqual(countOf(await leader.query('SELECT count(*) FROM events', linearizable)), undefined);
  for (const stopped of cluster.nodes.filter((node) => node !== leader)) {
    const served = await whilePaused(stopped, async () => {
      let count = 0;
      for (let read = 0; read < readsWhilePaused; read++) {
        assert.ok(await insert(leader), `write ${read} with node ${stopped.id} stopped`);
        const expected = countOf(await leader.query('SELECT count(*) FROM events', '?level=strong'));
        const answer = await leader.query('SELECT count(*) FROM events', linearizable);
        assert.equal(countOf(answer), expected, `read ${read} with node ${stopped.id} stopped: ${answer.text}`);
        count++;
      }
      return count;
    });
    assert.equal(served, readsWhilePaused);
  }
}
