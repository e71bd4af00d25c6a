import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseShellArguments } from '../../src/cli/shell-arguments.js';
import { parseDotCommand, splitStatements } from '../../src/cli/shell-input.js';

describe('splitStatements', () => {
  it('ends statements at semicolons outside quotes and comments', () => {
    const text = `SELECT 'a;b', "c;d", [e;f], \`g;h\` FROM t; -- note; here\nSELECT 1 /* ; */ ; SELECT 'it''s;'`;
    assert.deepEqual(splitStatements(text), {
      statements: [`SELECT 'a;b', "c;d", [e;f], \`g;h\` FROM t`, `-- note; here\nSELECT 1 /* ; */`],
      rest: ` SELECT 'it''s;'`,
    });
  });

  it('keeps an unfinished statement (open quote, no semicolon) as the rest', () => {
    assert.deepEqual(splitStatements("INSERT INTO t VALUES ('multi\nline;"), { statements: [], rest: "INSERT INTO t VALUES ('multi\nline;" });
    assert.deepEqual(splitStatements('SELECT 1\n'), { statements: [], rest: 'SELECT 1\n' });
  });

  it('drops empty statements and comment-only ones', () => {
    assert.deepEqual(splitStatements(';; -- nothing\n; /* x */ ;SELECT 2;').statements, ['SELECT 2']);
  });

  it('inside CREATE TRIGGER only a semicolon after END ends the statement', () => {
    const trigger = 'CREATE TRIGGER audit AFTER INSERT ON t BEGIN INSERT INTO log VALUES (new.id); UPDATE n SET c = c + 1; END';
    assert.deepEqual(splitStatements(`${trigger}; SELECT 1;`).statements, [trigger, 'SELECT 1']);
    assert.deepEqual(splitStatements('create temp trigger x after delete on t begin delete from u;').statements, []);
  });

  it('follows sqlite3_complete: an END inside a trigger body (CASE … END) does not end it', () => {
    const trigger = 'CREATE TRIGGER t1 AFTER INSERT ON t BEGIN UPDATE u SET x = CASE WHEN 1 THEN 2 END; END';
    assert.deepEqual(splitStatements(`${trigger}; SELECT 1;`).statements, [trigger, 'SELECT 1']);
    assert.deepEqual(splitStatements('EXPLAIN CREATE TRIGGER t2 AFTER INSERT ON t BEGIN SELECT 1;').statements, []);
  });

  it('keeps a block comment still open as unfinished input, and drops only blanks and closed comments', () => {
    assert.deepEqual(splitStatements('SELECT 1; /* still ;\n'), { statements: ['SELECT 1'], rest: ' /* still ;\n' });
    assert.deepEqual(splitStatements('SELECT 1; -- done\n/* closed */\n'), { statements: ['SELECT 1'], rest: '' });
  });
});

describe('parseDotCommand', () => {
  it('splits name and arguments, honouring quotes', () => {
    assert.deepEqual(parseDotCommand('.mode csv'), { name: 'mode', args: ['csv'] });
    assert.deepEqual(parseDotCommand(`  .READ "my file.sql"  'x y' z`), { name: 'read', args: ['my file.sql', 'x y', 'z'] });
    assert.deepEqual(parseDotCommand('.exit'), { name: 'exit', args: [] });
    assert.deepEqual(parseDotCommand('.'), { name: '', args: [] });
    assert.equal(parseDotCommand('SELECT 1'), undefined);
  });
});

describe('parseShellArguments', () => {
  it('reads --host lists, --command, --consistency and defaults', () => {
    const parsed = parseShellArguments(['--host', 'http://a:1, http://b:2', '--command', 'SELECT 1', '--consistency=strong'], {});
    assert.equal(parsed.kind, 'run');
    if (parsed.kind !== 'run') return;
    assert.deepEqual(parsed.arguments.hosts, ['http://a:1', 'http://b:2']);
    assert.equal(parsed.arguments.command, 'SELECT 1');
    assert.equal(parsed.arguments.consistency, 'strong');
    const defaults = parseShellArguments([], {});
    assert.ok(defaults.kind === 'run' && defaults.arguments.hosts[0] === 'http://127.0.0.1:4001' && defaults.arguments.consistency === 'weak');
    const fromEnvironment = parseShellArguments([], { QUORUMLITE_HOST: 'http://e:9', QUORUMLITE_USER: 'u:p:w' });
    assert.ok(fromEnvironment.kind === 'run');
    if (fromEnvironment.kind !== 'run') return;
    assert.deepEqual(fromEnvironment.arguments.hosts, ['http://e:9']);
    assert.deepEqual(fromEnvironment.arguments.user, { username: 'u', password: 'p:w' });
  });

  it('refuses unknown flags, missing values and bad values with a message', () => {
    const cases: [string[], RegExp][] = [
      [['--bogus'], /unknown flag --bogus/],
      [['--bogus=1'], /unknown flag --bogus/],
      [['stray'], /unexpected argument "stray"/],
      [['--host'], /--host needs a value/],
      [['--consistency', 'eventual'], /--consistency must be one of/],
      [['--mode', 'box'], /--mode must be one of/],
      [['--headers', 'maybe'], /--headers must be on or off/],
      [['--user', 'nopassword'], /NAME:PASSWORD/],
      [['--host', ' , '], /names no node/],
    ];
    for (const [argv, message] of cases) {
      const parsed = parseShellArguments(argv, {});
      assert.equal(parsed.kind, 'error', argv.join(' '));
      if (parsed.kind === 'error') assert.match(parsed.message, message);
    }
    assert.deepEqual(parseShellArguments(['-c', 'x', '--help'], {}), { kind: 'help' });
  });
});
