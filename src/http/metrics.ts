/**
 * `/metrics` (ours): Prometheus text exposition format 0.0.4. The service supplies its
 * families (Raft, storage, state machine); the HTTP layer adds its own request counters.
 */
import { LatencyHistogram } from '../service/latency-histogram.js';
import type { MetricFamily, MetricSample } from '../service/service.js';

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function renderPrometheusText(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!metricNamePattern.test(family.name)) throw new Error(`invalid metric name ${JSON.stringify(family.name)}`);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(renderSample(family.name, sample));
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function renderSample(name: string, sample: MetricSample): string {
  const labelNames = Object.keys(sample.labels);
  const labels = labelNames.map((labelName) => {
    if (!labelNamePattern.test(labelName)) throw new Error(`invalid label name ${JSON.stringify(labelName)}`);
    return `${labelName}="${escapeLabelValue(sample.labels[labelName] ?? '')}"`;
  });
  const labelText = labels.length === 0 ? '' : `{${labels.join(',')}}`;
  return `${name}${sample.suffix ?? ''}${labelText} ${renderValue(sample.value)}`;
}

function renderValue(value: number | bigint): string {
  if (typeof value === 'bigint') return value.toString();
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Counters the HTTP layer keeps about itself. Bounded: one key per route × status. */
export class HttpMetrics {
  readonly #requestCounts = new Map<string, number>();
  readonly #durationByRoute = new Map<string, LatencyHistogram>();
  #inFlight = 0;
  #bodyBytesReceived = 0;
  #rejectedTooLarge = 0;

  requestStarted(): void {
    this.#inFlight++;
  }

  /** `route` is one of the server's fixed paths or "unknown", so the label set stays bounded. */
  requestFinished(route: string, status: number, durationSeconds: number): void {
    this.#inFlight--;
    const key = `${route}\u0000${status}`;
    this.#requestCounts.set(key, (this.#requestCounts.get(key) ?? 0) + 1);
    let duration = this.#durationByRoute.get(route);
    if (duration === undefined) {
      duration = new LatencyHistogram();
      this.#durationByRoute.set(route, duration);
    }
    duration.observe(durationSeconds);
  }

  /** rqlite's `http` expvar counters this layer really counts: requests answered on each data and status route. */
  rqliteCounters(): Record<string, number> {
    const answered = (route: string): number => this.#durationByRoute.get(route)?.count ?? 0;
    return {
      executions: answered('/db/execute'),
      queries: answered('/db/query'),
      requests: answered('/db/request'),
      num_status: answered('/status'),
      num_readyz: answered('/readyz'),
    };
  }

  bodyReceived(byteCount: number): void {
    this.#bodyBytesReceived += byteCount;
  }

  bodyTooLarge(): void {
    this.#rejectedTooLarge++;
  }

  families(): MetricFamily[] {
    const requests = [...this.#requestCounts].map(([key, count]) => {
      const [route, status] = key.split('\u0000');
      return { labels: { route: route ?? '', status: status ?? '' }, value: count };
    });
    return [
      {
        name: 'quorumlite_http_request_duration_seconds',
        help: 'Time spent answering HTTP requests, by route.',
        type: 'histogram',
        samples: [...this.#durationByRoute].flatMap(([route, duration]) => duration.samples({ route })),
      },
      { name: 'quorumlite_http_requests_total', help: 'HTTP requests answered, by route and status.', type: 'counter', samples: requests },
      { name: 'quorumlite_http_requests_in_flight', help: 'HTTP requests being handled now.', type: 'gauge', samples: [{ labels: {}, value: this.#inFlight }] },
      {
        name: 'quorumlite_http_request_body_bytes_total',
        help: 'Request body bytes read.',
        type: 'counter',
        samples: [{ labels: {}, value: this.#bodyBytesReceived }],
      },
      {
        name: 'quorumlite_http_bodies_too_large_total',
        help: 'Requests refused with 413 because the body exceeded bodyBytesMax.',
        type: 'counter',
        samples: [{ labels: {}, value: this.#rejectedTooLarge }],
      },
    ];
  }
}
