// The quorumlite web console: plain JavaScript the node serves as it is (no build step).
// It polls this node's HTTP API (/status, /nodes, /metrics) and runs SQL through
// /db/request or /db/query with the chosen read level. Every value shown goes into the
// page as text (textContent), never as markup, so a row holding `<script>` stays text.
// With credentials checked, it asks for a user and password and sends them as HTTP Basic.

const pollIntervalMs = 1000;
const eventsShownMax = 100;

const state = {
  authorization: null,
  previousCounters: null,
  polling: false,
};

const $ = (id) => document.getElementById(id);

/** An element with text (never markup) and an optional class. */
function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) tr.append(cell instanceof Node ? cell : element('td', cell));
  return tr;
}

function replaceRows(table, rows) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
}

class HttpProblem extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, init = {}) {
  const headers = new Headers(init.headers ?? {});
  if (state.authorization !== null) headers.set('Authorization', state.authorization);
  const response = await fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  if (response.status === 401 || response.status === 403) {
    const text = await response.text();
    throw new HttpProblem(response.status, errorText(text) || response.statusText);
  }
  return response;
}

function errorText(text) {
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: the text itself
  }
  return text.trim();
}

function showProblem(message) {
  const box = $('problem');
  box.hidden = message === null;
  box.textContent = message ?? '';
}

function askForCredentials(problem) {
  const login = $('login');
  login.hidden = false;
  $('login-reason').textContent =
    problem.status === 401
      ? `This node checks credentials (HTTP 401: ${problem.message}). Sign in with a user from its auth file.`
      : `Signed in, but this user may not do that (HTTP 403: ${problem.message}).`;
}

function handleFailure(error, what) {
  if (error instanceof HttpProblem) {
    const verb = error.status === 401 ? 'not signed in' : 'permission refused';
    showProblem(`${what}: ${verb} (HTTP ${error.status}): ${error.message}`);
    askForCredentials(error);
    return;
  }
  showProblem(`${what}: ${error instanceof Error ? error.message : String(error)}`);
}

// ---------------------------------------------------------------------------
// Prometheus text: the few families the console shows
// ---------------------------------------------------------------------------

function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[pair[1]] = pair[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Per route: requests, errors, latency sum and count; plus the Raft latencies' sums and counts. */
function countersOf(samples) {
  const routes = new Map();
  const route = (name) => {
    if (!routes.has(name)) routes.set(name, { requests: 0, errors: 0, sumSeconds: 0, count: 0 });
    return routes.get(name);
  };
  const raft = {};
  for (const sample of samples) {
    if (sample.name === 'quorumlite_http_requests_total') {
      const entry = route(sample.labels.route);
      entry.requests += sample.value;
      if (Number(sample.labels.status) >= 400) entry.errors += sample.value;
    } else if (sample.name === 'quorumlite_http_request_duration_seconds_sum') route(sample.labels.route).sumSeconds = sample.value;
    else if (sample.name === 'quorumlite_http_request_duration_seconds_count') route(sample.labels.route).count = sample.value;
    else if (/^quorumlite_(raft|storage)_[a-z_]+_duration_seconds_(sum|count)$/.test(sample.name)) raft[sample.name] = sample.value;
  }
  return { atMs: performance.now(), routes, raft };
}

function formatSeconds(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  if (seconds < 0.001) return `${(seconds * 1e6).toFixed(0)} µs`;
  if (seconds < 1) return `${(seconds * 1000).toFixed(1)} ms`;
  return `${seconds.toFixed(2)} s`;
}

function renderRates(current) {
  const previous = state.previousCounters;
  const elapsedSeconds = previous === null ? 0 : (current.atMs - previous.atMs) / 1000;
  const rows = [...current.routes]
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([name, now]) => {
      const before = previous?.routes.get(name) ?? { requests: 0, sumSeconds: 0, count: 0 };
      const rate = elapsedSeconds > 0 ? (now.requests - before.requests) / elapsedSeconds : NaN;
      const newCount = now.count - before.count;
      const meanSeconds = newCount > 0 ? (now.sumSeconds - before.sumSeconds) / newCount : now.count > 0 ? now.sumSeconds / now.count : NaN;
      return row([name, Number.isFinite(rate) ? rate.toFixed(1) : '–', formatSeconds(meanSeconds), now.requests, now.errors]);
    });
  replaceRows($('rates'), rows);
  const facts = $('raft-latency');
  facts.replaceChildren();
  const mean = (base) => {
    const count = current.raft[`${base}_count`];
    return count > 0 ? formatSeconds(current.raft[`${base}_sum`] / count) : '–';
  };
  fact(facts, 'Mean proposal (commit + apply)', mean('quorumlite_raft_proposal_duration_seconds'));
  fact(facts, 'Mean apply batch', mean('quorumlite_raft_apply_duration_seconds'));
  fact(facts, 'Mean log save (write + fdatasync)', mean('quorumlite_storage_log_save_duration_seconds'));
  state.previousCounters = current;
}

function fact(container, label, value) {
  const span = element('span');
  span.append(element('span', `${label}: `, 'muted'), element('b', value));
  container.append(span);
}

// ---------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------

function renderCluster(status, nodes) {
  const raft = status.store?.raft ?? {};
  const selfId = status.store?.node_id ?? '';
  $('node-line').textContent = `node ${selfId} · ${status.http?.addr ?? ''} · version ${status.build?.version ?? ''}`;
  const facts = $('this-node');
  facts.replaceChildren();
  fact(facts, 'This node', selfId);
  fact(facts, 'Role', raft.state ?? '?');
  fact(facts, 'Term', raft.term ?? '?');
  fact(facts, 'Leader', status.store?.leader?.node_id || 'none');
  fact(facts, 'Commit index', raft.commit_index ?? '?');
  fact(facts, 'Applied index', raft.applied_index ?? '?');
  fact(facts, 'Last log index', raft.last_log_index ?? '?');
  if (status.store?.halted) fact(facts, 'HALTED', status.store.halted);
  const followers = new Map((status.replication?.followers ?? []).map((follower) => [follower.id, follower]));
  const leading = raft.state === 'Leader';
  const rows = nodes.map((node) => memberRow(node, { follower: followers.get(node.id), self: node.id === selfId, leading, raft }));
  replaceRows($('members'), rows);
  $('members-problems').replaceChildren(
    ...nodes.filter((node) => !node.reachable).map((node) => element('li', `${node.id} unreachable: ${node.error ?? 'no answer'}`)),
  );
  $('members-note').textContent = leading ? '' : "Match index and lag are the leader's view: open the leader's console to see them.";
}

/** One member: what /nodes says of it, and what the leader's replication says (on the leader only). */
function memberRow(node, view) {
  const { follower, self, leading, raft } = view;
  const role = roleOf(node);
  const { match, lag } = self
    ? { match: raft.last_log_index ?? '', lag: leading ? 0 : '' }
    : { match: follower?.match_index ?? '', lag: follower?.lag_entries ?? '' };

  const tr = row([
    element('td', self ? `${node.id} (this node)` : node.id),
    element('td', role, node.leader ? 'role-leader' : ''),
    node.voter ? 'yes' : 'no',
    element('td', node.reachable ? 'yes' : 'no', node.reachable ? '' : 'unreachable'),
    node.api_addr ?? '',
    match,
    lag,
    contactText(follower),
  ]);
  tr.dataset.node = node.id;
  tr.dataset.role = role;
  return tr;
}

function roleOf(node) {
  if (node.leader) return 'Leader';
  return node.voter ? 'Follower' : 'Learner';
}

function contactText(follower) {
  if (follower === undefined) return '';
  return follower.last_contact_age_ms < 0 ? 'never' : `${follower.last_contact_age_ms} ms ago`;
}

function renderEvents(events) {
  const rows = [...events]
    .reverse()
    .slice(0, eventsShownMax)
    .map((event) => {
      const details = Object.entries(event.fields ?? {})
        .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
        .join(' ');
      const tr = row([
        event.time,
        element('td', event.level, `level-${event.level}`),
        event.event,
        element('td', event.message, 'wrap'),
        element('td', details, 'wrap'),
      ]);
      tr.dataset.event = event.event;
      return tr;
    });
  replaceRows($('events'), rows);
}

async function poll() {
  if (state.polling) return;
  state.polling = true;
  try {
    const [status, nodes, metrics] = await Promise.all([
      api('/status').then((response) => response.json()),
      api('/nodes?nonvoters&ver=2&timeout=2s').then((response) => response.json()),
      api('/metrics').then((response) => response.text()),
    ]);
    renderCluster(status, nodes.nodes ?? []);
    renderEvents(status.events ?? []);
    renderRates(countersOf(parseMetrics(metrics)));
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    showProblem(null);
    $('login').hidden = true;
  } catch (error) {
    handleFailure(error, 'Cannot read the cluster');
  } finally {
    state.polling = false;
  }
}

// ---------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------

function renderResult(result) {
  const box = element('div', undefined, 'result');
  if (result.error !== undefined) {
    box.append(element('p', `Error: ${result.error}`, 'error'));
    return box;
  }
  if (result.columns === undefined) {
    const parts = [`${result.rows_affected ?? 0} row(s) affected`];
    if (result.last_insert_id !== undefined) parts.push(`last insert id ${result.last_insert_id}`);
    box.append(element('p', parts.join(', '), 'muted'));
    return box;
  }
  const table = element('table');
  table.className = 'sql-table';
  const head = document.createElement('thead');
  head.append(row(result.columns.map((column, index) => element('th', `${column}${result.types?.[index] ? ` (${result.types[index]})` : ''}`))));
  const body = document.createElement('tbody');
  for (const values of result.values ?? []) {
    body.append(
      row(
        values.map((value) =>
          value === null ? element('td', 'NULL', 'null') : element('td', typeof value === 'object' ? JSON.stringify(value) : value, 'wrap'),
        ),
      ),
    );
  }
  table.append(head, body);
  box.append(table, element('p', `${(result.values ?? []).length} row(s)`, 'muted'));
  return box;
}

async function runSql(event) {
  event.preventDefault();
  const sql = $('sql').value.trim();
  if (sql === '') return;
  const level = $('level').value;
  const endpoint = $('endpoint').value;
  const output = $('sql-results');
  $('sql-state').textContent = 'running…';
  try {
    const response = await api(`${endpoint}?level=${encodeURIComponent(level)}&timings`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([sql]),
    });
    const text = await response.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = { error: `HTTP ${response.status}: ${text.trim()}` };
    }
    const parts = (body.results ?? []).map(renderResult);
    if (body.error !== undefined) parts.unshift(element('p', `Error (HTTP ${response.status}): ${body.error}`, 'error'));
    output.replaceChildren(...parts);
    $('sql-state').textContent = `HTTP ${response.status} · level ${level}${body.time !== undefined ? ` · ${formatSeconds(body.time)}` : ''}`;
  } catch (error) {
    $('sql-state').textContent = '';
    output.replaceChildren(element('p', error instanceof HttpProblem ? `HTTP ${error.status}: ${error.message}` : String(error), 'error'));
    handleFailure(error, 'Cannot run the SQL');
  }
}

function signIn(event) {
  event.preventDefault();
  const user = $('login-user').value;
  const password = $('login-password').value;
  // btoa takes Latin-1: encode UTF-8 first so any user name or password works.
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  state.authorization = `Basic ${btoa(String.fromCharCode(...bytes))}`;
  $('login').hidden = true;
  void poll();
}

$('sql-form').addEventListener('submit', runSql);
$('login').addEventListener('submit', signIn);
void poll();
setInterval(() => void poll(), pollIntervalMs);
