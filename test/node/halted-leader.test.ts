/**
 * A leader whose disk is full halts (design decision 2) and, once the same step has failed
 * twice, hands leadership to its successor: the cluster goes on writing while that one
 * disk stays full, and the old leader catches up once space returns. Before, it kept
 * leading (its heartbeats went on, so no follower campaigned) and every write waited for
 * the disk. Needs root for a size-limited tmpfs; skips with a printed reason otherwise.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { QuorumNode } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { fillDisk, mountSmallDisk } from '../small-disk.js';
import { executeRequest, queryRequest, statement } from './requests.js';
import { TestNodes } from './start-node.js';

const disk = mountSmallDisk('halted-leader', 48 * 1024 * 1024);
const nodes = new TestNodes('halted-leader', { haltRetryIntervalMs: 100 });
const context = { signal: new AbortController().signal };
after(async () => {
  await nodes.stopAll();
  disk.remove();
});

const insert = (value: string) => executeRequest([statement('INSERT INTO t(v) VALUES (?)', value)], { timeoutMs: 30_000 });

test('a leader halted on a full disk hands leadership over; writes go on elsewhere, and it catches up once space returns', async (t) => {
  if (disk.skipped(t)) return;
  const leader = await nodes.start({ dataDirectory: join(disk.path, 'leader') });
  await waitFor('the first node leads', () => (leader.runtime.isLeader ? true : undefined));
  const join_ = { joinAddresses: [leader.config.raftAdvertisedAddress] };
  const followers = [await nodes.start(join_), await nodes.start(join_)];
  await waitFor('three voters', () => (leader.runtime.confState().voters.length === 3 ? true : undefined));
  await leader.service.execute(executeRequest([statement('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')]), context);
  await leader.service.execute(insert('before'), context);

  const filler = fillDisk(disk.path);
  try {
    // The write that meets the full disk: the leader halts on it. Its answer may be an error (leadership moved under it).
    const first = leader.service.execute(insert('during'), context).then(
      () => 'acknowledged',
      (error: unknown) => String(error),
    );
    const successor = await waitFor('another node leads', () => followers.find((node) => node.runtime.isLeader), 15_000);
    assert.equal(leader.runtime.isLeader, false);
    assert.ok(leader.runtime.haltError !== undefined, 'the old leader is still halted: its disk is still full');
    // Writes go on while the old leader's disk stays full.
    const written = await successor.service.execute(insert('elsewhere'), context);
    assert.equal(written.results[0]?.kind, 'write');
    await first;
    const rows = await successor.service.query(queryRequest('SELECT v FROM t ORDER BY id', { level: 'linearizable' }), context);
    const values = rows.results[0]?.kind === 'rows' ? rows.results[0].rows.map((row) => row[0]) : [];
    assert.ok(values.includes('elsewhere') && values.includes('before'), JSON.stringify(values));
    assert.ok(values.filter((value) => value === 'during').length <= 1, 'a write is applied once at most');
  } finally {
    rmSync(filler, { force: true });
  }
  await waitFor('the old leader resumes and catches up', () => {
    const target = followers[0] as QuorumNode;
    return leader.runtime.haltError === undefined && leader.runtime.appliedIndex >= target.runtime.appliedIndex ? true : undefined;
  });
});
