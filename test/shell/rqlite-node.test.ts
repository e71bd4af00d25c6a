/**
 * The rqlite-style shell (the default) against a real node: SQL in each output mode,
 * every settings command, the table and cluster commands, the file commands, each
 * with rqlite's exact text. Endpoints this node may not have yet (/db/backup, /db/load,
 * /boot, /snapshot, /reap, /debug/vars, /demote) are checked both ways: on the node
 * (a clear "this server has no … endpoint" error, or the command working once it has
 * one) and through a proxy that answers as rqlite documents them.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestCluster } from '../cluster/harness.js';
import { on, startNodeProxy, type NodeProxy } from './node-proxy.js';
import { banner, hostFlags, nodeHasEndpoint, runShellWith, startOneNode } from './rqlite-harness.js';

let cluster: TestCluster;
let url: string;
let proxy: NodeProxy;
let directory: string;

/** Runs `lines` piped into the shell on the node; returns stdout without greeting and `bye~`. */
async function session(lines: string[], base = url): Promise<{ body: string; stderr: string; code: number }> {
  const outcome = await runShellWith(hostFlags(base), `${lines.join('\n')}\n`);
  const greeting = await banner(base);
  assert.ok(outcome.stdout.startsWith(greeting), outcome.stdout);
  assert.ok(outcome.stdout.endsWith('bye~\n'), outcome.stdout);
  return { body: outcome.stdout.slice(greeting.length, -'bye~\n'.length), stderr: outcome.stderr, code: outcome.code };
}

before(async () => {
  ({ cluster, url } = await startOneNode());
  proxy = await startNodeProxy({ target: url });
  directory = mkdtempSync(join(tmpdir(), 'quorumlite-rqlite-shell-'));
});

after(async () => {
  await proxy?.close();
  await cluster?.close();
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

describe('SQL and output modes', () => {
  it('greets, runs one statement a line, prints tables and row counts as rqlite, says bye~', async () => {
    const outcome = await runShellWith(
      hostFlags(url),
      "CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)\nINSERT INTO foo(name) VALUES('fiona')\nSELECT * FROM foo\n",
    );
    assert.equal(
      outcome.stdout,
      `${await banner(url)}0 row affected\n1 row affected\n+----+-------+\n| id | name  |\n+----+-------+\n| 1  | fiona |\n+----+-------+\nbye~\n`,
    );
    assert.equal(outcome.stderr, '');
    assert.equal(outcome.code, 0);
  });

  it('.mode column|csv|json|line, and shows the mode without an argument', async () => {
    const { body } = await session([
      'CREATE TABLE modes (id INTEGER PRIMARY KEY, name TEXT)',
      "INSERT INTO modes(name) VALUES ('a,b'), (NULL)",
      '.mode',
      '.mode csv',
      'SELECT * FROM modes',
      '.mode json',
      'SELECT * FROM modes',
      '.mode line',
      'SELECT * FROM modes',
      '.mode box',
      '.mode',
    ]);
    assert.equal(
      body,
      [
        '0 row affected',
        '2 rows affected',
        'column',
        'id,name',
        '1,"a,b"',
        '2,NULL',
        '[',
        '  {',
        '    "id": 1,',
        '    "name": "a,b"',
        '  },',
        '  {',
        '    "id": 2,',
        '    "name": null',
        '  }',
        ']',
        '  id = 1',
        'name = a,b',
        '',
        '  id = 2',
        'name = NULL',
        "ERR! invalid mode 'box'. Use 'column', 'csv', 'json', or 'line'",
        'line',
        '',
      ].join('\n'),
    );
  });

  it("prints a statement's SQL error as `Error:`, and exits 1 after errors in a pipe", async () => {
    const outcome = await runShellWith(hostFlags(url), 'SELECT nope\nSELECT 2 AS two\n');
    assert.equal(outcome.stdout, `${await banner(url)}Error: no such column: nope\n+-----+\n| two |\n+-----+\n| 2   |\n+-----+\nbye~\n`);
    assert.equal(outcome.code, 1);
  });

  it('.timer prints run times as rqlite does; .changes the last insert ID', async () => {
    const { body } = await session([
      'CREATE TABLE timed (id INTEGER PRIMARY KEY, v TEXT)',
      '.timer',
      '.timer on',
      '.timer',
      "INSERT INTO timed(v) VALUES ('x')",
      'SELECT v FROM timed',
      '.timer off',
      '.changes on',
      '.changes',
      "INSERT INTO timed(v) VALUES ('y'), ('z')",
      '.changes off',
      "INSERT INTO timed(v) VALUES ('w')",
      '.timer maybe',
    ]);
    assert.match(
      body,
      new RegExp(
        [
          '^0 row affected\\noff\\non\\n1 row affected \\(\\d+\\.\\d{6} sec\\)\\n',
          '\\+---\\+\\n\\| v \\|\\n\\+---\\+\\n\\| x \\|\\n\\+---\\+\\nRun Time: \\d+\\.\\d{6} seconds\\n',
          'on\\n2 rows affected\\nlast insert ID: 3\\n1 row affected\\n',
          "ERR! invalid option 'maybe'\\. Use 'on' or 'off' \\(default\\)\\n$",
        ].join(''),
      ),
    );
  });

  it('.blobarray shows BLOBs as byte arrays instead of base64', async () => {
    const { body } = await session([
      'CREATE TABLE blobs (b BLOB)',
      "INSERT INTO blobs VALUES (x'01ff')",
      'SELECT b FROM blobs',
      '.blobarray on',
      '.blobarray',
      'SELECT b FROM blobs',
    ]);
    assert.equal(
      body,
      [
        '0 row affected',
        '1 row affected',
        '+------+',
        '| b    |',
        '+------+',
        '| Af8= |',
        '+------+',
        'on',
        '+---------+',
        '| b       |',
        '+---------+',
        '| [1 255] |',
        '+---------+',
        '',
      ].join('\n'),
    );
  });

  it('.forcewrites sends every statement to /db/execute; .consistency sets the read level', async () => {
    proxy.requests.length = 0;
    const { body } = await session(
      [
        'CREATE TABLE forced (v TEXT)',
        '.forcewrites on',
        '.forcewrites',
        "INSERT INTO forced VALUES ('f')",
        '.forcewrites off',
        '.consistency',
        '.consistency strong',
        'SELECT v FROM forced',
        '.consistency eventual',
        '.consistency',
      ],
      proxy.url,
    );
    assert.equal(
      body,
      '0 row affected\non\n1 row affected\nweak\n+---+\n| v |\n+---+\n| f |\n+---+\n' +
        "ERR! invalid consistency 'eventual'. Use 'none', 'weak', 'linearizable', or 'strong'\nstrong\n",
    );
    await runShellWith([...hostFlags(proxy.url), '--command', '.consistency linearizable\n.tables']);
    const paths = proxy.requests.map((request) => `${request.method} ${request.path}`);
    assert.deepEqual(
      paths.filter((path) => path.startsWith('POST')),
      ['POST /db/request', 'POST /db/execute', 'POST /db/request?level=strong'],
    );
    assert.ok(
      paths.some((path) => path.startsWith('GET /db/query?level=linearizable&q=SELECT+name+FROM+sqlite_master')),
      paths.join('\n'),
    );
  });

  it(".show lists the settings; .output FILE sends results to a file, '.output' back to stdout", async () => {
    const file = join(directory, 'results.txt');
    const { body } = await session(['.output', `.output ${file}`, '.show', 'SELECT 1 AS one', 'SELECT nope', '.output stdout', '.show', 'SELECT 2 AS two']);
    assert.equal(
      body,
      [
        '  blobarray: off',
        '  changes: off',
        '  consistency: weak',
        '  forcewrites: off',
        '  mode: column',
        `  output: ${file}`,
        '  timer: off',
        '  blobarray: off',
        '  changes: off',
        '  consistency: weak',
        '  forcewrites: off',
        '  mode: column',
        '  output: stdout',
        '  timer: off',
        '+-----+',
        '| two |',
        '+-----+',
        '| 2   |',
        '+-----+',
        '',
      ].join('\n'),
    );
    assert.equal(readFileSync(file, 'utf8'), '+-----+\n| one |\n+-----+\n| 1   |\n+-----+\nError: no such column: nope\n');
    const refused = await session([`.output ${join(directory, 'no', 'such', 'dir')}`]);
    assert.equal(refused.body, `ERR! open ${join(directory, 'no', 'such', 'dir')}: no such file or directory\n`);
  });

  it('.read FILE runs each line as a statement, skipping blanks and -- comments, going on after an error', async () => {
    const file = join(directory, 'script.sql');
    writeFileSync(file, "-- a comment\nCREATE TABLE readme (v TEXT)\n\nINSERT INTO readme VALUES ('r')\nSELECT nope\n  SELECT v FROM readme  \n");
    const { body } = await session([`.read ${file}`, '.read', `.read ${join(directory, 'missing.sql')}`]);
    assert.equal(
      body,
      '0 row affected\n1 row affected\nError: no such column: nope\n+---+\n| v |\n+---+\n| r |\n+---+\n' +
        `ERR! please specify an input file to read from\nERR! open ${join(directory, 'missing.sql')}: no such file or directory\n`,
    );
  });
});

describe('schema commands', () => {
  it('.tables, .schema, .indexes as rqlite queries them, internal tables hidden', async () => {
    const { body } = await session([
      'CREATE TABLE zeta (id INTEGER PRIMARY KEY, name TEXT UNIQUE)',
      'CREATE INDEX zeta_name ON zeta (name)',
      '.mode csv',
      '.tables',
      '.schema',
      '.indexes',
    ]);
    const lines = body.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['0 row affected', '0 row affected', 'name']);
    assert.ok(lines.includes('zeta'));
    assert.ok(!lines.some((line) => line.startsWith('_quorumlite_') || line.startsWith('sqlite_')), body);
    assert.ok(lines.includes('"CREATE TABLE zeta (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"'), body);
    assert.ok(lines.includes('CREATE INDEX zeta_name ON zeta (name)'), body);
    // The UNIQUE constraint's automatic index has no SQL: rqlite's query prints it as NULL.
    assert.ok(body.endsWith('\nsql\nNULL\nCREATE INDEX zeta_name ON zeta (name)\n'), body);
  });
});

describe('node commands', () => {
  it('.status [key], .nodes, .leader, .ready, .extensions print what the node says', async () => {
    const nodes = (await (await fetch(`${url}/nodes`)).json()) as Record<string, { api_addr: string }>;
    const [id] = Object.keys(nodes);
    const { body } = await session(['.status store', '.status nosuchkey', '.nodes', '.nodes all', '.leader', '.ready', '.extensions']);
    assert.match(body, /^store:\n( {2}\S.*\n)+/);
    const lines = body.split('\n');
    assert.equal(lines.filter((line) => line === `${id}:`).length, 3, 'the node heads .nodes, .nodes all and .leader');
    const nodeBlock = lines.slice(lines.indexOf(`${id}:`));
    for (const line of [`  api_addr: ${url}`, '  leader: true', '  reachable: true', '  voter: true']) assert.ok(nodeBlock.includes(line), line);
    assert.ok(body.endsWith('  voter: true\nready\n'), body);
  });

  it('.extensions, .status and .nodes through a node answering as rqlite documents', async () => {
    proxy.rules.push(
      on('GET', '/status', (request) =>
        request.path.includes('key=extensions') ? { status: 200, body: '{"names":["vec0","fts5"]}' } : { status: 401, body: '' },
      ),
      on('GET', '/nodes', { status: 200, body: '{"n1":{"api_addr":"http://h:1","leader":true,"error":null,"time":0.5}}' }),
    );
    try {
      const outcome = await runShellWith([...hostFlags(proxy.url), '--command', '.extensions\n.status\n.nodes\n.leader']);
      assert.equal(
        outcome.stdout,
        'vec0\nfts5\nERR! unauthorized\nn1:\n  api_addr: http://h:1\n  leader: true\n  time: 0.5\nn1:\n  api_addr: http://h:1\n  leader: true\n  time: 0.5\n',
      );
      assert.equal(outcome.code, 1);
    } finally {
      proxy.rules.length = 0;
    }
  });

  it('.sysdump FILE writes status, nodes, readyz and expvar of every node', async () => {
    const file = join(directory, 'sysdump.txt');
    const { body } = await session([`.sysdump ${file}`, '.sysdump']);
    assert.equal(body, 'ERR! please specify an output file for the sysdump\n');
    const dump = readFileSync(file, 'utf8');
    for (const path of ['status?pretty', 'nodes?pretty', 'readyz', 'debug/vars'])
      assert.ok(dump.includes(`\n=========================================\nURL: ${url}/${path}\nStatus: `), path);
    assert.ok(dump.includes('Status: 200 OK\n\n[+]node ok'), dump);
  });
});

interface EndpointCase {
  readonly command: (file: string) => string;
  readonly method: string;
  readonly path: string;
  /** What the shell prints when the node lacks the endpoint. */
  readonly missing: string;
}

const endpointCases: readonly EndpointCase[] = [
  {
    command: (file) => `.backup ${file}`,
    method: 'GET',
    path: 'db/backup',
    missing: 'ERR! server responded with: 404 Not Found (this server has no GET /db/backup endpoint)\n',
  },
  {
    command: (file) => `.dump ${file} foo`,
    method: 'GET',
    path: 'db/backup',
    missing: 'ERR! server responded with: 404 Not Found (this server has no GET /db/backup endpoint)\n',
  },
  {
    command: () => '.snapshot',
    method: 'POST',
    path: 'snapshot',
    missing: 'ERR! server responded with 404 Not Found (this server has no POST /snapshot endpoint)\n',
  },
  { command: () => '.reap', method: 'POST', path: 'reap', missing: 'ERR! server responded with 404 Not Found (this server has no POST /reap endpoint)\n' },
  {
    command: () => '.expvar',
    method: 'GET',
    path: 'debug/vars',
    missing: 'ERR! server responded with 404 Not Found (this server has no GET /debug/vars endpoint)\n',
  },
  {
    command: () => '.demote nosuchnode',
    method: 'POST',
    path: 'demote',
    missing: 'ERR! server responded with: 404 Not Found (this server has no POST /demote endpoint)\n',
  },
];

describe('commands whose endpoint this server may lack', () => {
  for (const [caseIndex, endpoint] of endpointCases.entries()) {
    const name = `${endpoint.command('FILE')}: a clear error naming ${endpoint.method} /${endpoint.path} when the node lacks it, works when it has it`;
    it(name, async () => {
      const file = join(directory, `endpoint-case-${caseIndex}`);
      const { body } = await session([endpoint.command(file)]);
      if (!(await nodeHasEndpoint(url, endpoint.method, endpoint.path, endpoint.method === 'POST' ? '{}' : undefined))) {
        assert.equal(body, endpoint.missing);
        assert.equal(existsSync(file), false, 'a failed backup leaves no file');
      } else {
        assert.doesNotMatch(body, /this server has no/);
      }
      // rqlite's own 404 for a path it does not know has an empty body: the same message.
      proxy.rules.push(on(endpoint.method, `/${endpoint.path}`, { status: 404, body: '' }));
      try {
        const viaProxy = await runShellWith([...hostFlags(proxy.url), '--command', endpoint.command(file)]);
        assert.equal(viaProxy.stdout, endpoint.missing);
        assert.equal(viaProxy.code, 1);
      } finally {
        proxy.rules.length = 0;
      }
    });
  }

  it('.restore FILE: SQL text and SQLite files go to POST /db/load; the error names the endpoint when missing', async () => {
    const sqlFile = join(directory, 'restore.sql');
    writeFileSync(sqlFile, 'CREATE TABLE restored (v TEXT);\nINSERT INTO restored VALUES (1);\n');
    const { body } = await session([`.restore ${sqlFile}`, '.restore']);
    if (!(await nodeHasEndpoint(url, 'POST', 'db/load', ''))) {
      assert.equal(
        body,
        'ERR! server responded with: 404 Not Found (this server has no POST /db/load endpoint)\nERR! please specify an input file to restore from\n',
      );
    } else {
      assert.match(
        body,
        /^(last inserted ID: \d+\nrows affected: \d+\n)?Database restored successfully\.\nERR! please specify an input file to restore from\n$/,
      );
    }
    const loads: string[] = [];
    proxy.rules.push(
      on('POST', '/db/load', (request) => {
        loads.push(`${request.headers['content-type']} ${request.body.toString('latin1')}`);
        return { status: 200, body: request.headers['content-type'] === 'text/plain' ? '{"results":[{"last_insert_id":1,"rows_affected":2}]}' : '{}' };
      }),
    );
    const databaseFile = join(directory, 'restore.db');
    writeFileSync(databaseFile, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(84)]));
    try {
      const viaProxy = await runShellWith([...hostFlags(proxy.url), '--command', `.restore ${sqlFile}\n.restore ${databaseFile}`]);
      assert.equal(viaProxy.stdout, 'last inserted ID: 1\nrows affected: 2\nDatabase restored successfully.\nDatabase restored successfully.\n');
      assert.deepEqual(loads, [
        'text/plain CREATE TABLE restored (v TEXT);\nINSERT INTO restored VALUES (1);\nPRAGMA foreign_keys=OFF;',
        `application/octet-stream SQLite format 3\0${'\0'.repeat(84)}`,
      ]);
    } finally {
      proxy.rules.length = 0;
    }
  });

  it('.boot FILE: only a SQLite file, sent to POST /boot', async () => {
    const databaseFile = join(directory, 'boot.db');
    writeFileSync(databaseFile, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(84)]));
    const notDatabase = join(directory, 'boot.txt');
    writeFileSync(notDatabase, 'hello');
    const { body } = await session([`.boot ${notDatabase}`, `.boot ${databaseFile}`, '.boot']);
    const [first, second, third] = body.split('\n');
    assert.equal(first, `ERR! ${notDatabase} is not a valid SQLite file`);
    if (!(await nodeHasEndpoint(url, 'POST', 'boot', ''))) {
      assert.equal(second, 'ERR! boot failed, status code: 404 Not Found, not found: /boot (this server has no POST /boot endpoint)');
    } else {
      assert.match(second ?? '', /^(Node booted successfully\.|ERR! boot failed, status code: .*)$/);
    }
    assert.equal(third, 'ERR! please specify an input file to boot with');
    proxy.rules.push(on('POST', '/boot', { status: 200 }));
    try {
      const viaProxy = await runShellWith([...hostFlags(proxy.url), '--command', `.boot ${databaseFile}`]);
      assert.equal(viaProxy.stdout, 'Node booted successfully.\n');
      const booted = proxy.requests.filter((request) => request.path === '/boot').at(-1);
      assert.equal(booted?.body.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
    } finally {
      proxy.rules.length = 0;
    }
  });

  it(".backup, .dump, .snapshot, .reap, .expvar and .demote on endpoints that answer as rqlite's do", async () => {
    proxy.rules.push(
      on('GET', '/db/backup', (request) =>
        request.path.includes('fmt=sql')
          ? { status: 200, body: `-- ${request.path}\nCREATE TABLE foo (id INTEGER);\n` }
          : { status: 200, body: Buffer.from('SQLite format 3\0backup') },
      ),
      on('POST', '/snapshot', { status: 204 }),
      on('POST', '/reap', { status: 200, body: '{"snapshots_reaped":2,"wals_checkpointed":1}' }),
      on('GET', '/debug/vars', { status: 200, body: '{"cmdline":["rqlited","-node-id","1"],"memstats":{"Alloc":1024,"Frees":7}}' }),
      on('POST', '/demote', { status: 200 }),
    );
    const backupFile = join(directory, 'proxy-backup.db');
    const dumpFile = join(directory, 'proxy-dump.sql');
    try {
      const outcome = await runShellWith([
        ...hostFlags(proxy.url),
        '--command',
        [
          `.backup ${backupFile}`,
          `.dump ${dumpFile} foo, bar`,
          '.snapshot',
          '.snapshot 5',
          '.snapshot soon',
          '.reap',
          '.expvar',
          '.expvar memstats',
          '.demote n2',
          '.demote',
        ].join('\n'),
      ]);
      assert.equal(
        outcome.stdout,
        [
          'backup file written successfully',
          'SQL text file written successfully',
          'ERR! invalid trailing logs value: soon',
          'snapshots reaped: 2, WALs checkpointed: 1',
          'cmdline: [rqlited -node-id 1]',
          'memstats:',
          '  Alloc: 1024',
          '  Frees: 7',
          'memstats:',
          '  Alloc: 1024',
          '  Frees: 7',
          'ERR! please specify the ID of the node to demote',
          '',
        ].join('\n'),
      );
      assert.equal(readFileSync(backupFile, 'latin1'), 'SQLite format 3\0backup');
      assert.equal(readFileSync(dumpFile, 'utf8'), '-- /db/backup?fmt=sql&tables=foo%2Cbar\nCREATE TABLE foo (id INTEGER);\n');
      const paths = proxy.requests.map((request) => `${request.method} ${request.path} ${request.body.toString()}`);
      for (const expected of ['POST /snapshot?trailing_logs=0 ', 'POST /snapshot?trailing_logs=5 ', 'POST /demote {"id":"n2"}'])
        assert.ok(paths.includes(expected), expected);
    } finally {
      proxy.rules.length = 0;
    }
  });
});

describe('commands and errors', () => {
  it('.help prints the command list; an unknown dot command is an error; quit ends the session', async () => {
    const { body } = await session(['.help', '.frobnicate now', 'quit', 'SELECT 1']);
    assert.ok(body.startsWith('.backup FILE                                  Write database backup to FILE\n'), body);
    assert.ok(
      body.endsWith(
        '.timer [on|off]                               Show setting, or set query timings on or off\n' +
          'ERR! unknown command .frobnicate: enter ".help" for usage hints\n',
      ),
      body,
    );
    for (const word of ['.exit', '.QUIT', 'EXIT']) assert.equal((await session([word, 'SELECT 1'])).body, '');
  });

  it('--command runs its lines without greeting, exit status 1 after an error', async () => {
    const good = await runShellWith([...hostFlags(url), '--command', 'SELECT 1 AS x\n.mode csv\nSELECT 2 AS y']);
    assert.deepEqual(good, { code: 0, stdout: '+---+\n| x |\n+---+\n| 1 |\n+---+\ny\n2\n', stderr: '' });
    const bad = await runShellWith([...hostFlags(url), '--command', '.timer maybe']);
    assert.equal(bad.code, 1);
  });
});
