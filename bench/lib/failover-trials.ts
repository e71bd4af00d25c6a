/**
 * The failover trials (workloads 5 and 9). Kill: steady writes, kill -9 the leader, time
 * to the first acknowledged write through a survivor, restart it. Hung leader: SIGSTOP
 * the leader (by PID, a process this bench started; its sockets stay open and it answers
 * nothing), time from the stop to the first acknowledged write, then SIGCONT it and wait
 * until the cluster is whole again. The hung-leader write goes through the system's own
 * client when the bench has one (quorumlite's src/client, warmed so it knows the leader,
 * as an application's would); otherwise through the survivors, 300 ms per try.
 */
import type { ReplicatedSystem, SystemClient } from '../peers/system.js';
import { benchKey, benchValue, keyBase, keysPerRound } from './measure.js';
import { sleep } from './waiting.js';

export interface FailoverSettings {
  /** Bound on one trial's wait for the first acknowledged write after the kill or stop. */
  readonly failoverTimeoutMs: number;
  /** Per-try timeout of a write while the cluster elects (docs/TESTING.md, "The peers we compare against": 300 ms). */
  readonly failoverTryTimeoutMs: number;
  /** How long the steady write load runs before the kill. */
  readonly failoverSteadyLoadMs: number;
}

/** Writes to the current leader one at a time until halted (bounded by count). */
function startSteadyLoad(system: ReplicatedSystem, keyOffset: number): { halt: () => void; done: Promise<void> } {
  const steadyWriteCountMax = 100_000;
  let stopped = false;
  const done = (async () => {
    for (let count = 0; !stopped && count < steadyWriteCountMax; count += 1) {
      await system.write(benchKey(keyOffset + count), benchValue(count)).catch(() => false);
    }
  })();
  return {
    halt: () => {
      stopped = true;
    },
    done,
  };
}

/** Kill (or stop) → first acknowledged write, alternating over the survivors; undefined on timeout. */
async function firstAcknowledgedWrite(
  system: ReplicatedSystem,
  survivors: readonly number[],
  killedAtMs: number,
  settings: FailoverSettings,
  keyOffset: number,
): Promise<number | undefined> {
  const failedTryPauseMs = 20;
  const tryCountMax = Math.ceil(settings.failoverTimeoutMs / failedTryPauseMs);
  for (let attempt = 0; attempt < tryCountMax && performance.now() - killedAtMs < settings.failoverTimeoutMs; attempt += 1) {
    const target = survivors[attempt % survivors.length] ?? 0;
    const triedAtMs = performance.now();
    const acknowledged = await system
      .writeThrough(target, benchKey(keyOffset + attempt), benchValue(attempt), settings.failoverTryTimeoutMs)
      .catch(() => false);
    if (acknowledged) return performance.now() - killedAtMs;
    // a refused connection fails at once: pause so the loop does not spin
    if (performance.now() - triedAtMs < failedTryPauseMs) await sleep(failedTryPauseMs);
  }
  return undefined;
}

/** One trial: steady writes, kill -9 the leader, time to the first acknowledged write, restart it. */
export async function failoverTrial(system: ReplicatedSystem, settings: FailoverSettings, trial: number): Promise<number | undefined> {
  await system.refreshLeader();
  const leader = await system.leaderIndex();
  const keyOffset = keyBase.failover + trial * keysPerRound;
  const load = startSteadyLoad(system, keyOffset);
  await sleep(settings.failoverSteadyLoadMs);
  // halted at the kill: its write in flight fails with the leader, and it issues no more
  load.halt();
  const killedAtMs = performance.now();
  await system.killNode(leader);
  const survivors = Array.from({ length: system.nodeCount }, (_, index) => index).filter((index) => index !== leader);
  const elapsedMs = await firstAcknowledgedWrite(system, survivors, killedAtMs, settings, keyOffset + keysPerRound / 2);
  await load.done;
  await system.restartNode(leader);
  await system.refreshLeader();
  return elapsedMs;
}

/** Stop → first acknowledged write in ms, or undefined when none came within failoverTimeoutMs. */
export async function hungLeaderTrial(system: ReplicatedSystem, settings: FailoverSettings, trial: number): Promise<number | undefined> {
  await system.refreshLeader();
  const leader = await system.leaderIndex();
  const keyOffset = keyBase.hung + trial * keysPerRound;
  const client = system.openClient === undefined ? undefined : await system.openClient(settings.failoverTimeoutMs);
  try {
    if (client !== undefined && !(await client.write(benchKey(keyOffset), benchValue(0)))) throw new Error(`${system.name}: the warm-up write failed`);
    system.pauseNode(leader);
    const stoppedAtMs = performance.now();
    try {
      if (client === undefined) {
        const survivors = Array.from({ length: system.nodeCount }, (_, index) => index).filter((index) => index !== leader);
        return await firstAcknowledgedWrite(system, survivors, stoppedAtMs, settings, keyOffset + 1);
      }
      return await firstClientWrite(client, stoppedAtMs, keyOffset + 1);
    } finally {
      await system.resumeNode(leader);
    }
  } finally {
    await client?.close();
  }
}

/** One write through the client (bounded by its deadline, failoverTimeoutMs). */
async function firstClientWrite(client: SystemClient, stoppedAtMs: number, key: number): Promise<number | undefined> {
  const acknowledged = await client.write(benchKey(key), benchValue(key)).catch(() => false);
  return acknowledged ? performance.now() - stoppedAtMs : undefined;
}
