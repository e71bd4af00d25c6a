/**
 * The etcd client's per-member breaker (src/server/etcd-host-breaker.ts). The regression
 * it guards (FINDINGS J8): with cockatiel's breaker a call to a half-open member waited for
 * the member's trial call, which hangs to its deadline on a hung member; here it must fail
 * at once so the pool tries the next member.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBrokenCircuitError } from 'cockatiel';
import { type BreakerChange, EtcdHostBreaker, EtcdHostGroup } from '../../src/server/etcd-host-breaker.js';

class Unavailable extends Error {}
class DeadlineExceeded extends Unavailable {}
class Answered extends Error {}

function breaker(clock: { ms: number }, group?: EtcdHostGroup, changes?: BreakerChange[]): EtcdHostBreaker {
  return new EtcdHostBreaker({
    failureCountMax: 3,
    breakMs: 1_000,
    isFailure: (error) => error instanceof Unavailable,
    isHang: (error) => error instanceof DeadlineExceeded,
    now: () => clock.ms,
    ...(group === undefined ? {} : { group }),
    ...(changes === undefined ? {} : { onChange: (change: BreakerChange) => changes.push(change) }),
  });
}

const hang = (): Promise<never> => Promise.reject(new DeadlineExceeded('4 DEADLINE_EXCEEDED'));

const fail = (): Promise<never> => Promise.reject(new Unavailable('14 UNAVAILABLE'));
const succeed = (): Promise<string> => Promise.resolve('ok');

async function failTimes(subject: EtcdHostBreaker, count: number): Promise<void> {
  for (let index = 0; index < count; index += 1) await assert.rejects(subject.execute(fail), Unavailable);
}

test('opens after failureCountMax failures in a row, not one before; a success in between starts the count again', async () => {
  const clock = { ms: 0 };
  const subject = breaker(clock);
  await failTimes(subject, 2);
  assert.equal(subject.state, 'closed');
  assert.equal(await subject.execute(succeed), 'ok');
  await failTimes(subject, 2);
  assert.equal(subject.state, 'closed');
  await failTimes(subject, 1);
  assert.equal(subject.state, 'open');
  await assert.rejects(subject.execute(succeed), (error: unknown) => isBrokenCircuitError(error));
});

// J11 (test/jepsen/FINDINGS.md): three failures in a row were rarely reached on a member cut off from the others, since
// the pool shuffles the members for each call, and each pick of it cost a call the whole deadline.
test('J11: one call that ran to its deadline skips the member at once while another member is closed; a refusal still needs three', async () => {
  const clock = { ms: 0 };
  const group = new EtcdHostGroup();
  const changes: BreakerChange[] = [];
  const subject = breaker(clock, group, changes);
  breaker(clock, group);
  await failTimes(subject, 2);
  assert.equal(subject.state, 'closed', 'two refusals');
  assert.equal(await subject.execute(succeed), 'ok');
  await assert.rejects(subject.execute(hang), DeadlineExceeded);
  assert.equal(subject.state, 'open', 'one hang');
  assert.deepEqual(changes, [{ skipped: true, reason: 'hung while another member answers' }]);
  clock.ms = 999;
  await assert.rejects(subject.execute(succeed), (error: unknown) => isBrokenCircuitError(error));
  clock.ms = 1_000;
  assert.equal(await subject.execute(succeed), 'ok');
  assert.equal(subject.state, 'closed');
  assert.deepEqual(changes.at(-1), { skipped: false });
});

// The first fix of J11 skipped a member on any hang: while etcd elected a leader, a healthy member waiting on the
// election hung too, every member was skipped, and every call failed at once until the leader's next poll (7 s stalls).
test('J11: while no other member is closed, a hang counts as one failure in a row, no more', async () => {
  const clock = { ms: 0 };
  const group = new EtcdHostGroup();
  const subject = breaker(clock, group);
  const other = breaker(clock, group);
  await failTimes(other, 3);
  assert.equal(other.state, 'open');
  await assert.rejects(subject.execute(hang), DeadlineExceeded);
  await assert.rejects(subject.execute(hang), DeadlineExceeded);
  assert.equal(subject.state, 'closed', 'two hangs with the only other member skipped');
  await assert.rejects(subject.execute(hang), DeadlineExceeded);
  assert.equal(subject.state, 'open', 'the third failure in a row');
});

test('without a group a hang is one failure like any other; a failed trial does not report a new skip', async () => {
  const clock = { ms: 0 };
  const changes: BreakerChange[] = [];
  const subject = breaker(clock, undefined, changes);
  await assert.rejects(subject.execute(hang), DeadlineExceeded);
  assert.equal(subject.state, 'closed');
  await failTimes(subject, 2);
  assert.deepEqual(changes, [{ skipped: true, reason: 'failures in a row' }]);
  clock.ms = 1_000;
  await failTimes(subject, 1);
  assert.equal(subject.state, 'open');
  assert.equal(changes.length, 1, 'the failed trial extended the skip silently');
});

test('an error etcd answered with (not a failure of the member) does not count', async () => {
  const subject = breaker({ ms: 0 });
  for (let index = 0; index < 5; index += 1)
    await assert.rejects(
      subject.execute(() => Promise.reject(new Answered('compare failed'))),
      Answered,
    );
  assert.equal(subject.state, 'closed');
});

test('skipped for breakMs exactly; then one trial call goes through and closes it on success', async () => {
  const clock = { ms: 0 };
  const subject = breaker(clock);
  await failTimes(subject, 3);
  clock.ms = 999;
  await assert.rejects(subject.execute(succeed), (error: unknown) => isBrokenCircuitError(error));
  clock.ms = 1_000;
  assert.equal(await subject.execute(succeed), 'ok');
  assert.equal(subject.state, 'closed');
});

test('a failed trial skips the member for another breakMs', async () => {
  const clock = { ms: 0 };
  const subject = breaker(clock);
  await failTimes(subject, 3);
  clock.ms = 1_000;
  await failTimes(subject, 1);
  assert.equal(subject.state, 'open');
  clock.ms = 1_999;
  await assert.rejects(subject.execute(succeed), (error: unknown) => isBrokenCircuitError(error));
  clock.ms = 2_000;
  assert.equal(await subject.execute(succeed), 'ok');
});

test('J8: while the trial call hangs, other calls fail at once instead of waiting for it', async () => {
  const clock = { ms: 0 };
  const subject = breaker(clock);
  await failTimes(subject, 3);
  clock.ms = 1_000;
  let endTrial: (value: string) => void = () => undefined;
  const trial = subject.execute(() => new Promise<string>((resolve) => (endTrial = resolve)));
  assert.equal(subject.state, 'trying');
  let outcome: unknown = 'pending';
  void subject.execute(succeed).then(
    (value) => (outcome = value),
    (error: unknown) => (outcome = error),
  );
  // A few turns of the event loop: a call that waited on the trial would still be pending.
  for (let turn = 0; turn < 5; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  assert.notEqual(outcome, 'pending', 'the second call waited for the hung trial');
  assert.ok(isBrokenCircuitError(outcome), `the second call: ${String(outcome)}`);
  endTrial('late');
  assert.equal(await trial, 'late');
  assert.equal(subject.state, 'closed');
});

test('a call admitted before the member was skipped does not close the breaker when it answers late', async () => {
  const clock = { ms: 0 };
  const subject = breaker(clock);
  let endSlow: (value: string) => void = () => undefined;
  const slow = subject.execute(() => new Promise<string>((resolve) => (endSlow = resolve)));
  await failTimes(subject, 3);
  endSlow('slow');
  assert.equal(await slow, 'slow');
  assert.equal(subject.state, 'open');
});
