/**
 * rqlite's response shapes, byte for byte, from a real node (the whole in-process node:
 * durable log, Raft, the SQLite state machine and the HTTP API): expression column types,
 * DATE / DATETIME / TIMESTAMP and BOOLEAN values as rqlite's driver reads them, refused
 * SQL as rqlite answers its disallowed pragmas, `"rows": null` on associative writes,
 * queued writes, /status keys and sections, and /debug/vars.
 */
import { startTestNode } from '../node/start-node.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { QuorumNode } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import type { Json } from './harness.js';

let node: QuorumNode;
let base: string;
let directory: string;

before(async () => {
  const started = await startTestNode('shapes');
  ({ node, dataDirectory: directory, baseUrl: base } = started);
  await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
});

after(async () => {
  await node?.stop();
  rmSync(directory, { recursive: true, force: true });
});

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function postText(path: string, body: unknown): Promise<string> {
  const response = await post(path, body);
  assert.equal(response.status, 200);
  return response.text();
}

async function queryText(sql: string): Promise<string> {
  const response = await fetch(`${base}/db/query?q=${encodeURIComponent(sql)}`);
  assert.equal(response.status, 200);
  return response.text();
}

describe('types of columns without a declared type', () => {
  before(async () => {
    await postText('/db/execute', [
      'CREATE TABLE kinds (id INTEGER PRIMARY KEY, r REAL, name TEXT, untyped)',
      "INSERT INTO kinds(r, name, untyped) VALUES (2.0, 'x', NULL)",
    ]);
  });

  it("takes each from the first row's value: integer, real, text, blob; NULL leaves it empty", async () => {
    const text = await queryText("SELECT COUNT(*), 1, 2.5, 1.0 AS one, 'a', x'00ff', NULL, max(id), r, untyped FROM kinds");
    assert.equal(
      text,
      '{"results":[{"columns":["COUNT(*)","1","2.5","one","\'a\'","x\'00ff\'","NULL","max(id)","r","untyped"],' +
        '"types":["integer","integer","real","real","text","blob","","integer","real",""],' +
        '"values":[[1,1,2.5,1,"a","AP8=",null,1,2,null]]}]}',
    );
  });

  it('leaves them empty when there is no row', async () => {
    assert.equal(await queryText('SELECT id + 1 AS next FROM kinds WHERE 0'), '{"results":[{"columns":["next"],"types":[""]}]}');
  });
});

describe('DATE, DATETIME, TIMESTAMP and BOOLEAN columns', () => {
  before(async () => {
    await postText('/db/execute', [
      'CREATE TABLE events (id INTEGER PRIMARY KEY, d DATE, dt DATETIME, ts TIMESTAMP, flag BOOLEAN, plain TEXT)',
      "INSERT INTO events(d, dt, ts, flag, plain) VALUES ('2004-02-14', '2004-02-14 07:15:00.5', 1700000000, 1, '2004-02-14')",
      "INSERT INTO events(d, dt, ts, flag, plain) VALUES ('2004-02-14T07:15:00Z', '2004-02-14T07:15:00+05:30', 1700000000123, 0, NULL)",
      "INSERT INTO events(d, dt, ts, flag, plain) VALUES ('yesterday', 1.5, '2004-02-14 7:15', 'yes', NULL)",
    ]);
  });

  it('answers times in RFC 3339 as Go writes them, booleans as true/false, and leaves other values alone', async () => {
    const text = await queryText('SELECT d, dt, ts, flag, plain FROM events ORDER BY id');
    assert.equal(
      text,
      '{"results":[{"columns":["d","dt","ts","flag","plain"],"types":["date","datetime","timestamp","boolean","text"],"values":[' +
        '["2004-02-14T00:00:00Z","2004-02-14T07:15:00.5Z","2023-11-14T22:13:20Z",true,"2004-02-14"],' +
        '["2004-02-14T07:15:00Z","2004-02-14T07:15:00+05:30","2023-11-14T22:13:20.123Z",false,null],' +
        '["0001-01-01T00:00:00Z",1.5,"2004-02-14T07:15:00Z","yes",null]]}]}',
    );
  });

  it("fails the statement with Go's error when a time cannot be written (a year past 9999)", async () => {
    await postText('/db/execute', ['CREATE TABLE far (ts TIMESTAMP)', 'INSERT INTO far VALUES (253402300800)']);
    assert.equal(await queryText('SELECT ts FROM far'), '{"results":[{"error":"Time.MarshalText: year outside of range [0,9999]"}]}');
  });
});

describe('SQL quorumlite refuses', () => {
  it("answers a PRAGMA rqlite refuses as rqlite does: 200, no results, 'disallowed pragma'", async () => {
    for (const sql of ['PRAGMA journal_mode=DELETE', 'PRAGMA main.wal_checkpoint(TRUNCATE)', 'PRAGMA synchronous = OFF']) {
      const response = await post('/db/execute', [sql]);
      assert.equal(response.status, 200, sql);
      assert.equal(response.headers.get('x-quorumlite-error'), 'REFUSED_SQL');
      assert.equal(await response.text(), '{"results":[],"error":"disallowed pragma"}', sql);
    }
    const mixed = await post('/db/request', ['SELECT 1', 'PRAGMA wal_autocheckpoint=10']);
    assert.equal(await mixed.text(), '{"results":[],"error":"disallowed pragma"}');
  });

  it('answers the statements only quorumlite refuses in the same shape, with its reason', async () => {
    for (const [sql, reason] of [
      ['BEGIN', /BEGIN is not allowed/],
      ['VACUUM', /VACUUM is not allowed/],
      ["ATTACH 'other.db' AS other", /ATTACH is not allowed/],
    ] as const) {
      const response = await post('/db/execute', ['CREATE TABLE IF NOT EXISTS untouched (x)', sql]);
      assert.equal(response.status, 200, sql);
      const body = (await response.json()) as Json;
      assert.deepEqual(Object.keys(body), ['results', 'error'], sql);
      assert.deepEqual(body.results, []);
      assert.match(body.error, reason);
    }
    // Nothing of a refused request ran.
    assert.equal(await queryText("SELECT name FROM sqlite_master WHERE name = 'untouched'"), '{"results":[{"columns":["name"],"types":["text"]}]}');
  });
});

describe('writes and queued writes', () => {
  it('gives every write "rows": null with ?associative on /db/execute too', async () => {
    const text = await postText('/db/execute?associative', ['CREATE TABLE assoc (x)', 'INSERT INTO assoc VALUES (1)', 'INSERT INTO nope VALUES (1)']);
    assert.equal(text, '{"results":[{"rows":null},{"last_insert_id":1,"rows_affected":1,"rows":null},{"error":"no such table: nope"}]}');
  });

  it('answers ?queue&wait with no results and the sequence number, once the write applied', async () => {
    await postText('/db/execute', ['CREATE TABLE queued (x)']);
    const text = await postText('/db/execute?queue&wait', ['INSERT INTO queued VALUES (7)']);
    assert.match(text, /^\{"results":\[\],"sequence_number":\d+\}$/);
    assert.equal(await queryText('SELECT x FROM queued'), '{"results":[{"columns":["x"],"types":["integer"],"values":[[7]]}]}');
  });
});

describe('/status', () => {
  it('answers {} with 200 for a key that is not there, and the value where the walk meets one', async () => {
    const missing = await fetch(`${base}/status?key=store.nothing.here`);
    assert.equal(missing.status, 200);
    assert.equal(await missing.text(), '{}');
    assert.equal(await (await fetch(`${base}/status?key=store.raft.state.deeper`)).text(), '"Leader"');
  });

  it("has rqlite's sqlite3 pragmas and os, runtime and http sections, with this process's values", async () => {
    const status = (await (await fetch(`${base}/status`)).json()) as Json;
    for (const connection of ['rw', 'ro']) {
      assert.deepEqual(Object.keys(status.store.sqlite3.pragmas[connection]), [
        'synchronous',
        'journal_mode',
        'foreign_keys',
        'wal_autocheckpoint',
        'busy_timeout',
      ]);
      for (const value of Object.values(status.store.sqlite3.pragmas[connection])) assert.equal(typeof value, 'string');
    }
    assert.equal(status.os.pid, process.pid);
    assert.equal(status.os.ppid, process.ppid);
    assert.equal(status.os.executable, process.execPath);
    assert.equal(status.runtime.version, process.version);
    assert.ok(status.runtime.num_cpu >= 1);
    assert.equal(status.runtime.GOOS, process.platform === 'win32' ? 'windows' : process.platform);
    assert.equal(`http://${status.http.bind_addr}`, base);
    assert.equal(status.http.auth, 'disabled');
  });
});

describe('/debug/vars', () => {
  it("answers Go's expvar layout with rqlite's names for what the node counts", async () => {
    const response = await fetch(`${base}/debug/vars`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const text = await response.text();
    assert.match(text, /^\{\n"cluster": \{"num_execute_req": 0, /);
    assert.ok(text.endsWith('\n}\n'));
    const vars = JSON.parse(text) as Json;
    assert.deepEqual(Object.keys(vars), ['cluster', 'cmdline', 'http', 'memstats', 'mux', 'store']);
    assert.deepEqual(vars.cmdline, process.argv);
    assert.ok(vars.http.executions >= 1);
    assert.ok(vars.memstats.HeapAlloc > 0);
    assert.equal(vars.store.num_snapshots, 0);
    assert.equal(vars.store.num_joins, 0);
    assert.equal(typeof vars.mux.num_connections_handled, 'number');
    assert.equal(await (await fetch(`${base}/debug/vars?key=store`)).text().then((body) => body.split('\n')[1]?.slice(0, 9)), '"store": ');
  });
});
