import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { layoutInColumns, stringifyJson } from '../../src/cli/shell-commands.js';
import { csvField, formatTable, type OutputMode, type Table } from '../../src/cli/shell-format.js';

const table: Table = { columns: ['a', 'bb', 'c', 'd'], rows: [[1, 'hello', null, 12345]] };

describe('output modes (expected text taken from the sqlite3 3.40 shell)', () => {
  it('column: pads every cell to the widest, two spaces apart, dashes under the header', () => {
    assert.equal(formatTable(table, { mode: 'column', headers: true }), 'a  bb     c  d    \n-  -----  -  -----\n1  hello     12345\n');
    assert.equal(formatTable(table, { mode: 'column', headers: false }), '1  hello     12345\n');
    assert.equal(formatTable({ columns: ['a', 'b'], rows: [['', 1]] }, { mode: 'column', headers: false }), '   1\n');
    const unicode: Table = {
      columns: ['a', 'b'],
      rows: [
        ['é', 'long value'],
        ['xyz', null],
      ],
    };
    assert.equal(formatTable(unicode, { mode: 'column', headers: true }), 'a    b         \n---  ----------\né    long value\nxyz            \n');
  });

  it('csv: quotes like sqlite3, CRLF line ends, NULL as an empty unquoted field', () => {
    const csv: Table = {
      columns: ['x', 'y', 'z', 'n', 'k'],
      rows: [
        ['a,b', 'q"q', 'sp ace', 3, null],
        ["it's", 'é', 'a;b', '', 'x-y'],
      ],
    };
    assert.equal(formatTable(csv, { mode: 'csv', headers: true }), 'x,y,z,n,k\r\n"a,b","q""q","sp ace",3,\r\n"it\'s","é",a;b,"",x-y\r\n');
    assert.equal(formatTable({ columns: ['a'], rows: [[1]] }, { mode: 'csv', headers: false }), '1\r\n');
    assert.equal(csvField('line\nbreak'), '"line\nbreak"');
    assert.equal(csvField(new Uint8Array([0, 255])), `"X'00FF'"`);
  });

  it('json: one array per result, rows on their own lines, exact bigints', () => {
    const json: Table = {
      columns: ['a', 'b', 'c', 'd'],
      rows: [
        [1, 'h', 1.5, null],
        [9223372036854775807n, 'x"y', -2, null],
      ],
    };
    assert.equal(
      formatTable(json, { mode: 'json', headers: true }),
      '[{"a":1,"b":"h","c":1.5,"d":null},\n{"a":9223372036854775807,"b":"x\\"y","c":-2,"d":null}]\n',
    );
  });

  it('line: names right-aligned to at least 5, a blank line between rows', () => {
    const lines: Table = {
      columns: ['a', 'bb'],
      rows: [
        [1, 2],
        [3, 4],
      ],
    };
    assert.equal(formatTable(lines, { mode: 'line', headers: true }), '    a = 1\n   bb = 2\n\n    a = 3\n   bb = 4\n');
    const wide: Table = { columns: ['a', 'longname'], rows: [[1, null]] };
    assert.equal(formatTable(wide, { mode: 'line', headers: true }), '       a = 1\nlongname = \n');
  });

  it('prints nothing for results without rows or columns', () => {
    for (const mode of ['column', 'csv', 'json', 'line'] as OutputMode[]) {
      assert.equal(formatTable({ columns: ['a'], rows: [] }, { mode, headers: true }), '');
      assert.equal(formatTable({ columns: [], rows: [] }, { mode, headers: true }), '');
    }
  });

  const sqlite3 = spawnSync('sqlite3', ['-version'], { encoding: 'utf8' });
  it('matches the sqlite3 binary on this machine for text, integers and NULL', { skip: sqlite3.status !== 0 && 'sqlite3 not installed' }, () => {
    const query = "SELECT 1 AS a, 'hello world' AS bb, NULL AS c, 'it''s' AS d UNION ALL SELECT 22, 'x', 'é,', ''";
    const rows: Table = {
      columns: ['a', 'bb', 'c', 'd'],
      rows: [
        [1, 'hello world', null, "it's"],
        [22, 'x', 'é,', ''],
      ],
    };
    for (const mode of ['column', 'csv', 'json', 'line'] as OutputMode[]) {
      for (const headers of [true, false]) {
        if (mode === 'json' || mode === 'line') if (!headers) continue;
        const script = `.mode ${mode}\n.headers ${headers ? 'on' : 'off'}\n${query};\n`;
        const expected = spawnSync('sqlite3', [':memory:'], { input: script, encoding: 'utf8' }).stdout;
        assert.equal(formatTable(rows, { mode, headers }), expected, `${mode} headers ${headers}`);
      }
    }
  });
});

describe('shell helpers', () => {
  it('lays out .tables names column-major like sqlite3', () => {
    assert.equal(layoutInColumns(['t', 't2'], 80), 't   t2\n');
    const names = Array.from({ length: 7 }, (_unused, index) => `table_number_${index}`);
    assert.equal(
      layoutInColumns(names, 50),
      'table_number_0  table_number_3  table_number_6\ntable_number_1  table_number_4\ntable_number_2  table_number_5\n',
    );
    assert.equal(layoutInColumns([], 80), '');
  });

  it('pretty-prints JSON with exact bigints', () => {
    assert.equal(
      stringifyJson({ a: [1, 9223372036854775807n], b: {}, c: [] }, 2),
      '{\n  "a": [\n    1,\n    9223372036854775807\n  ],\n  "b": {},\n  "c": []\n}',
    );
  });
});
