/**
 * The shared SQL splitter on nasty inputs: `;` inside every kind of quote and comment,
 * trigger bodies, blobs, unfinished input. SQLite itself confirms that each expected
 * piece is exactly one statement, and every prefix of a script splits into a prefix of
 * the script's statements (what the shell sees while a user types).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { splitFinishedSqlStatements, splitSqlStatements } from '../../src/common/sql-statements.js';
import { SqlSyntaxError, scanTokens, tokenize } from '../../src/common/sql-tokens.js';

/** Each is one statement, full of things that look like statement ends. */
const pieces = [
  `INSERT INTO u VALUES ('a;b' || 'it''s; fine' || '--;' || '/*;*/')`,
  `SELECT "x;y" AS "q"";uote", [c;d], \`e;f\`, x'3b', X'3B' FROM t`,
  `SELECT 1 /* ; */ + 2 -- ; trailing\n + 3`,
  `CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  INSERT INTO u VALUES (';'); UPDATE u SET x = CASE WHEN 1 THEN 2 END;\n  DELETE FROM u WHERE x = 'END;'; END`,
  `CREATE TEMPORARY TRIGGER "tr;2" AFTER DELETE ON t BEGIN SELECT "END"; SELECT [end]; END`,
  `EXPLAIN CREATE TRIGGER tr3 BEFORE UPDATE ON t BEGIN SELECT 1; END`,
  `SELECT 'é;', "é" FROM t WHERE a = :a;x OR a = $b`.replace(';x', ''),
  `SELECT end FROM (SELECT 1 AS end)`,
];

function database(): Database.Database {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t ("x;y", "q"";uote", "c;d", "e;f", "é", a, b); CREATE TABLE u (x)');
  return db;
}

describe('splitSqlStatements', () => {
  it('each expected piece is one statement to SQLite itself', () => {
    const db = database();
    for (const piece of pieces) assert.doesNotThrow(() => db.prepare(piece), piece);
    db.close();
  });

  it('splits pieces joined by every kind of separator back into the pieces', () => {
    const separators = [';', ' ; ', ';\n-- a comment; with a semicolon\n', ';/* ; */;;', ';\n\n'];
    for (const [offset, separator] of separators.entries()) {
      const order = pieces.map((_, index) => pieces[(index + offset) % pieces.length] as string);
      const script = `  ${order.join(separator)}${offset % 2 === 0 ? ';' : ''}  `;
      assert.deepEqual(
        splitSqlStatements(script).map((statement) => statement.sql),
        order,
        JSON.stringify(script),
      );
    }
  });

  it('reports where each statement and its segment start and end', () => {
    const script = '-- lead\nSELECT 1 /* tail */ ; SELECT 2';
    const [first, second] = splitSqlStatements(script);
    assert.equal(first?.sql, 'SELECT 1');
    assert.equal(script.slice(first?.segmentStart, first?.segmentEnd), '-- lead\nSELECT 1 /* tail */ ');
    assert.equal(second?.sql, 'SELECT 2');
    assert.equal(script.slice(second?.segmentStart, second?.segmentEnd), ' SELECT 2');
  });

  it('drops empty statements, and reads nothing from blanks and comments', () => {
    assert.deepEqual(splitSqlStatements(''), []);
    assert.deepEqual(splitSqlStatements(' ;; -- x;\n /* ; */ ; '), []);
    assert.deepEqual(
      splitSqlStatements('SELECT 1 /* never closed ;').map((statement) => statement.sql),
      ['SELECT 1'],
    );
  });

  it('refuses a string or quoted identifier left open, naming where it starts', () => {
    assert.throws(
      () => splitSqlStatements("SELECT 1; SELECT 'abc;"),
      (error: unknown) => {
        return error instanceof SqlSyntaxError && error.message === 'unterminated string at offset 17';
      },
    );
    for (const open of ['SELECT "abc', 'SELECT [abc', 'SELECT `abc']) {
      assert.throws(() => splitSqlStatements(open), /unterminated quoted identifier at offset 7/);
    }
    assert.throws(() => splitSqlStatements("SELECT x'00"), /unterminated string at offset 8/);
  });

  it('ends a trigger only at a ; right after END, wherever END appears otherwise', () => {
    const unfinished = [
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; SELECT 2',
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END; SELECT 3;',
      'create temp trigger x after delete on t begin delete from u;',
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; "END";',
    ];
    for (const text of unfinished) assert.deepEqual(splitFinishedSqlStatements(text).statements, [], text);
    assert.equal(splitSqlStatements('CREATE TABLE trigger_log (end); SELECT 1').length, 2, 'not a trigger: CREATE TABLE');
  });
});

describe('splitFinishedSqlStatements', () => {
  it('every prefix of a script splits into a prefix of its statements', () => {
    const script = `${pieces.join(';\n-- c;\n')};`;
    const whole = splitSqlStatements(script).map((statement) => statement.sql);
    assert.deepEqual(whole, pieces);
    const ends = splitSqlStatements(script).map((statement) => statement.segmentEnd);
    for (let cut = 0; cut <= script.length; cut++) {
      const prefix = script.slice(0, cut);
      const split = splitFinishedSqlStatements(prefix);
      const expectedCount = ends.filter((end) => end < cut).length;
      assert.deepEqual(
        split.statements.map((statement) => statement.sql),
        whole.slice(0, expectedCount),
        `cut at ${cut}`,
      );
      assert.ok(split.restStart <= cut);
    }
  });

  it('leaves open quotes, open comments and missing semicolons unfinished', () => {
    for (const text of ["SELECT 1; SELECT 'a;", 'SELECT 1; SELECT "a;', 'SELECT 1; SELECT [a;', 'SELECT 1; /* open ;', 'SELECT 1; SELECT 2']) {
      const split = splitFinishedSqlStatements(text);
      assert.deepEqual(
        split.statements.map((statement) => statement.sql),
        ['SELECT 1'],
        text,
      );
      assert.equal(split.restStart, 9, text);
      assert.equal(split.restIsBlank, false, text);
    }
    assert.equal(splitFinishedSqlStatements('SELECT 1; -- done\n /* closed */ ').restIsBlank, true);
    assert.equal(splitFinishedSqlStatements('SELECT 1; -- no newline yet').restIsBlank, true);
  });
});

describe('tokenize', () => {
  it('reads words upper-cased, quotes unquoted, and keeps offsets', () => {
    const tokens = tokenize(`select "a""b", [c d], 'it''s', x'ff', 1.5e3, ?1, :name, é_1;`);
    assert.deepEqual(
      tokens.map((token) => [token.kind, token.text]),
      [
        ['word', 'SELECT'],
        ['quoted-identifier', 'a"b'],
        ['punctuation', ','],
        ['quoted-identifier', 'c d'],
        ['punctuation', ','],
        ['string', "it's"],
        ['punctuation', ','],
        ['string', 'ff'],
        ['punctuation', ','],
        ['number', '1.5e3'],
        ['punctuation', ','],
        ['variable', '?1'],
        ['punctuation', ','],
        ['variable', ':name'],
        ['punctuation', ','],
        ['word', 'É_1'],
        ['semicolon', ';'],
      ],
    );
    assert.deepEqual([tokens[1]?.start, tokens[1]?.end], [7, 13]);
  });

  it('scanTokens stops at an open span and says what and where it is', () => {
    assert.deepEqual(scanTokens("SELECT 'x").unclosed, { kind: 'string', start: 7 });
    assert.deepEqual(scanTokens('SELECT 1 /* x').unclosed, { kind: 'block-comment', start: 9 });
    assert.deepEqual(
      scanTokens('SELECT `x').tokens.map((token) => token.text),
      ['SELECT'],
    );
    assert.equal(scanTokens('SELECT 1 -- x').unclosed, undefined);
  });
});
