/**
 * `GET /debug/vars`: Go's expvar document as rqlite serves it, so dashboards written for
 * rqlite keep working. The node's sections (service.counters()), the HTTP layer's own
 * `http` section, and the process's `cmdline` and `memstats`, each under rqlite's or Go's
 * name, holding only what quorumlite really measures:
 *
 * - http: executions, queries, requests, num_status, num_readyz — requests answered on
 *   those routes.
 * - cmdline: the process's command line (`process.argv`, as Go's os.Args).
 * - memstats: the Go MemStats fields Node has a true value for: Alloc and HeapAlloc (V8
 *   heap in use), HeapSys (V8 heap obtained), LastGC, PauseTotalNs and NumGC (collections
 *   since this module loaded, from the `gc` performance entries).
 *
 * Layout as Go's expvar handler writes it: `{`, one `"name": value` a line in name order,
 * `}`; a section as `{"a": 1, "b": 2}` in name order. `?key=name` keeps one variable.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import type { Exchange } from './exchange.js';
import type { HttpMetrics } from './metrics.js';
import type { ClusterService, CounterSections } from '../service/service.js';

/** Garbage collections seen since this module loaded (Node reports each as a `gc` entry). */
const collections = { count: 0, pauseTotalNanoseconds: 0, lastEndUnixNanoseconds: 0 };

const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    collections.count += 1;
    collections.pauseTotalNanoseconds += Math.round(entry.duration * 1e6);
    collections.lastEndUnixNanoseconds = Math.round((performance.timeOrigin + entry.startTime + entry.duration) * 1e6);
  }
});
gcObserver.observe({ entryTypes: ['gc'] });

/** The Go MemStats fields with a true Node value, in MemStats's field order. */
function memoryStatistics(): Record<string, number> {
  const memory = process.memoryUsage();
  return {
    Alloc: memory.heapUsed,
    HeapAlloc: memory.heapUsed,
    HeapSys: memory.heapTotal,
    LastGC: collections.lastEndUnixNanoseconds,
    PauseTotalNs: collections.pauseTotalNanoseconds,
    NumGC: collections.count,
  };
}

/** How Go's expvar.Map writes itself: `{"a": 1, "b": 2}`, keys in order. */
function expvarMap(values: { readonly [name: string]: number }): string {
  const names = Object.keys(values).sort(compareGoStrings);
  return `{${names.map((name) => `${JSON.stringify(name)}: ${String(values[name])}`).join(', ')}}`;
}

/** Go sorts strings by their UTF-8 bytes. */
function compareGoStrings(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left), Buffer.from(right));
}

function renderDebugVars(sections: CounterSections, httpCounters: Record<string, number>, key: string | undefined): string {
  const variables = new Map<string, string>();
  for (const [name, values] of Object.entries(sections)) variables.set(name, expvarMap(values));
  variables.set('http', expvarMap(httpCounters));
  variables.set('cmdline', JSON.stringify(process.argv));
  variables.set('memstats', JSON.stringify(memoryStatistics()));
  const names = [...variables.keys()].sort(compareGoStrings).filter((name) => key === undefined || key === '' || name === key);
  return `{\n${names.map((name) => `${JSON.stringify(name)}: ${variables.get(name) ?? ''}`).join(',\n')}\n}\n`;
}

export async function handleDebugVars(exchange: Exchange, service: ClusterService, metrics: HttpMetrics): Promise<void> {
  const sections = await exchange.callService(exchange.parameters.timeoutMs, () => service.counters());
  const text = renderDebugVars(sections, metrics.rqliteCounters(), exchange.parameters.get('key')?.trim());
  exchange.sendText(200, text, 'application/json; charset=utf-8');
}
