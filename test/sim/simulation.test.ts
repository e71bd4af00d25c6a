import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clusterSizeForSeed, formatFailure, runSeeds } from './run-seeds.js';
import { addedNodesMax, runSimulation } from './simulation.js';
import { plantedBugs } from './planted-bugs.js';
import { regressionSeeds } from './regression-seeds.js';

/** The batch: 300 seeds across 3-, 5- and 7-node clusters. */
const batchSeedCount = 300;
/** Seeds a planted bug may take to show up before the test gives up. */
const plantedBugSeedsMax = 40;

describe('simulated clusters', () => {
  it(`keeps every invariant on ${batchSeedCount} seeds across 3/5/7-node clusters`, () => {
    const summary = runSeeds(1, batchSeedCount);
    assert.deepEqual(summary.failures.map((failure) => formatFailure(failure)), []);
    // The batch must actually exercise the faults and features it claims to.
    const seedsWith = summary.seedsWith;
    const expectations: Record<string, number> = {
      crashes: 150, partitions: 150, messagesDropped: 200, snapshotsInstalled: 200, snapshotsSent: 200,
      membershipChangesApplied: 120, transfersRequested: 100, operationsOk: batchSeedCount, operationsUnknown: 50,
    };
    for (const [feature, seedsAtLeast] of Object.entries(expectations)) {
      assert.ok((seedsWith[feature] ?? 0) >= seedsAtLeast, `only ${seedsWith[feature] ?? 0} seeds with ${feature}, expected >= ${seedsAtLeast}`);
    }
    assert.equal(summary.linearizabilityUnknown, 0, 'every history should be decided within the search bound');
    // Membership changes add fresh nodes up to the bound, never past it.
    assert.equal(summary.nodesAddedMax, addedNodesMax);
  });

  it('replays a seed exactly: the same seed twice gives the same trace', () => {
    for (const seed of [1, 2, 3]) {
      const first = runSimulation({ seed, clusterSize: clusterSizeForSeed(seed) });
      const second = runSimulation({ seed, clusterSize: clusterSizeForSeed(seed) });
      assert.equal(first.traceHash, second.traceHash);
      assert.deepEqual(first.traceTail, second.traceTail);
      assert.deepEqual(first.stats, second.stats);
    }
    const hashes = new Set([4, 5, 6, 7].map((seed) => runSimulation({ seed, clusterSize: 3 }).traceHash));
    assert.equal(hashes.size, 4, 'different seeds must give different histories');
  });

  it('prints the full trace through the sink, identically on a replay', () => {
    const capture = (): string[] => {
      const lines: string[] = [];
      runSimulation({ seed: 11, clusterSize: 5, chaosTicks: 100, traceSink: (line) => lines.push(line) });
      return lines;
    };
    const first = capture();
    assert.ok(first.length > 100);
    assert.deepEqual(capture(), first);
  });

  it('passes every regression seed', () => {
    for (const regression of regressionSeeds) {
      const result = runSimulation({
        seed: regression.seed,
        clusterSize: clusterSizeForSeed(regression.seed),
        ...(regression.chaosTicks === undefined ? {} : { chaosTicks: regression.chaosTicks }),
        ...(regression.scenarioOverrides === undefined ? {} : { scenarioOverrides: regression.scenarioOverrides }),
      });
      assert.ok(result.passed, `${regression.note}\n${formatFailure(result)}`);
    }
  });

  it('rejects an unsupported cluster size', () => {
    assert.throws(() => runSimulation({ seed: 1, clusterSize: 4 }), /clusterSize must be 3, 5 or 7/);
  });
});

describe('planted bugs are caught by the named checker', () => {
  for (const bug of plantedBugs) {
    it(`${bug.name}: ${bug.description} → ${bug.caughtBy}`, () => {
      const seen: string[] = [];
      let caughtAtSeed: number | undefined;
      for (let seed = 1; seed <= plantedBugSeedsMax && caughtAtSeed === undefined; seed++) {
        const result = runSimulation({ seed, clusterSize: clusterSizeForSeed(seed), ...bug.options });
        if (result.passed) continue;
        const invariant = result.violation?.invariant ?? 'none';
        seen.push(`${seed}:${invariant}`);
        assert.ok(invariant === bug.caughtBy || (bug.alsoCaughtBy as string[]).includes(invariant),
          `seed ${seed} failed on an unrelated check:\n${formatFailure(result)}`);
        if (invariant === bug.caughtBy) caughtAtSeed = seed;
      }
      assert.ok(caughtAtSeed !== undefined, `${bug.caughtBy} never caught ${bug.name} in ${plantedBugSeedsMax} seeds (failures: ${seen.join(' ')})`);
    });
  }

  it('liveness: fails when the cluster cannot commit within the bound after healing', () => {
    // Two ticks cannot hold an election timeout (at least 8 ticks): the check must fail.
    const result = runSimulation({ seed: 1, clusterSize: 3, chaosTicks: 50, livenessTicksMax: 2, scenarioOverrides: { crashProbabilityPerTick: 0.5 } });
    assert.equal(result.violation?.invariant, 'liveness');
  });
});
