/**
 * A linearizable read on a leader that has not yet committed an entry of its own term
 * (Raft §6.4) waits for that commit and answers from a state holding it: the state the
 * node has when the read arrives may lack a write its predecessor committed and
 * acknowledged before the read began. Session 28 tried running a leader's read while its
 * round was out (bench/README.md); this test failed on that build until its answer was
 * checked against the read index. A real NodeRuntime and service with a ManualScheduler;
 * the test plays n2 and n3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DataResponse } from '../../src/service/service.js';
import type { Entry, Message } from '../../src/raft/types.js';
import { raftMessage } from '../raft/helpers.js';
import type { InMemoryRuntime } from './in-memory-runtime.js';
import { startInMemoryRuntime } from './in-memory-runtime.js';
import { serviceFor } from './in-memory-service.js';
import { queryRequest, statement } from './requests.js';
import { acknowledgeAppends, followerOfNewTerm, reply, winElection } from './roles.js';

const context = { signal: new AbortController().signal };

function count(answer: DataResponse): unknown {
  return (answer.results[0] as { rows?: unknown[][] }).rows?.[0]?.[0];
}

/** The read rounds' heartbeats (the ones with a context) sent since `mark`. */
function readRounds(node: InMemoryRuntime, mark: number): Message[] {
  return node.transport.sent.slice(mark).filter((message) => message.type === 'MsgHeartbeat' && message.context.length > 0);
}

test("a new leader's linearizable read that arrives before its term's first commit sees its predecessor's last write", async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3'], { heartbeatMs: 50, electionTimeoutMs: 500 });
  try {
    const { runtime, scheduler, transport } = node;
    const service = serviceFor(node);
    const { term, lastIndex, lastTerm } = await followerOfNewTerm(node);
    const command = (sql: string): Uint8Array => runtime.encodeCommandFor([statement(sql)], false, null);
    const entries: Entry[] = [
      { index: lastIndex + 1, term, type: 'normal', data: command('CREATE TABLE t (v INTEGER)') },
      { index: lastIndex + 2, term, type: 'normal', data: command('INSERT INTO t VALUES (1)') },
    ];
    // n2 leads: n1 stores both entries but hears only of the table's commit. With n1's copy the insert is on a
    // quorum, so n2 may commit it and acknowledge it to its client; then n2 goes quiet.
    transport.deliver(raftMessage({ type: 'MsgApp', from: 'n2', to: 'n1', term, index: lastIndex, logTerm: lastTerm, entries, commit: lastIndex + 1 }));
    await scheduler.settle();
    assert.equal(runtime.appliedIndex, lastIndex + 1, 'the table is applied, the insert is not known to be committed');

    // n1 campaigns and n3 votes for it.
    const leaderMark = await winElection(node, 'n3');
    assert.equal(runtime.appliedIndex, lastIndex + 1, "the new leader has not committed its term's first entry");

    // The read arrives now, while the node's state lacks the insert: it must not be answered from that state.
    const read = service.query(queryRequest('SELECT count(*) FROM t', { level: 'linearizable' }), context);
    await scheduler.settle();
    assert.equal(readRounds(node, leaderMark).length, 0, "no round before the leader's first entry commits");
    await acknowledgeAppends(node, 'n3', leaderMark);
    assert.equal(runtime.appliedIndex, lastIndex + 3, 'the insert and the new term first entry applied');
    const [round] = readRounds(node, leaderMark);
    assert.ok(round !== undefined, "the read's round went out once the term's first entry committed");
    transport.deliver(reply(round, 'MsgHeartbeatResp', { context: round.context }));
    await scheduler.settle();
    assert.equal(count(await read), 1, 'the read sees the write its predecessor may have acknowledged before the read began');
  } finally {
    await node.close();
  }
});
