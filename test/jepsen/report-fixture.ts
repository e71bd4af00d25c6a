/**
 * A synthetic run for the report's tests and for looking at the page: register
 * operations from a few clients over a 5-node cluster, faults of every kind (one never
 * healed), latencies and errors that follow the faults, and checker verdicts of each
 * kind, one INVALID with an explanation full of characters HTML gives meaning to. Seeded,
 * so the same seed draws the same run.
 */
import type { CheckerVerdict, NemesisEvent, OperationRecord, Outcome, RegisterFunction } from './history.js';
import type { RunSummary } from './report.js';
import { Prng } from '../sim/prng.js';

export const hostileText = '<script>alert("x")</script> & <b>bold</b>';

export interface FixtureOptions {
  readonly seed: number;
  readonly operationCount: number;
  readonly durationMs: number;
  readonly processCount?: number;
}

const nodeNames = ['n1', 'n2', 'n3', 'n4', 'n5'];

function nemesisEvents(durationMs: number): NemesisEvent[] {
  const at = (fraction: number) => Math.round(durationMs * fraction);
  return [
    { kind: 'kill', description: 'kill leader n2', targets: ['n2'], startMs: at(0.08), endMs: at(0.14) },
    { kind: 'partition', description: 'partition majority n1,n2,n3 | n4,n5', targets: ['n1', 'n2', 'n3', 'n4', 'n5'], startMs: at(0.22), endMs: at(0.34) },
    { kind: 'pause', description: 'pause n4 (SIGSTOP)', targets: ['n4'], startMs: at(0.4), endMs: at(0.45) },
    { kind: 'clock', description: 'skew n3 clock +30 s & back', targets: ['n3'], startMs: at(0.5), endMs: at(0.6) },
    { kind: 'kill', description: 'kill n1, n5', targets: ['n1', 'n5'], startMs: at(0.62), endMs: at(0.66) },
    { kind: 'disk', description: 'fill disk on n5 <90%>', targets: ['n5'], startMs: at(0.7), endMs: at(0.78) },
    { kind: 'membership', description: 'remove n4, then re-add it', targets: ['n4'], startMs: at(0.82), endMs: at(0.88) },
    { kind: 'partition', description: 'isolate n3', targets: ['n3'], startMs: at(0.92) },
  ];
}

function faultActive(events: readonly NemesisEvent[], timeMs: number): boolean {
  return events.some((event) => event.kind !== 'clock' && event.startMs <= timeMs && timeMs < (event.endMs ?? Number.POSITIVE_INFINITY));
}

function drawOperation(prng: Prng, id: number, invokeMs: number, processCount: number, events: readonly NemesisEvent[]): OperationRecord {
  const f = prng.pick<RegisterFunction>(['read', 'read', 'write', 'cas']);
  const key = prng.nextInt(8);
  const input = f === 'read' ? { key } : f === 'write' ? { key, value: prng.nextInt(100) } : { key, from: prng.nextInt(100), to: prng.nextInt(100) };
  const disturbed = faultActive(events, invokeMs) && prng.chance(0.45);
  let outcome: Outcome = 'ok';
  let latencyMs = 1.5 + -Math.log(1 - prng.nextFloat()) * (prng.chance(0.02) ? 120 : 6);
  let error: string | undefined;
  if (disturbed && prng.chance(0.5)) {
    outcome = 'info';
    latencyMs = prng.pick([1000, 2000, 5000]) + prng.nextFloat() * 50;
    error = prng.pick(['TIMEOUT', 'ECONNREFUSED', 'socket hang up']);
  } else if (disturbed) {
    outcome = 'fail';
    latencyMs = 0.5 + prng.nextFloat() * 4;
    error = prng.pick(['NOT_LEADER', 'NO_QUORUM', 'near "<": syntax error & more']);
  } else if (prng.chance(0.003)) {
    outcome = 'fail';
    error = 'SQLITE_CONSTRAINT: a < b && c > d';
  }
  const output = outcome !== 'ok' ? undefined : f === 'read' ? { value: prng.nextInt(100) } : f === 'cas' ? { applied: prng.chance(0.5) } : {};
  const completeMs = Math.round((invokeMs + latencyMs) * 1000) / 1000;
  const node = `http://127.0.0.1:${4001 + prng.nextInt(nodeNames.length)}`;
  const base = { id, process: id % processCount, f, input, outcome, invokeMs, completeMs, node };
  return { ...base, ...(output === undefined ? {} : { output }), ...(error === undefined ? {} : { error }) };
}

function verdicts(operations: readonly OperationRecord[]): CheckerVerdict[] {
  const ids = (count: number, offset: number) => operations.slice(offset, offset + count).map((operation) => operation.id);
  return [
    {
      valid: false,
      checker: 'linearizable-register',
      anomalies: [
        {
          type: 'nonlinearizable',
          explanation: `key 3: read saw 41 after write 42 completed\n  ${hostileText}\n  no order of these operations explains it`,
          operationIds: ids(3, 100),
        },
        { type: 'lost-write', explanation: 'write 17 to key 5 acknowledged & never read again', operationIds: [...ids(2, 200), 999_999_999] },
      ],
      stats: { operations: operations.length, keys: 8, 'configurations searched': 123_456 },
    },
    { valid: true, checker: 'timeline-monotonic', anomalies: [], stats: { reads: Math.floor(operations.length / 2) } },
    { valid: 'unknown', checker: 'bank-total', anomalies: [], stats: { 'search bound hit': 1 } },
  ];
}

export function syntheticSummary(options: FixtureOptions): RunSummary {
  const prng = new Prng(options.seed);
  const processCount = options.processCount ?? 10;
  const events = nemesisEvents(options.durationMs);
  const operations: OperationRecord[] = [];
  for (let id = 0; id < options.operationCount; id++) {
    const invokeMs = Math.round(((id + prng.nextFloat()) * options.durationMs * 1000) / options.operationCount) / 1000;
    operations.push(drawOperation(prng, id, invokeMs, processCount, events));
  }
  const failoverMs = Array.from({ length: 6 }, () => Math.round(150 + -Math.log(1 - prng.nextFloat()) * 900));
  return {
    title: `register, 5 nodes, kill+partition+pause+clock+disk+membership, ${Math.round(options.durationMs / 1000)} s`,
    startedAt: '2025-01-15T10:20:30.000Z',
    workload: 'register',
    nemeses: ['kill', 'partition', 'pause', 'clock', 'disk', 'membership'],
    nodeNames,
    durationMs: options.durationMs,
    operations,
    nemesisEvents: events,
    verdicts: verdicts(operations),
    failoverMs,
    finalChecks: [
      { name: 'no acknowledged write lost', passed: false, detail: `write 17 to key 5 missing on n3 & n4\n${hostileText}` },
      { name: 'checksums equal on every node', passed: true, detail: 'sha256 9f2c… on n1..n5' },
      { name: 'no node halted', passed: true, detail: '' },
    ],
    notes: [`seed ${options.seed}`, 'reads: strong for processes 0-4, weak for 5-9', 'replay: npm run jepsen -- --seed 7 --workload register <&>'],
  };
}
