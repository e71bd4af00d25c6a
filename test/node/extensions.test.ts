/**
 * rqlited's -extensions-path: extensions gathered from a file, a directory, a zip or a
 * tar.gz into <data>/extensions, then loaded into every connection of the state machine,
 * snapshot workers included.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installExtensions } from '../../src/server/extensions.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { encodeCommand } from '../../src/state-machine/command-codec.js';
import { buildHalfExtension, compilerMissing } from './sqlite-extension-fixture.js';

const skip = compilerMissing();
const zipMissing = (() => {
  try {
    execFileSync('zip', ['-v'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'no zip command to build a test archive';
  }
})();

function write(sql: string): Uint8Array {
  return encodeCommand({ statements: [{ sql, positional: [], named: {} }], transaction: false, timestampMs: 1_700_000_000_000, seed: 1n });
}

describe('extensions', { skip }, () => {
  let root = '';
  let library = '';

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'quorumlite-extensions-'));
    mkdirSync(join(root, 'build'));
    library = buildHalfExtension(join(root, 'build'));
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  function names(paths: readonly string[]): string[] {
    return paths.map((path) => path.slice(path.lastIndexOf('/') + 1));
  }

  it('gathers a single file and a directory (hidden files and subdirectories left out) into <data>/extensions', () => {
    const source = join(root, 'directory-source');
    mkdirSync(join(source, 'nested'), { recursive: true });
    copyFileSync(library, join(source, 'half.so'));
    writeFileSync(join(source, '.hidden'), 'x');
    const data = join(root, 'data-directory');
    assert.deepEqual(names(installExtensions([source], data)), ['half.so']);
    assert.deepEqual(names(installExtensions([library], data)), ['half.so']);
    // The directory is emptied at every start, as rqlited does.
    writeFileSync(join(data, 'extensions', 'stale.so'), 'x');
    assert.deepEqual(names(installExtensions([library], data)), ['half.so']);
    assert.deepEqual(installExtensions([], data), []);
    assert.deepEqual(readdirSync(data), []);
  });

  it('gathers a flat tar.gz, and refuses one with a subdirectory', () => {
    const archive = join(root, 'extensions.tar.gz');
    execFileSync('tar', ['czf', archive, '-C', join(root, 'build'), 'half.so']);
    assert.deepEqual(names(installExtensions([archive], join(root, 'data-tar'))), ['half.so']);
    const nested = join(root, 'nested.tar.gz');
    execFileSync('tar', ['czf', nested, '-C', root, 'build']);
    assert.throws(() => installExtensions([nested], join(root, 'data-tar-nested')), /contains subdirectories/);
  });

  it('gathers a flat zip (deflated), and refuses one with a subdirectory', { skip: zipMissing }, () => {
    const archive = join(root, 'extensions.zip');
    execFileSync('zip', ['-q', '-j', archive, library]);
    assert.deepEqual(names(installExtensions([archive], join(root, 'data-zip'))), ['half.so']);
    const nested = join(root, 'nested.zip');
    execFileSync('zip', ['-q', '-r', nested, 'build'], { cwd: root });
    assert.throws(() => installExtensions([nested], join(root, 'data-zip-nested')), /contains subdirectories/);
  });

  it('refuses a path that does not exist', () => {
    assert.throws(() => installExtensions([join(root, 'missing.so')], join(root, 'data-missing')), /extensions path does not exist/);
  });

  it('loads into every connection: writes, reads, a generated column, and a snapshot restored on another node', async () => {
    const extensions = installExtensions([library], join(root, 'data-load'));
    const first = new SqliteStateMachine({ path: join(root, 'data-load', 'db.sqlite'), extensionPaths: extensions });
    const second = new SqliteStateMachine({ path: join(root, 'second.sqlite'), extensionPaths: extensions });
    try {
      assert.deepEqual(first.extensionNames, ['half.so']);
      first.apply(1, write('CREATE TABLE v (x REAL, h REAL GENERATED ALWAYS AS (half(x)) STORED)'));
      first.apply(2, write('INSERT INTO v(x) VALUES (half(20))'));
      const [rows] = first.query([{ sql: 'SELECT x, h, half(4) FROM v', positional: [], named: {} }]);
      assert.ok(rows?.kind === 'rows');
      assert.deepEqual(rows.rows, [[10, 5, 2]]);
      // The snapshot worker's connections load the extension too (the schema needs half()).
      await first.snapshot(join(root, 'snapshot.sqlite'));
      await second.restore(join(root, 'snapshot.sqlite'));
      second.apply(3, write('INSERT INTO v(x) VALUES (8)'));
      const [copied] = second.query([{ sql: 'SELECT h FROM v ORDER BY x', positional: [], named: {} }]);
      assert.ok(copied?.kind === 'rows');
      assert.deepEqual(copied.rows, [[4], [5]]);
    } finally {
      first.close();
      second.close();
    }
  });

  it('a file that is not an extension stops the state machine from opening, naming the file', () => {
    const bogus = join(root, 'bogus.so');
    writeFileSync(bogus, 'not a shared library');
    assert.throws(() => new SqliteStateMachine({ path: join(root, 'bogus.sqlite'), extensionPaths: [bogus] }), /could not load SQLite extension .*bogus\.so/);
  });
});
