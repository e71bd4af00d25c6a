/**
 * /metrics and /status events from a real in-process node (durable log, Raft, SQLite,
 * HTTP): the scrape parses strictly as Prometheus text, carries the Raft, storage, HTTP
 * and snapshot families with values that moved, and the node logs its state changes at
 * info with structured fields and shows them in /status.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import type { QuorumNode } from '../../src/server/quorum-node.js';
import type { NodeLogger } from '../../src/node/logger.js';
import { startTestNode } from '../node/start-node.js';
import { repositoryRoot, waitFor } from '../cluster/harness.js';
import { parsePrometheusText, type ParsedFamily } from './prometheus-text.js';

let node: QuorumNode;
let base: string;
let directory: string;
const infoLines: { fields: Record<string, unknown>; message: string }[] = [];
const recordingLogger: NodeLogger = {
  debug: () => undefined,
  info: (fields, message) => infoLines.push({ fields, message }),
  warn: () => undefined,
  error: () => undefined,
};

before(async () => {
  ({ node, baseUrl: base, dataDirectory: directory } = await startTestNode('metrics', { logger: recordingLogger }));
  await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
  const execute = (sql: string): Promise<Response> =>
    fetch(`${base}/db/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([sql]) });
  assert.equal((await execute('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)')).status, 200);
  for (let row = 0; row < 5; row++) assert.equal((await execute(`INSERT INTO t(name) VALUES ('row ${row}')`)).status, 200);
  assert.equal((await fetch(`${base}/db/query?q=SELECT+*+FROM+t`)).status, 200);
  assert.equal((await fetch(`${base}/snapshot`, { method: 'POST' })).status, 200);
});

after(async () => {
  await node?.stop();
  rmSync(directory, { recursive: true, force: true });
});

async function scrape(): Promise<Map<string, ParsedFamily>> {
  const response = await fetch(`${base}/metrics`);
  assert.equal(response.status, 200);
  return parsePrometheusText(await response.text());
}

function single(families: Map<string, ParsedFamily>, name: string, sampleName = name, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  assert.ok(family !== undefined, `family ${name} missing`);
  const sample = family.samples.find(
    (candidate) => candidate.name === sampleName && Object.entries(labels).every(([key, value]) => candidate.labels[key] === value),
  );
  assert.ok(sample !== undefined, `${sampleName} ${JSON.stringify(labels)} missing`);
  return sample.value;
}

describe('a real node scraped', () => {
  it('exposes the Raft, storage, HTTP and snapshot families, parsed strictly', async () => {
    const families = await scrape();
    const expected = {
      quorumlite_raft_term: 'gauge',
      quorumlite_raft_commit_index: 'gauge',
      quorumlite_raft_applied_index: 'gauge',
      quorumlite_raft_leader_changes_total: 'counter',
      quorumlite_raft_proposal_duration_seconds: 'histogram',
      quorumlite_raft_apply_duration_seconds: 'histogram',
      quorumlite_storage_log_save_duration_seconds: 'histogram',
      quorumlite_storage_log_saved_bytes_total: 'counter',
      quorumlite_http_requests_total: 'counter',
      quorumlite_http_request_duration_seconds: 'histogram',
      quorumlite_snapshots_total: 'counter',
      quorumlite_node_events_total: 'counter',
    };
    for (const [name, type] of Object.entries(expected)) assert.equal(families.get(name)?.type, type, name);
    assert.ok(single(families, 'quorumlite_raft_term') >= 1);
    assert.ok(single(families, 'quorumlite_raft_leader_changes_total') >= 1);
    // Six writes were proposed and applied; each save carried their bytes.
    assert.ok(single(families, 'quorumlite_raft_proposal_duration_seconds', 'quorumlite_raft_proposal_duration_seconds_count') >= 6);
    assert.ok(single(families, 'quorumlite_raft_apply_duration_seconds', 'quorumlite_raft_apply_duration_seconds_count') >= 1);
    assert.ok(single(families, 'quorumlite_storage_log_save_duration_seconds', 'quorumlite_storage_log_save_duration_seconds_count') >= 1);
    assert.ok(single(families, 'quorumlite_storage_log_saved_bytes_total') > 0);
    assert.ok(single(families, 'quorumlite_snapshots_total') >= 1);
  });

  it('counts HTTP requests by route and status, and times every one of them', async () => {
    const families = await scrape();
    const answered = single(families, 'quorumlite_http_requests_total', 'quorumlite_http_requests_total', { route: '/db/execute', status: '200' });
    assert.equal(answered, 6);
    const timed = single(families, 'quorumlite_http_request_duration_seconds', 'quorumlite_http_request_duration_seconds_count', { route: '/db/execute' });
    assert.equal(timed, 6);
  });
});

describe('state changes', () => {
  it('are logged at info with structured fields', () => {
    const elected = infoLines.find((line) => line.fields['event'] === 'elected');
    assert.ok(elected !== undefined, 'no "elected" line at info');
    assert.equal(typeof elected.fields['term'], 'number');
    const snapshot = infoLines.find((line) => line.fields['event'] === 'snapshot');
    assert.ok(snapshot !== undefined, 'no "snapshot" line at info');
    assert.equal(typeof snapshot.fields['index'], 'number');
  });

  it('are listed in /status events, oldest first, with their fields', async () => {
    const status = (await (await fetch(`${base}/status`)).json()) as {
      events: { event: string; level: string; time: string; fields: Record<string, unknown> }[];
    };
    const names = status.events.map((event) => event.event);
    assert.ok(names.includes('elected'), names.join(','));
    assert.ok(names.indexOf('elected') < names.indexOf('snapshot'), names.join(','));
    const elected = status.events.find((event) => event.event === 'elected');
    assert.equal(elected?.level, 'info');
    assert.equal(typeof elected?.fields['term'], 'number');
    assert.ok(!Number.isNaN(Date.parse(elected?.time ?? '')));
  });
});

describe('the Grafana dashboard in docs/', () => {
  it('queries only metric names a real node exposes', async () => {
    const families = await scrape();
    const exposed = new Set<string>();
    for (const family of families.values()) for (const sample of family.samples) exposed.add(sample.name);
    for (const name of families.keys()) exposed.add(name);
    const dashboard = JSON.parse(readFileSync(`${repositoryRoot}docs/grafana-dashboard.json`, 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
      templating: { list: { query?: unknown }[] };
    };
    const expressions = [
      ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ where: panel.title, expr: target.expr }))),
      ...dashboard.templating.list
        .filter((variable) => typeof variable.query === 'string')
        .map((variable) => ({ where: 'templating', expr: String(variable.query) })),
    ];
    let named = 0;
    for (const { where, expr } of expressions) {
      for (const [name] of expr.matchAll(/quorumlite_[a-z_]+/g)) {
        named++;
        assert.ok(exposed.has(name), `${where}: ${name} is not in a real /metrics scrape`);
      }
    }
    assert.ok(named >= 20, `only ${named} metric names found in the dashboard`);
  });
});
