/**
 * The drivers as users import them: `quorumlite/kysely` and `quorumlite/drizzle`, resolved
 * through package.json "exports" to the built files (`npm run build` first; npm test does).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { repositoryRoot } from '../cluster/harness.js';

function importInPackage(script: string): { status: number | null; stdout: string; stderr: string } {
  // A module run from inside the repository resolves its own package name through "exports".
  return spawnSync(process.execPath, ['--input-type=module', '--eval', script], { cwd: repositoryRoot, encoding: 'utf8', timeout: 60_000 });
}

test('quorumlite/kysely and quorumlite/drizzle resolve to the built drivers', () => {
  const run = importInPackage(`
    const kysely = await import('quorumlite/kysely');
    const drizzle = await import('quorumlite/drizzle');
    const { createClient } = await import('quorumlite/client');
    const client = createClient({ nodes: ['http://127.0.0.1:1'] });
    const dialect = new kysely.QuorumliteDialect({ client });
    const db = drizzle.drizzle(client);
    console.log(JSON.stringify({
      kysely: Object.keys(kysely).sort(),
      drizzle: Object.keys(drizzle).sort(),
      compiler: dialect.createQueryCompiler().constructor.name,
      hasClient: db.$client === client,
    }));
    await client.close();
  `);
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), {
    kysely: ['QuorumliteAdapter', 'QuorumliteDialect', 'QuorumliteDriver', 'isConflict', 'retryOnConflict'],
    drizzle: ['QuorumliteDatabase', 'QuorumliteSession', 'drizzle', 'isConflict', 'migrate', 'retryOnConflict'],
    compiler: 'SqliteQueryCompiler',
    hasClient: true,
  });
});
