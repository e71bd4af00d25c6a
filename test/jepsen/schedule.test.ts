/**
 * The nemesis schedule gives every kind its turn even when a kind cannot begin when its
 * turn comes (found by the bounded suite under load: a removal left two members whenever
 * the partition's turn came, so the partition never ran and the run failed its "every
 * kind ran" check). A kind that declines keeps its place at the front and begins as soon
 * as it can; another kind takes the slot meanwhile.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../sim/prng.js';
import type { JepsenCluster } from './cluster.js';
import type { NemesisKind } from './history.js';
import type { ActiveFault, Nemesis } from './nemesis/nemesis.js';
import { NemesisSchedule } from './nemesis/schedule.js';

const declineCount = 10;
const eventCountWanted = 16;

test('a kind that declines is tried again at the next fault, not a whole round later, and the slot is not lost meanwhile', async () => {
  const cluster = { leader: async () => undefined } as unknown as JepsenCluster;
  let schedule: NemesisSchedule | undefined;
  const attempts: NemesisKind[] = [];
  const nemesis = (kind: NemesisKind, declines: number): Nemesis => {
    let left = declines;
    return {
      kind,
      begin: async (): Promise<ActiveFault | undefined> => {
        attempts.push(kind);
        if (left > 0) {
          left -= 1;
          return undefined;
        }
        if ((schedule?.events.length ?? 0) + 1 >= eventCountWanted) schedule?.stop();
        return { kind, description: kind, targets: [], leaderAffected: false, heal: async () => undefined };
      },
    };
  };
  const nemeses = [nemesis('partition', declineCount), nemesis('kill', 0), nemesis('disk', 0), nemesis('membership', 0)];
  const origin = performance.now();
  schedule = new NemesisSchedule(
    cluster,
    nemeses,
    new Prng(7),
    () => performance.now() - origin,
    () => undefined,
    {
      quietMsMin: 1,
      quietMsMax: 2,
      holdMsMin: 1,
      holdMsMax: 2,
      pairChance: 0,
    },
  );
  await schedule.run(10_000);
  const kinds = schedule.events.map((event) => event.kind);
  assert.equal(kinds.length, eventCountWanted, 'every spell had a fault: a declined turn passed to another kind');
  // Its first turn comes within the first round; from then on it is tried at every spell until it begins
  // (passed over for a whole round each time, it would begin only after about declineCount rounds).
  const partitionAt = kinds.indexOf('partition');
  assert.ok(partitionAt >= declineCount && partitionAt <= declineCount + nemeses.length - 1, `the partition began at spell ${partitionAt}: ${kinds.join(' ')}`);
  assert.equal(attempts.filter((kind) => kind === 'partition').length, declineCount + kinds.filter((kind) => kind === 'partition').length);
  for (const kind of ['kill', 'disk', 'membership'] as const) assert.ok(kinds.includes(kind), `${kind} ran: ${kinds.join(' ')}`);
});
