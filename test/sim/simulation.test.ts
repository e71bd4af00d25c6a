import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { clusterSizeForSeed, formatFailure, runSeeds } from './run-seeds.js';
import { addedNodesMax, runSimulation } from './simulation.js';
import { plantedBugs } from './planted-bugs.js';
import { openFindingFor, openFindings, r1Reproduction, r2Reproduction, regressionSeeds } from './regression-seeds.js';

/**
 * The batch: seeds across 3-, 5- and 7-node clusters. Each seed runs real node runtimes
 * (about a sixth of a second of CPU), so the batch keeps `npm test -- test/sim` near a
 * minute of CPU; `npm run sim -- --seeds N` runs many more.
 */
const batchSeedCount = 80;
/** Seeds a planted bug may take to show up before the test gives up. */
const plantedBugSeedsMax = 40;
/** Planted bugs show early in a seed (each is caught within a few seeds): shorter runs keep the test cheap. */
const plantedBugChaosTicks = 300;

describe('simulated clusters', () => {
  it(`keeps every invariant on ${batchSeedCount} seeds across 3/5/7-node clusters`, async () => {
    const summary = await runSeeds(1, batchSeedCount);
    // Only the open findings (FINDINGS.md) may fail, and only as recorded.
    const unexpected = summary.failures.filter((failure) => openFindingFor(failure.seed, failure.violation?.invariant) === undefined);
    assert.deepEqual(
      unexpected.map((failure) => formatFailure(failure)),
      [],
    );
    // The batch must actually exercise the faults and features it claims to.
    const seedsWith = summary.seedsWith;
    const expectations: Record<string, number> = {
      crashes: 50,
      gracefulStops: 25,
      restarts: 45,
      restartsAfterCompaction: 45,
      partitions: 25,
      messagesDropped: 50,
      snapshotsTaken: batchSeedCount,
      compactions: batchSeedCount,
      snapshotsInstalled: 50,
      snapshotsSent: 50,
      runtimeHalts: 20,
      membershipChangesApplied: 30,
      transfersRequested: 30,
      operationsOk: batchSeedCount,
      operationsUnknown: 30,
    };
    for (const [feature, seedsAtLeast] of Object.entries(expectations)) {
      assert.ok((seedsWith[feature] ?? 0) >= seedsAtLeast, `only ${seedsWith[feature] ?? 0} seeds with ${feature}, expected >= ${seedsAtLeast}`);
    }
    // And the runtime's own paths: start-up repairs and restores, hand-overs, halts, snapshot transfers.
    const runtimePaths: Record<string, number> = {
      'commit-raised': 40,
      'snapshot-restore': 10,
      'leader-disconnected': 30,
      'leadership-transfer': 5,
      stop: 25,
      halted: 20,
      resumed: 20,
      'snapshot-installed': 50,
      'snapshot-send-failed': 5,
    };
    for (const [event, seedsAtLeast] of Object.entries(runtimePaths)) {
      const seen = summary.seedsWithRuntimeEvent[event] ?? 0;
      assert.ok(seen >= seedsAtLeast, `only ${seen} seeds where a runtime logged ${event}, expected >= ${seedsAtLeast}`);
    }
    assert.equal(summary.linearizabilityUnknown, 0, 'every history should be decided within the search bound');
    // Membership changes add fresh nodes up to the bound, never past it.
    assert.equal(summary.nodesAddedMax, addedNodesMax);
  });

  it('replays a seed exactly: the same seed twice gives the same trace', async () => {
    for (const seed of [1, 2]) {
      const first = await runSimulation({ seed, clusterSize: clusterSizeForSeed(seed) });
      const second = await runSimulation({ seed, clusterSize: clusterSizeForSeed(seed) });
      assert.equal(first.traceHash, second.traceHash);
      assert.deepEqual(first.traceTail, second.traceTail);
      assert.deepEqual(first.stats, second.stats);
    }
    const hashes = new Set<string>();
    for (const seed of [4, 5, 6, 7]) hashes.add((await runSimulation({ seed, clusterSize: 3, chaosTicks: 100 })).traceHash);
    assert.equal(hashes.size, 4, 'different seeds must give different histories');
  });

  it('runs the real runtime on simulated time and disk only: no real timer, clock, randomness or file call from src/', async () => {
    const calls: string[] = [];
    const restore: (() => void)[] = [];
    const watch = (target: Record<string, unknown>, name: string, label: string): void => {
      const original = target[name] as (...args: unknown[]) => unknown;
      target[name] = function watched(this: unknown, ...args: unknown[]): unknown {
        if ((new Error().stack ?? '').includes('/src/')) calls.push(label);
        return original.apply(this, args);
      };
      restore.push(() => {
        target[name] = original;
      });
    };
    for (const name of ['setTimeout', 'setInterval', 'setImmediate']) watch(globalThis as unknown as Record<string, unknown>, name, name);
    watch(Date as unknown as Record<string, unknown>, 'now', 'Date.now');
    watch(performance as unknown as Record<string, unknown>, 'now', 'performance.now');
    watch(Math as unknown as Record<string, unknown>, 'random', 'Math.random');
    const fileSystem = fs as unknown as Record<string, unknown>;
    for (const name of Object.keys(fs).filter((key) => typeof fileSystem[key] === 'function' && /^[a-z]/.test(key))) watch(fileSystem, name, `fs.${name}`);
    const promises = fs.promises as unknown as Record<string, unknown>;
    for (const name of Object.keys(promises).filter((key) => typeof promises[key] === 'function')) watch(promises, name, `fs.promises.${name}`);
    syncBuiltinESMExports();
    try {
      const result = await runSimulation({
        seed: 3,
        clusterSize: 3,
        chaosTicks: 200,
        scenarioOverrides: { snapshotThresholdEntries: 5, crashProbabilityPerTick: 0.05 },
      });
      assert.ok(result.passed, formatFailure(result));
      assert.ok(result.stats.snapshotsTaken > 0 && result.stats.restarts > 0, 'the seed takes snapshots and restarts nodes');
    } finally {
      for (const undo of restore) undo();
      syncBuiltinESMExports();
    }
    assert.deepEqual([...new Set(calls)], []);
  });

  it('prints the full trace through the sink, identically on a replay', async () => {
    const capture = async (): Promise<string[]> => {
      const lines: string[] = [];
      await runSimulation({ seed: 11, clusterSize: 5, chaosTicks: 100, traceSink: (line) => lines.push(line) });
      return lines;
    };
    const first = await capture();
    assert.ok(first.length > 100);
    assert.deepEqual(await capture(), first);
  });

  it('passes every regression seed', async () => {
    for (const regression of regressionSeeds) {
      const result = await runSimulation({
        seed: regression.seed,
        clusterSize: clusterSizeForSeed(regression.seed),
        ...(regression.chaosTicks === undefined ? {} : { chaosTicks: regression.chaosTicks }),
        ...(regression.scenarioOverrides === undefined ? {} : { scenarioOverrides: regression.scenarioOverrides }),
      });
      assert.ok(result.passed, `${regression.note}\n${formatFailure(result)}`);
    }
  });

  it('open findings still reproduce (once fixed, move the seed to regressionSeeds)', async () => {
    for (const finding of openFindings) {
      const result = await runSimulation({ seed: finding.seed, clusterSize: clusterSizeForSeed(finding.seed) });
      assert.equal(result.violation?.invariant, finding.invariant, `${finding.finding} (seed ${finding.seed}) no longer fails as recorded: ${finding.note}`);
    }
  });

  it("R2 comes back on its seed when snapshot retention is unguarded (the store's rule before the fix)", async () => {
    const { seed, scenarioOverrides } = r2Reproduction;
    const result = await runSimulation({
      seed,
      clusterSize: clusterSizeForSeed(seed),
      plantedDiskFaults: { unguardedSnapshotRetention: true },
      scenarioOverrides,
    });
    assert.equal(result.violation?.invariant, 'snapshot-coverage', formatFailure(result));
    const guarded = await runSimulation({ seed, clusterSize: clusterSizeForSeed(seed), scenarioOverrides });
    assert.ok(guarded.passed, `with the guard the same seed passes: ${formatFailure(guarded)}`);
  });

  it('R1 comes back on its seeds when the transport hands up no announced address (the transport before the fix)', async () => {
    const { seeds, scenarioOverrides } = r1Reproduction;
    for (const seed of seeds) {
      const clusterSize = clusterSizeForSeed(seed);
      const result = await runSimulation({ seed, clusterSize, plantedNetworkFault: 'hide-announced-addresses', scenarioOverrides });
      assert.equal(result.violation?.invariant, 'liveness', `seed ${seed}: ${formatFailure(result)}`);
      assert.match(result.violation?.message ?? '', /no-address-for-leader/, `seed ${seed}: a member without its leader's address`);
      const fixed = await runSimulation({ seed, clusterSize, scenarioOverrides });
      assert.ok(fixed.passed, `with the fix the same seed passes: ${formatFailure(fixed)}`);
    }
  });

  it('rejects an unsupported cluster size', () => {
    assert.throws(() => runSimulation({ seed: 1, clusterSize: 4 }), /clusterSize must be 3, 5 or 7/);
  });
});

describe('planted bugs are caught by the named checker', () => {
  for (const bug of plantedBugs) {
    it(`${bug.name}: ${bug.description} → ${bug.caughtBy}`, async () => {
      const seen: string[] = [];
      let caughtAtSeed: number | undefined;
      for (let seed = 1; seed <= plantedBugSeedsMax && caughtAtSeed === undefined; seed++) {
        const result = await runSimulation({ seed, clusterSize: clusterSizeForSeed(seed), chaosTicks: plantedBugChaosTicks, ...bug.options });
        if (result.passed) continue;
        const invariant = result.violation?.invariant ?? 'none';
        seen.push(`${seed}:${invariant}`);
        assert.ok(
          invariant === bug.caughtBy || (bug.alsoCaughtBy as string[]).includes(invariant),
          `seed ${seed} failed on an unrelated check:\n${formatFailure(result)}`,
        );
        if (invariant === bug.caughtBy) caughtAtSeed = seed;
      }
      assert.ok(caughtAtSeed !== undefined, `${bug.caughtBy} never caught ${bug.name} in ${plantedBugSeedsMax} seeds (failures: ${seen.join(' ')})`);
    });
  }

  it('liveness: fails when the cluster cannot commit within the bound after healing', async () => {
    // Two ticks cannot hold an election timeout (at least 8 ticks): the check must fail.
    const result = await runSimulation({ seed: 1, clusterSize: 3, chaosTicks: 50, livenessTicksMax: 2, scenarioOverrides: { crashProbabilityPerTick: 0.5 } });
    assert.equal(result.violation?.invariant, 'liveness');
  });
});
