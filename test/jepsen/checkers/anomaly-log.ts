/**
 * Collects a checker's anomalies with a bound per type: a broken run can produce one
 * anomaly per operation, and a report needs a few examples of each kind plus the exact
 * count, not ten thousand explanations.
 */
import assert from 'node:assert/strict';
import type { Anomaly } from '../history.js';

export const anomaliesPerTypeMaxDefault = 20;

export class AnomalyLog {
  private readonly kept: Anomaly[] = [];
  private readonly countByType = new Map<string, number>();

  constructor(private readonly perTypeMax: number = anomaliesPerTypeMaxDefault) {
    assert.ok(Number.isSafeInteger(perTypeMax) && perTypeMax >= 1, `perTypeMax must be a positive integer, got ${perTypeMax}`);
  }

  add(type: string, explanation: string, operationIds: readonly number[]): void {
    const count = (this.countByType.get(type) ?? 0) + 1;
    this.countByType.set(type, count);
    if (count <= this.perTypeMax) this.kept.push({ type, explanation, operationIds: [...new Set(operationIds)] });
  }

  get empty(): boolean {
    return this.countByType.size === 0;
  }

  anomalies(): readonly Anomaly[] {
    return this.kept;
  }

  /** One stat per anomaly type seen, `anomalies.<type>`: the count, including those not kept. */
  stats(): Record<string, number> {
    const stats: Record<string, number> = {};
    for (const [type, count] of [...this.countByType.entries()].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))) {
      stats[`anomalies.${type}`] = count;
    }
    return stats;
  }
}
