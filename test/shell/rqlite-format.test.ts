/**
 * rqlite's shell output formats. Expected texts come from rqlite's own README example
 * (column mode) and from what its Go code writes: mkideal/pkg textutil.WriteTable,
 * encoding/csv, json.MarshalIndent, and `%*s = %s` for line mode.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rqliteHelpText } from '../../src/cli/shell-rqlite-commands.js';
import { parseDumpArguments } from '../../src/cli/shell-rqlite-files.js';
import { formatRqliteTable, goCsvField, goJsonIndent, goValueText, prettyPrintJson, type ResultTable } from '../../src/cli/shell-rqlite-format.js';

const foo: ResultTable = {
  columns: ['id', 'name'],
  values: [
    [1, 'fiona'],
    [2, null],
  ],
};

describe('column mode (a box, as in rqlite README examples)', () => {
  it('frames the header and every row, pads to the widest cell plus one space', () => {
    // rqlite's README: `SELECT * FROM foo` with one row.
    assert.equal(
      formatRqliteTable({ columns: ['id', 'name'], values: [[1, 'fiona']] }, 'column'),
      '+----+-------+\n| id | name  |\n+----+-------+\n| 1  | fiona |\n+----+-------+\n',
    );
    assert.equal(
      formatRqliteTable(foo, 'column'),
      '+----+-------+\n| id | name  |\n+----+-------+\n| 1  | fiona |\n+----+-------+\n| 2  | <nil> |\n+----+-------+\n',
    );
  });

  it('prints the header alone for no rows, and nothing without columns', () => {
    assert.equal(formatRqliteTable({ columns: ['name'], values: [] }, 'column'), '+------+\n| name |\n+------+\n');
    assert.equal(formatRqliteTable({ columns: [], values: [] }, 'column'), '');
  });

  it('aligns text by code points', () => {
    assert.equal(formatRqliteTable({ columns: ['a'], values: [['é'], ['xyz']] }, 'column'), '+-----+\n| a   |\n+-----+\n| é   |\n+-----+\n| xyz |\n+-----+\n');
  });
});

describe('csv mode (Go encoding/csv)', () => {
  it('writes the header, LF line ends, NULL as NULL, quotes only where Go does', () => {
    assert.equal(formatRqliteTable(foo, 'csv'), 'id,name\n1,fiona\n2,NULL\n');
    const awkward: ResultTable = {
      columns: ['a', 'b c'],
      values: [
        ['x,y', 'say "hi"'],
        [' lead', 'line\nbreak'],
        ['', "it's"],
      ],
    };
    assert.equal(formatRqliteTable(awkward, 'csv'), 'a,b c\n"x,y","say ""hi"""\n" lead","line\nbreak"\n,it\'s\n');
    assert.equal(formatRqliteTable({ columns: ['a'], values: [] }, 'csv'), 'a\n');
    assert.equal(goCsvField('\\.'), '"\\."');
    assert.equal(goCsvField('\u00a0x'), '"\u00a0x"');
  });
});

describe('json mode (Go json.MarshalIndent of one map per row)', () => {
  it('sorts keys, indents by two, escapes as Go does', () => {
    const table: ResultTable = { columns: ['name', 'id', 'b'], values: [['<a&b>', 1, [1, 255]]] };
    assert.equal(
      formatRqliteTable(table, 'json'),
      '[\n  {\n    "b": [\n      1,\n      255\n    ],\n    "id": 1,\n    "name": "\\u003ca\\u0026b\\u003e"\n  }\n]\n',
    );
    assert.equal(formatRqliteTable({ columns: ['a'], values: [] }, 'json'), '[]\n');
    assert.equal(goJsonIndent({ a: 'tab\there\u0001\u2028', e: {}, f: [] }), '{\n  "a": "tab\\there\\u0001\\u2028",\n  "e": {},\n  "f": []\n}');
    assert.equal(goJsonIndent(9223372036854775807n), '9223372036854775807');
  });
});

describe('line mode', () => {
  it('right-aligns names to the longest, NULL as NULL, a blank line between rows', () => {
    assert.equal(formatRqliteTable(foo, 'line'), '  id = 1\nname = fiona\n\n  id = 2\nname = NULL\n');
    assert.equal(formatRqliteTable({ columns: ['a'], values: [] }, 'line'), '');
  });
});

describe("Go's %v and rqlite's JSON tree", () => {
  it('prints values as Go prints what encoding/json decoded', () => {
    assert.equal(goValueText(null), '<nil>');
    assert.equal(goValueText(1.5), '1.5');
    assert.equal(goValueText(9223372036854775807n), '9223372036854775807');
    assert.equal(goValueText(true), 'true');
    assert.equal(goValueText([1, 2, 'x']), '[1 2 x]');
    assert.equal(goValueText({ b: 1, a: [true] }), 'map[a:[true] b:1]');
  });

  it('prints nested objects as indented blocks, keys sorted, nulls left out (pprintJSON)', () => {
    const status = { store: { raft: { state: 'Leader', term: 2 }, dir: '/d', halted: null }, build: { version: '0.1.0' }, list: ['a', 'b'] };
    assert.equal(prettyPrintJson(status), 'build:\n  version: 0.1.0\nlist: [a b]\nstore:\n  dir: /d\n  raft:\n    state: Leader\n    term: 2\n');
  });
});

describe('.help and .dump arguments', () => {
  it("lists rqlite's commands sorted, descriptions in one column", () => {
    const lines = rqliteHelpText.trimEnd().split('\n');
    assert.deepEqual(lines, [...lines].sort());
    assert.equal(lines[0], '.backup FILE                                  Write database backup to FILE');
    assert.ok(lines.includes('.consistency [none|weak|linearizable|strong]  Show or set read consistency level'));
    assert.ok(lines.includes('.dump FILE [TABLE,TABLE...]                   Dump the database in SQL text to FILE, optionally limited to TABLEs'));
    assert.ok(lines.includes(".nodes [all]                                  Show connection status of voting nodes. 'all' to show all nodes"));
    assert.equal(lines.at(-1), '.timer [on|off]                               Show setting, or set query timings on or off');
    for (const line of lines) assert.match(line, /^\.\S.{43} \S/, line);
  });

  it('splits .dump arguments as rqlite does: a file, then tables separated by commas', () => {
    assert.deepEqual(parseDumpArguments('out.sql'), { file: 'out.sql', tables: [] });
    assert.deepEqual(parseDumpArguments('out.sql foo,bar'), { file: 'out.sql', tables: ['foo', 'bar'] });
    assert.deepEqual(parseDumpArguments('out.sql foo, bar ,'), { file: 'out.sql', tables: ['foo', 'bar'] });
  });
});
