import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readinessLines, readIdBody, selectStatusKey, shapeNode } from '../../src/http/cluster-handlers.js';
import { HttpError } from '../../src/http/http-error.js';
import { writeJsonString } from '../../src/http/json-writer.js';
import { renderPrometheusText } from '../../src/http/metrics.js';
import { shapeDataResponse, type ShapeOptions } from '../../src/http/results.js';
import type { DataResponse } from '../../src/service/service.js';
import type { StatementResult } from '../../src/state-machine/types.js';

const plain: ShapeOptions = { associative: false, timings: false, mixed: false, raftIndex: false };

function render(results: StatementResult[], options: Partial<ShapeOptions> = {}, extra: Partial<DataResponse> = {}, write = {}) {
  const response: DataResponse = { results, raftIndex: null, sequenceNumber: null, servedBy: 'n1:4002', ...extra };
  return writeJsonString(shapeDataResponse(response, { ...plain, ...options }, 0.125), write);
}

const rows: StatementResult = {
  kind: 'rows',
  columns: ['id', 'name', 'data', 'big'],
  types: ['integer', 'text', 'blob', ''],
  rows: [[1, 'fiona', new Uint8Array([1, 2, 3]), 9223372036854775807n]],
  timeSeconds: 0.5,
};

describe('response shaping', () => {
  it('shapes writes, DDL and errors with empty fields omitted', () => {
    const text = render([
      { kind: 'write', lastInsertId: 1, rowsAffected: 1, timeSeconds: 0.1 },
      { kind: 'write', lastInsertId: 0, rowsAffected: 0 },
      { kind: 'empty' },
      { kind: 'error', error: 'no such table: foo' },
    ]);
    assert.equal(text, '{"results":[{"last_insert_id":1,"rows_affected":1},{},{},{"error":"no such table: foo"}]}');
  });

  it('shapes rows with columns, types and values; BLOBs as base64; bigints exact', () => {
    assert.equal(
      render([rows]),
      '{"results":[{"columns":["id","name","data","big"],"types":["integer","text","blob",""],' + '"values":[[1,"fiona","AQID",9223372036854775807]]}]}',
    );
  });

  it('omits values when a read returns no rows', () => {
    const empty: StatementResult = { kind: 'rows', columns: ['id'], types: ['integer'], rows: [] };
    assert.equal(render([empty]), '{"results":[{"columns":["id"],"types":["integer"]}]}');
  });

  it('writes BLOBs as byte arrays with blob_array', () => {
    assert.match(render([rows], {}, {}, { blobAsArray: true }), /"values":\[\[1,"fiona",\[1,2,3\],9223372036854775807\]\]/);
  });

  it('adds per-result and top-level time with timings', () => {
    const parsed = JSON.parse(render([rows, { kind: 'write', lastInsertId: 2, rowsAffected: 1, timeSeconds: 0.25 }], { timings: true }));
    assert.equal(parsed.time, 0.125);
    assert.equal(parsed.results[0].time, 0.5);
    assert.equal(parsed.results[1].time, 0.25);
  });

  it('shapes associative reads with types as a map and rows as objects', () => {
    assert.equal(
      render([rows], { associative: true }),
      '{"results":[{"types":{"id":"integer","name":"text","data":"blob","big":""},' +
        '"rows":[{"id":1,"name":"fiona","data":"AQID","big":9223372036854775807}]}]}',
    );
    const empty: StatementResult = { kind: 'rows', columns: ['id'], types: ['integer'], rows: [] };
    assert.equal(render([empty], { associative: true }), '{"results":[{"types":{"id":"integer"},"rows":[]}]}');
  });

  it('gives writes "rows": null in /db/request with associative, and only there', () => {
    const write: StatementResult = { kind: 'write', lastInsertId: 3, rowsAffected: 1 };
    assert.equal(
      render([write, { kind: 'empty' }], { associative: true, mixed: true }),
      '{"results":[{"last_insert_id":3,"rows_affected":1,"rows":null},{"rows":null}]}',
    );
    assert.equal(render([write], { associative: true }), '{"results":[{"last_insert_id":3,"rows_affected":1}]}');
    assert.equal(render([write], { mixed: true }), '{"results":[{"last_insert_id":3,"rows_affected":1}]}');
  });

  it('adds raft_index only when asked, and sequence_number for queued writes', () => {
    assert.equal(render([], {}, { raftIndex: 7 }), '{"results":[]}');
    assert.equal(render([], { raftIndex: true }, { raftIndex: 7 }), '{"results":[],"raft_index":7}');
    assert.equal(render([], {}, { sequenceNumber: 1653314298877648934n }), '{"results":[],"sequence_number":1653314298877648934}');
  });

  it('pretty-prints with four spaces', () => {
    const text = render([{ kind: 'write', lastInsertId: 1, rowsAffected: 1 }], {}, {}, { pretty: true });
    assert.equal(text, JSON.stringify({ results: [{ last_insert_id: 1, rows_affected: 1 }] }, null, 4));
  });
});

describe('cluster shaping', () => {
  it('shapes a node as rqlite does, omitting empty fields', () => {
    const node = shapeNode({
      id: 'n1',
      apiAddress: 'http://127.0.0.1:4001',
      raftAddress: '127.0.0.1:4002',
      version: '0.1.0',
      voter: true,
      reachable: true,
      leader: false,
      timeSeconds: 0.0015,
      error: '',
    });
    assert.equal(
      writeJsonString(node),
      '{"id":"n1","api_addr":"http://127.0.0.1:4001","addr":"127.0.0.1:4002","version":"0.1.0",' +
        '"voter":true,"reachable":true,"leader":false,"time":0.0015,"time_s":"1.5ms"}',
    );
    const unreachable = shapeNode({
      id: 'n2',
      apiAddress: '',
      raftAddress: '127.0.0.2:4002',
      version: '',
      voter: false,
      reachable: false,
      leader: false,
      timeSeconds: null,
      error: 'connection refused',
    });
    assert.equal(
      writeJsonString(unreachable),
      '{"id":"n2","addr":"127.0.0.2:4002","voter":false,"reachable":false,"leader":false,"error":"connection refused"}',
    );
  });

  it('selects a status sub-object by dotted key as rqlite does: {} when missing, the value where the walk meets one', () => {
    const status = { store: { raft: { state: 'Leader', commit_index: 5 } }, http: { addr: 'x' } };
    assert.deepEqual(selectStatusKey(status, 'store.raft'), { state: 'Leader', commit_index: 5 });
    assert.equal(selectStatusKey(status, 'store.raft.state'), 'Leader');
    assert.equal(selectStatusKey(status, 'store.raft.state.deeper'), 'Leader');
    for (const key of ['nope', 'store.nope', 'store.raft.toString']) assert.deepEqual(selectStatusKey(status, key), {}, key);
  });

  it('reads {"id": …} bodies and refuses everything else', () => {
    assert.equal(readIdBody('{"id":"n2"}', 'required'), 'n2');
    for (const body of ['', '{}', '{"id":1}', '{"id":""}', '{"id":"a","x":1}', '["n2"]', '"n2"', '{"id":', 'null']) {
      assert.throws(
        () => readIdBody(body, 'required'),
        (error: unknown) => error instanceof HttpError && error.status === 400,
        body,
      );
    }
  });

  it('writes readiness lines up to the first failure', () => {
    assert.deepEqual(
      readinessLines([
        { name: 'leader', ok: true, message: '' },
        { name: 'store', ok: true, message: '' },
        { name: 'db', ok: true, message: '' },
      ]),
      { lines: ['[+]node ok', '[+]leader ok', '[+]store ok', '[+]db ok'], ready: true },
    );
    assert.deepEqual(
      readinessLines([
        { name: 'leader', ok: true, message: '' },
        { name: 'store', ok: false, message: 'applying the log' },
        { name: 'db', ok: true, message: '' },
      ]),
      { lines: ['[+]node ok', '[+]leader ok', '[-]store failed: applying the log'], ready: false },
    );
  });
});

describe('Prometheus text', () => {
  it('renders families with labels escaped', () => {
    const text = renderPrometheusText([
      { name: 'q_commit_index', help: 'Commit\nindex', type: 'gauge', samples: [{ labels: {}, value: 12n }] },
      {
        name: 'q_requests_total',
        help: 'Requests.',
        type: 'counter',
        samples: [
          { labels: { route: '/db/"x"\\' }, value: 3 },
          { labels: { route: 'b' }, value: Infinity },
        ],
      },
    ]);
    assert.equal(
      text,
      '# HELP q_commit_index Commit\\nindex\n# TYPE q_commit_index gauge\nq_commit_index 12\n' +
        '# HELP q_requests_total Requests.\n# TYPE q_requests_total counter\n' +
        'q_requests_total{route="/db/\\"x\\"\\\\"} 3\nq_requests_total{route="b"} +Inf\n',
    );
  });

  it('refuses invalid metric and label names (programmer errors)', () => {
    assert.throws(() => renderPrometheusText([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }]), /invalid metric name/);
    assert.throws(
      () => renderPrometheusText([{ name: 'ok', help: '', type: 'gauge', samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] }]),
      /invalid label name/,
    );
  });
});
