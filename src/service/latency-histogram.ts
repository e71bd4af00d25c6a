/**
 * A latency histogram for /metrics: fixed upper bounds in seconds, counts per bucket, a
 * sum and a count. Bounded by construction (one number per bucket), so a hot path may
 * observe into it without care. `samples()` gives Prometheus' cumulative buckets
 * (`_bucket{le=…}`, ending with `le="+Inf"` equal to `_count`), `_sum` and `_count`.
 */
import type { MetricSample } from './service.js';

/** 100µs to 10s: from an in-memory apply to an fsync on a struggling disk. */
const latencyBucketsSeconds: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class LatencyHistogram {
  readonly #boundsSeconds: readonly number[];
  /** Observations in each bucket alone (not cumulative); the last one counts those above every bound. */
  readonly #bucketCounts: number[];
  #sumSeconds = 0;
  #count = 0;

  constructor(boundsSeconds: readonly number[] = latencyBucketsSeconds) {
    for (let index = 1; index < boundsSeconds.length; index++) {
      if (!((boundsSeconds[index] ?? 0) > (boundsSeconds[index - 1] ?? 0))) throw new Error('histogram bounds must increase');
    }
    this.#boundsSeconds = boundsSeconds;
    this.#bucketCounts = new Array<number>(boundsSeconds.length + 1).fill(0);
  }

  observe(seconds: number): void {
    const value = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
    let bucket = this.#boundsSeconds.findIndex((bound) => value <= bound);
    if (bucket < 0) bucket = this.#boundsSeconds.length;
    this.#bucketCounts[bucket] = (this.#bucketCounts[bucket] ?? 0) + 1;
    this.#sumSeconds += value;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  /** The family's samples, each with `labels` added (a route, say). */
  samples(labels: Readonly<Record<string, string>> = {}): MetricSample[] {
    const samples: MetricSample[] = [];
    let cumulative = 0;
    this.#boundsSeconds.forEach((bound, index) => {
      cumulative += this.#bucketCounts[index] ?? 0;
      samples.push({ suffix: '_bucket', labels: { ...labels, le: String(bound) }, value: cumulative });
    });
    samples.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: this.#count });
    samples.push({ suffix: '_sum', labels, value: this.#sumSeconds });
    samples.push({ suffix: '_count', labels, value: this.#count });
    return samples;
  }
}
