/**
 * The permission each HTTP endpoint needs when the node checks credentials, as rqlite's
 * handlers ask for them: every method of an endpoint needs the same ones, checked before
 * anything else about the request (its method, its body); a path missing from this
 * table needs `all`.
 */
import type { Permission } from '../service/access-control.js';

export const endpointPermissions: ReadonlyMap<string, readonly Permission[]> = new Map<string, readonly Permission[]>([
  ['/db/execute', ['execute']],
  ['/db/query', ['query']],
  // rqlite: the unified endpoint needs both.
  ['/db/request', ['execute', 'query']],
  // Ours: interactive transactions. Their statements need what their path needs (`?tx=`).
  ['/db/begin', ['execute']],
  ['/db/commit', ['execute']],
  ['/db/rollback', ['execute']],
  ['/db/backup', ['backup']],
  // Ours: an embedded replica's feed holds the whole database, as a backup does.
  ['/db/stream', ['backup']],
  ['/db/copy', ['backup']],
  ['/db/load', ['load']],
  ['/boot', ['load']],
  ['/snapshot', ['snapshot']],
  ['/reap', ['snapshot']],
  ['/status', ['status']],
  ['/nodes', ['status']],
  ['/debug/vars', ['status']],
  // Ours, beside /debug/vars: the same facts in Prometheus' format.
  ['/metrics', ['status']],
  ['/readyz', ['ready']],
  ['/remove', ['remove']],
  // Ours: several databases. Listing them is a read; creating and dropping one needs `all` (not listed).
  ['/db/list', ['query']],
  ['/leader', ['leader-ops']],
  // Ours: the web console's page and its script and styles hold no data; what they fetch is checked as usual.
  ['/console', []],
  ['/console/console.js', []],
  ['/console/console.css', []],
]);

/** What `path` needs: its entry, or `all` for a path no entry names. */
export function permissionsFor(path: string): readonly Permission[] {
  return endpointPermissions.get(path) ?? ['all'];
}
