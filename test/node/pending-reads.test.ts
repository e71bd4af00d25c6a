/**
 * Linearizable reads batched into ReadIndex rounds (src/node/pending-reads.ts): at most one
 * round in flight, reads that arrive meanwhile join the next one, never the one in flight.
 * Driven by hand: the requester records each round's context as the core would receive it,
 * and the test answers rounds as the Ready loop would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingReads } from '../../src/node/pending-reads.js';
import { ServiceError } from '../../src/service/service.js';
import { ManualScheduler } from './manual-scheduler.js';

const retryMs = 1_000;

function code(expected: string): (error: unknown) => boolean {
  return (error) => error instanceof ServiceError && error.code === expected;
}

/** A table whose rounds are recorded in `contexts`; `viaLeader` says what the requester answers. */
function readTable(options: { countMax?: number; viaLeader?: boolean } = {}) {
  const scheduler = new ManualScheduler();
  const contexts: Uint8Array[] = [];
  let refusal: Error | undefined;
  const reads = new PendingReads({ countMax: options.countMax ?? 100, retryMs }, scheduler, (context) => {
    if (refusal !== undefined) throw refusal;
    contexts.push(context);
    return options.viaLeader ?? false;
  });
  const round = (position: number): Uint8Array => {
    const context = contexts[position];
    assert.ok(context !== undefined, `round ${position} was not started (${contexts.length} started)`);
    return context;
  };
  const refuseRounds = (error: Error | undefined): void => {
    refusal = error;
  };
  return { scheduler, contexts, reads, round, refuseRounds };
}

/** The read's outcome so far: its index, its error, or 'waiting'. */
function track(read: Promise<number>): { readonly outcome: number | Error | 'waiting' } {
  const tracked: { outcome: number | Error | 'waiting' } = { outcome: 'waiting' };
  read.then(
    (index) => {
      tracked.outcome = index;
    },
    (error: Error) => {
      tracked.outcome = error;
    },
  );
  return tracked;
}

test('a read that arrives while a round is in flight is not answered by it: it waits for the next round', async () => {
  const { scheduler, contexts, reads, round } = readTable();
  const first = track(reads.join(10_000));
  assert.equal(contexts.length, 1, 'the first read starts a round at once');
  const joiners = [track(reads.join(10_000)), track(reads.join(10_000)), track(reads.join(10_000))];
  assert.equal(contexts.length, 1, 'reads arriving meanwhile start no round of their own');
  reads.confirmed(round(0), 5);
  await scheduler.settle();
  assert.equal(first.outcome, 5);
  for (const joiner of joiners) assert.equal(joiner.outcome, 'waiting', 'the round in flight took its index before this read arrived');
  assert.equal(contexts.length, 2, 'the next round starts as soon as the one in flight ends');
  reads.confirmed(round(1), 7);
  await scheduler.settle();
  for (const joiner of joiners) assert.equal(joiner.outcome, 7, 'one round serves every read that joined it');
  assert.deepEqual(reads.counts, { readCount: 4, roundCount: 2 });
  assert.equal(reads.count, 0);
});

test("a failed round fails each of its reads with the round's error; the reads waiting start the next round", async () => {
  const { scheduler, contexts, reads, round } = readTable({ viaLeader: true });
  const inFlight = [track(reads.join(10_000)), track(reads.join(10_000))];
  reads.confirmed(round(0), 3);
  const waiting = track(reads.join(10_000));
  reads.failed(round(1), new ServiceError('NOT_LEADER', 'leadership lost'));
  await scheduler.settle();
  assert.equal(inFlight[0]?.outcome, 3);
  const failed = inFlight[1]?.outcome;
  // A round asked of the leader that the leader did not confirm: retry, not a redirect (as before batching).
  assert.ok(code('UNAVAILABLE')(failed), String(failed));
  assert.match((failed as Error).message, /leader changed or refused it/);
  assert.equal(waiting.outcome, 'waiting');
  assert.equal(contexts.length, 3);
  reads.confirmed(round(2), 9);
  await scheduler.settle();
  assert.equal(waiting.outcome, 9);
});

test('each read keeps its own timeout; a round whose reads all timed out is abandoned and its late answer ignored', async () => {
  const { scheduler, contexts, reads, round } = readTable();
  const short = track(reads.join(100));
  await scheduler.advance(50);
  const long = track(reads.join(5_000));
  await scheduler.advance(60);
  assert.ok(code('TIMEOUT')(short.outcome), String(short.outcome));
  assert.match((short.outcome as Error).message, /linearizable read not confirmed within 100ms/);
  assert.equal(contexts.length, 2, 'the emptied round was given up: the waiting read got a round at once');
  reads.confirmed(round(0), 4);
  await scheduler.settle();
  assert.equal(long.outcome, 'waiting', 'the abandoned round started before this read arrived');
  reads.confirmed(round(1), 6);
  await scheduler.settle();
  assert.equal(long.outcome, 6);
});

test('a round unanswered for retryMs (a lost message) is asked again, with the reads that joined meanwhile', async () => {
  const { scheduler, contexts, reads, round } = readTable();
  const first = track(reads.join(10_000));
  await scheduler.advance(retryMs / 2);
  const second = track(reads.join(10_000));
  await scheduler.advance(retryMs / 2);
  assert.equal(contexts.length, 2, 'a fresh round after retryMs');
  reads.confirmed(round(0), 2); // the lost round's answer turns up late: ignored
  await scheduler.settle();
  assert.equal(first.outcome, 'waiting');
  reads.confirmed(round(1), 8);
  await scheduler.settle();
  assert.equal(first.outcome, 8);
  assert.equal(second.outcome, 8, 'the retried round started after both reads arrived');
  assert.equal(scheduler.pendingTimerCount, 0, 'no timer left behind');
});

test('the bound counts reads in flight and waiting: at countMax the next read is refused at once', async () => {
  const countMax = 3;
  const { scheduler, reads, round } = readTable({ countMax });
  const accepted = [track(reads.join(10_000)), track(reads.join(10_000)), track(reads.join(10_000))];
  assert.equal(reads.count, countMax);
  await assert.rejects(
    reads.join(10_000),
    (error: unknown) => code('UNAVAILABLE')(error) && /too many linearizable reads in flight \(3\)/.test((error as Error).message),
  );
  reads.confirmed(round(0), 1); // the first read's round: one slot frees
  const next = track(reads.join(10_000));
  await assert.rejects(reads.join(10_000), code('UNAVAILABLE'));
  reads.confirmed(round(1), 2);
  await scheduler.settle();
  assert.deepEqual(
    accepted.map((read) => read.outcome),
    [1, 2, 2],
  );
  assert.equal(next.outcome, 'waiting', 'it arrived while the second round was in flight');
  reads.confirmed(round(2), 3);
  await scheduler.settle();
  assert.equal(next.outcome, 3);
});

test('a round the core refuses at the call fails its reads with that refusal; the next read starts afresh', async () => {
  const { scheduler, contexts, reads, round, refuseRounds } = readTable();
  refuseRounds(new ServiceError('NO_LEADER', 'leader not found'));
  await assert.rejects(reads.join(10_000), code('NO_LEADER'));
  refuseRounds(undefined);
  const read = track(reads.join(10_000));
  assert.equal(contexts.length, 1);
  reads.confirmed(round(0), 11);
  await scheduler.settle();
  assert.equal(read.outcome, 11);
});

test('failAll fails the reads in flight and the reads waiting, and leaves no timer', async () => {
  const { scheduler, reads } = readTable();
  const inFlight = reads.join(10_000);
  const waiting = reads.join(10_000);
  reads.failAll(new ServiceError('UNAVAILABLE', 'node is shutting down'));
  await assert.rejects(inFlight, /shutting down/);
  await assert.rejects(waiting, /shutting down/);
  assert.equal(reads.count, 0);
  assert.equal(scheduler.pendingTimerCount, 0);
});
