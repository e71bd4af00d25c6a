/**
 * `quorumlite status`'s summary: a node's /status and /nodes as a few lines and two
 * tables (members; recent events), for a person at a terminal. `--json` prints the
 * /status document itself instead (status-command.ts).
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const eventsShownMax = 10;
const cellLengthMax = 60;

function objectAt(value: Json | undefined, ...path: string[]): JsonObject {
  let current: Json | undefined = value;
  for (const step of path) current = typeof current === 'object' && current !== null && !Array.isArray(current) ? current[step] : undefined;
  return typeof current === 'object' && current !== null && !Array.isArray(current) ? current : {};
}

function text(value: Json | undefined): string {
  if (value === undefined || value === null) return '';
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  // A control character would move the cursor or break the table: shown as a space.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must not reach the terminal
  const clean = shown.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return clean.length > cellLengthMax ? `${clean.slice(0, cellLengthMax - 1)}…` : clean;
}

/** Columns padded to their widest cell, separated by two spaces. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function roleOf(node: JsonObject): string {
  if (node['leader'] === true) return 'Leader';
  return node['voter'] === true ? 'Follower' : 'Learner';
}

/** On the leader, /status `replication.followers` by id. */
function followersOf(status: JsonObject): Map<string, JsonObject> {
  const followers = new Map<string, JsonObject>();
  const replication = objectAt(status, 'replication')['followers'];
  if (!Array.isArray(replication)) return followers;
  for (const follower of replication) followers.set(text(objectAt(follower)['id']), objectAt(follower));
  return followers;
}

function memberRows(status: JsonObject, nodes: readonly JsonObject[]): string[][] {
  const selfId = text(objectAt(status, 'store')['node_id']);
  const raft = objectAt(status, 'store', 'raft');
  const followers = followersOf(status);
  const selfLag = raft['state'] === 'Leader' ? '0' : '';
  return nodes.map((node) => {
    const id = text(node['id']);
    const follower = followers.get(id);
    const self = id === selfId;
    const match = self ? text(raft['last_log_index']) : text(follower?.['match_index']);
    const lag = self ? selfLag : text(follower?.['lag_entries']);
    const reachable = node['reachable'] === true ? 'yes' : `no ${text(node['error'])}`.trim();
    return [self ? `${id} *` : id, roleOf(node), node['voter'] === true ? 'yes' : 'no', reachable, text(node['api_addr']), match, lag];
  });
}

function eventRows(status: JsonObject): string[][] {
  const events = status['events'];
  if (!Array.isArray(events)) return [];
  return events
    .slice(-eventsShownMax)
    .reverse()
    .map((event) => {
      const record = objectAt(event);
      const details = Object.entries(objectAt(record, 'fields'))
        .map(([name, value]) => `${name}=${text(value)}`)
        .join(' ');
      return [text(record['time']), text(record['level']), text(record['event']), text(details)];
    });
}

/** The summary of `status` (a node's /status) and `nodes` (its /nodes?ver=2 list). */
export function formatStatusSummary(status: JsonObject, nodes: readonly JsonObject[]): string {
  const store = objectAt(status, 'store');
  const raft = objectAt(store, 'raft');
  const leader = objectAt(store, 'leader');
  const leaderId = text(leader['node_id']) || 'none known';
  const leaderAddress = text(leader['api_addr']) === '' ? '' : ` at ${text(leader['api_addr'])}`;
  const halted = store['halted'] === null || store['halted'] === undefined ? '' : `, HALTED: ${text(store['halted'])}`;
  const indexes = `commit ${text(raft['commit_index'])}, applied ${text(raft['applied_index'])}, last log ${text(raft['last_log_index'])}`;
  const lines = [
    `Node      ${text(store['node_id'])} (${text(raft['state'])}, term ${text(raft['term'])}), version ${text(objectAt(status, 'build')['version'])}`,
    `Leader    ${leaderId}${leaderAddress}`,
    `Indexes   ${indexes}, last snapshot ${text(raft['last_snapshot_index'])}`,
    `Health    ${store['ready'] === true ? 'ready' : 'not ready'}${halted}, up ${text(objectAt(status, 'node')['uptime_s'])}s`,
    '',
    formatTable(['MEMBER (* this node)', 'ROLE', 'VOTER', 'REACHABLE', 'API ADDRESS', 'MATCH', 'LAG'], memberRows(status, nodes)),
  ];
  if (raft['state'] !== 'Leader') lines.push("(match index and lag are the leader's view: ask the leader)");
  const events = eventRows(status);
  if (events.length > 0) lines.push('', `Recent events (newest first, up to ${eventsShownMax})`, formatTable(['TIME', 'LEVEL', 'EVENT', 'DETAILS'], events));
  return `${lines.join('\n')}\n`;
}
