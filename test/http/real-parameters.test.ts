/**
 * JSON numbers bind as rqlite binds them (its request parser decodes with json.Number and
 * tries int64 first): a literal without fraction or exponent that fits in 64 bits is an
 * INTEGER, exactly; any other number is a REAL, also `2.0`, `1e2` and `-0.0`, whose values
 * are whole. On a real in-process node, on every path a parameter takes: a read, a write
 * through the log, named parameters, `/db/request`, a queued write and a `db_timeout` read
 * (run in a child process).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { QuorumNode } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { startTestNode } from '../node/start-node.js';

let node: QuorumNode;
let baseUrl: string;
let directory: string;

before(async () => {
  ({ node, baseUrl, dataDirectory: directory } = await startTestNode('real-parameters'));
  await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
  await post('/db/execute', '["CREATE TABLE untyped (id INTEGER PRIMARY KEY, value)"]');
});

after(async () => {
  await node?.stop();
  rmSync(directory, { recursive: true, force: true });
});

interface Reply {
  readonly text: string;
  readonly results: { values?: unknown[][]; error?: string }[];
}

/** POSTs `body` as written (a JSON text, so `2.0` reaches the server as `2.0`). */
async function post(path: string, body: string): Promise<Reply> {
  const response = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const results = (JSON.parse(text) as { results: Reply['results'] }).results;
  for (const result of results) assert.equal(result.error, undefined, text);
  return { text, results };
}

/** The `values` text of the first result, as the server wrote it (exact integers stay exact). */
function valuesText(reply: Reply): string {
  const match = /"values":(\[\[.*?\]\])/.exec(reply.text);
  assert.ok(match !== null, reply.text);
  return match[1] as string;
}

describe('JSON numbers bind with rqlite kinds', () => {
  it('SELECT typeof(?), ? for 2.0, 1e2, -0.0, 2, 9007199254740993 and 1.5', async () => {
    const cases: readonly (readonly [string, string])[] = [
      ['2.0', '[["real",2]]'],
      ['1e2', '[["real",100]]'],
      ['2.50', '[["real",2.5]]'],
      ['-0.0', '[["real",0]]'],
      ['2', '[["integer",2]]'],
      ['-0', '[["integer",0]]'],
      ['9007199254740993', '[["integer",9007199254740993]]'],
      ['1.5', '[["real",1.5]]'],
    ];
    for (const [literal, expected] of cases) {
      assert.equal(valuesText(await post('/db/query', `[["SELECT typeof(?), ?", ${literal}, ${literal}]]`)), expected, literal);
    }
  });

  it('an integer beyond 64 bits is a REAL, as in rqlite (json.Number.Int64 fails, Float64 succeeds)', async () => {
    const reply = await post('/db/query', '[["SELECT typeof(?)", 9223372036854775808], ["SELECT typeof(?)", 9223372036854775807]]');
    assert.deepEqual(
      reply.results.map((result) => result.values),
      [[['real']], [['integer']]],
    );
  });

  it('binds JSON 2.0, 1e2 and -0.0 as REAL in named parameters and through /db/request', async () => {
    const named = await post('/db/query', '[["SELECT typeof(:a), typeof(@b), typeof($c), typeof(:d)", {"a": 2.0, "b": 1e2, "c": -0.0, "d": 2}]]');
    assert.deepEqual(named.results[0]?.values, [['real', 'real', 'real', 'integer']]);
    const request = await post('/db/request', '[["SELECT typeof(?), typeof(?)", 2.0, 2]]');
    assert.deepEqual(request.results[0]?.values, [['real', 'integer']]);
  });

  it('a db_timeout read, run in a child process, binds 2.0 as REAL', async () => {
    const reply = await post('/db/query?db_timeout=10s', '[["SELECT typeof(?), typeof(?)", 2.0, 2]]');
    assert.deepEqual(reply.results[0]?.values, [['real', 'integer']]);
  });

  it('a write through the log stores 2.0, 1e2 and -0.0 as REAL in an untyped column, 2 as INTEGER', async () => {
    await post('/db/execute', '[["INSERT INTO untyped (id, value) VALUES (1, ?), (2, ?), (3, ?), (4, ?), (5, :v)", 2.0, 1e2, -0.0, 2, {"v": 7.0}]]');
    await post('/db/execute?queue&wait', '[["INSERT INTO untyped (id, value) VALUES (6, ?)", 3.0]]');
    const reply = await post('/db/query', '[["SELECT id, typeof(value), value FROM untyped ORDER BY id"]]');
    assert.deepEqual(reply.results[0]?.values, [
      [1, 'real', 2],
      [2, 'real', 100],
      [3, 'real', 0],
      [4, 'integer', 2],
      [5, 'real', 7],
      [6, 'real', 3],
    ]);
  });
});
