/**
 * The bounded fault-suite runs of `npm test` (about four minutes): each workload against
 * three real nodes under a mix of faults, and one against three nodes whose log is a real
 * 3-member etcd cluster (`--consensus etcd`) under etcd member kills and pauses,
 * partitions of etcd and of nodes from etcd, and node kills and pauses; each must come out valid. Longer runs
 * are `npm run jepsen` (docs/TESTING.md). A failure names its report: the HTML timeline
 * and the history file are kept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { NemesisKind } from './history.js';
import { defaultNodeFlags, nemesisUnavailableReason, type RunOptions, runJepsen, type WorkloadName } from './run.js';

const runSeconds = 40;

function available(kinds: readonly NemesisKind[], diagnostic: (text: string) => void): NemesisKind[] {
  return kinds.filter((kind) => {
    const reason = nemesisUnavailableReason(kind);
    if (reason !== undefined) diagnostic(`nemesis ${kind} skipped: ${reason}`);
    return reason === undefined;
  });
}

async function boundedRun(
  workload: WorkloadName,
  nemeses: readonly NemesisKind[],
  seed: number,
  diagnostic: (text: string) => void,
  consensus: 'raft' | 'etcd' = 'raft',
): Promise<void> {
  const outDirectory = mkdtempSync(join(tmpdir(), `quorumlite-jepsen-${workload}-`));
  const options: RunOptions = {
    workload,
    nodeCount: 3,
    timeLimitMs: runSeconds * 1000,
    nemeses: available(nemeses, diagnostic),
    concurrency: 6,
    seed,
    outDirectory,
    readLevels: ['linearizable', 'strong', 'weak', 'none'],
    operationTimeoutMs: 4_000,
    operationCountMax: 100_000,
    nodeFlags: defaultNodeFlags,
    // Shorter spells than a long run's, so that every kind comes round at least twice in 40 s.
    schedule: { quietMsMin: 500, quietMsMax: 2_000, holdMsMin: 1_500, holdMsMax: 4_000, pairChance: 0.3 },
    ...(consensus === 'etcd' ? { consensus } : {}),
  };
  const lines: string[] = [];
  const result = await runJepsen(options, (line) => lines.push(line));
  const counts = result.summary.operations.reduce<Record<string, number>>((tally, operation) => {
    tally[operation.outcome] = (tally[operation.outcome] ?? 0) + 1;
    return tally;
  }, {});
  diagnostic(`${workload}: ${JSON.stringify(counts)} operations, ${result.summary.nemesisEvents.length} faults, verdict ${String(result.valid)}`);
  assert.equal(result.valid, true, `${result.text}\n${lines.join('\n')}\nreport kept in ${result.paths.htmlPath}`);
  assert.ok((counts.ok ?? 0) > 50, `too few acknowledged operations to judge anything: ${JSON.stringify(counts)}`);
  for (const kind of options.nemeses) {
    assert.ok(
      result.summary.nemesisEvents.some((event) => event.kind === kind),
      `nemesis ${kind} never ran: ${result.summary.nemesisEvents.map((event) => event.description).join('; ')}`,
    );
  }
  rmSync(outDirectory, { recursive: true, force: true });
}

describe('npm run jepsen, bounded', { concurrency: false }, () => {
  test('register under partitions, kills, pauses and clock jumps', { timeout: 300_000 }, async (t) => {
    await boundedRun('register', ['partition', 'kill', 'pause', 'clock'], 101, (text) => t.diagnostic(text));
  });

  test('list-append under partitions, kills, membership changes and a full disk', { timeout: 300_000 }, async (t) => {
    await boundedRun('list-append', ['partition', 'kill', 'membership', 'disk'], 202, (text) => t.diagnostic(text));
  });

  test('bank under partitions, pauses, clock jumps and a full disk', { timeout: 300_000 }, async (t) => {
    await boundedRun('bank', ['partition', 'pause', 'clock', 'disk'], 303, (text) => t.diagnostic(text));
  });

  // About 75 s of CI: 40 s of faults, etcd and the nodes' start, healing and the checkers.
  test('register with --consensus etcd under etcd kills, pauses and partitions, node kills and pauses', { timeout: 300_000 }, async (t) => {
    await boundedRun('register', ['kill', 'pause', 'etcd', 'etcd-partition'], 404, (text) => t.diagnostic(text), 'etcd');
  });
});
