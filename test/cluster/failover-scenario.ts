/**
 * The failover scenario, run against either consensus (the embedded Raft in
 * failover.test.ts, etcd in test/etcd/etcd-failover.test.ts): kill -9 the leader while a
 * client writes. A new leader takes over, writes continue, every acknowledged write is on
 * every surviving node, and the killed node restarts, catches up, and ends with the same
 * content checksum as the others.
 */
import assert from 'node:assert/strict';
import { sleep, waitFor, type TestCluster, type TestNode } from './harness.js';

/** Bounds of the writer loop: attempts overall, and acknowledged writes wanted after the kill. */
const writeAttemptCountMax = 2000;
const writesAfterKillWanted = 30;

interface Writer {
  readonly acknowledged: number[];
  attempts: number;
  stop: boolean;
  done: Promise<void>;
}

/** Writes rows 1, 2, 3 … one at a time, to any running node; records those answered 200 without error. */
function startWriter(nodes: () => TestNode[]): Writer {
  const writer: Writer = { acknowledged: [], attempts: 0, stop: false, done: Promise.resolve() };
  writer.done = (async () => {
    let value = 0;
    while (!writer.stop && writer.attempts < writeAttemptCountMax) {
      value += 1;
      writer.attempts += 1;
      const candidates = nodes();
      const node = candidates[value % candidates.length];
      if (node === undefined) break;
      try {
        const answer = await node.execute([['INSERT INTO events(value) VALUES (?)', value]]);
        const results = (answer.body as { results?: { error?: string }[] }).results;
        if (answer.status === 200 && results?.[0] !== undefined && results[0].error === undefined) writer.acknowledged.push(value);
        else await sleep(50);
      } catch {
        await sleep(50); // the node died mid-request: the write is unacknowledged
      }
    }
  })();
  return writer;
}

/** Runs the scenario on a started 3-node cluster. */
export async function killLeaderUnderWrites(cluster: TestCluster): Promise<void> {
  const oldLeader = await cluster.waitForLeader();
  const created = await oldLeader.execute(['CREATE TABLE events (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)']);
  assert.equal(created.status, 200, created.text);

  const writer = startWriter(() => cluster.running());
  await waitFor('20 acknowledged writes before the kill', () => (writer.acknowledged.length >= 20 ? true : undefined));
  await oldLeader.kill();
  const acknowledgedAtKill = writer.acknowledged.length;

  const survivors = cluster.running();
  const newLeader = await cluster.waitForLeader(survivors);
  assert.notEqual(newLeader.id, oldLeader.id);
  await waitFor(`${writesAfterKillWanted} acknowledged writes after the kill`, () =>
    writer.acknowledged.length >= acknowledgedAtKill + writesAfterKillWanted ? true : undefined,
  );
  writer.stop = true;
  await writer.done;

  for (const node of survivors) {
    const answer = await node.query('SELECT value FROM events ORDER BY value', '?level=strong');
    assert.equal(answer.status, 200, answer.text);
    const present = new Set((answer.body as { results: { values?: number[][] }[] }).results[0]?.values?.map((row) => row[0]));
    const missing = writer.acknowledged.filter((value) => !present.has(value));
    assert.deepEqual(missing, [], `acknowledged writes missing on ${node.id}`);
  }

  oldLeader.start(cluster.flagsFor(oldLeader));
  const converged = await cluster.waitForConvergence(cluster.nodes);
  assert.ok(converged.appliedIndex > 0);
  const rejoined = await oldLeader.query('SELECT count(*) FROM events', '?level=none');
  const count = (rejoined.body as { results: { values: number[][] }[] }).results[0]?.values[0]?.[0] ?? 0;
  assert.ok(count >= writer.acknowledged.length, `restarted node has ${count} rows, at least the ${writer.acknowledged.length} acknowledged`);
}
