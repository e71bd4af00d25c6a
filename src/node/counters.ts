/**
 * Event counters under rqlite's expvar names (its `/debug/vars`), for what this node
 * really counts. Each section starts with its names at 0, as rqlite's maps do; a
 * counter rqlite has and quorumlite does not count is simply not here.
 *
 * store:   num_snapshots, num_snapshots_failed (snapshots taken), num_restores (the
 *          state machine restored from a snapshot: at start-up or installed from the
 *          leader), num_joins (members this leader admitted), num_ignored_joins (a join
 *          by a member already present at that address), num_removed_before_joins (a
 *          member removed so a join could take its id or address).
 * cluster: calls this node served for its peers: num_execute_req, num_query_req,
 *          num_request_req, num_remove_node_req, num_join_req, num_notify_req, and
 *          num_get_node_api_req (the reachability check /nodes makes).
 */

const sectionNames = {
  store: ['num_snapshots', 'num_snapshots_failed', 'num_restores', 'num_joins', 'num_ignored_joins', 'num_removed_before_joins'],
  cluster: ['num_execute_req', 'num_query_req', 'num_request_req', 'num_remove_node_req', 'num_join_req', 'num_notify_req', 'num_get_node_api_req'],
} as const;

type Section = keyof typeof sectionNames;
export type CounterName<S extends Section> = (typeof sectionNames)[S][number];

export class NodeCounters {
  readonly #values = new Map<Section, Map<string, number>>();

  constructor() {
    for (const [section, names] of Object.entries(sectionNames) as [Section, readonly string[]][]) {
      this.#values.set(section, new Map(names.map((name) => [name, 0])));
    }
  }

  add<S extends Section>(section: S, name: CounterName<S>, count = 1): void {
    const values = this.#values.get(section) as Map<string, number>;
    values.set(name, (values.get(name) ?? 0) + count);
  }

  /** A copy: section → counter → count. */
  sections(): Record<string, Record<string, number>> {
    const copy: Record<string, Record<string, number>> = {};
    for (const [section, values] of this.#values) copy[section] = Object.fromEntries(values);
    return copy;
  }
}
