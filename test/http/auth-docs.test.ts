/**
 * The permission tables in docs/API.md (path → permission) and docs/SECURITY.md
 * (permission → paths) say what src/http/auth-endpoints.ts does: every path the code
 * guards is in both, with the permissions it needs, and every path they name needs what
 * they say. SECURITY.md's table had kept "not built yet" for endpoints long built.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { endpointPermissions, permissionsFor } from '../../src/http/auth-endpoints.js';
import { isPermission, permissionNames } from '../../src/service/access-control.js';

/** The rows of the Markdown table whose header line is `header`, each row's cells. */
function tableRows(path: string, header: string): string[][] {
  const lines = readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8').split('\n');
  const start = lines.indexOf(header);
  assert.ok(start >= 0, `${path} has a table headed ${header}`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  assert.ok(rows.length > 0, `${path}: the table under ${header} has rows`);
  return rows;
}

/** The backticked words of a cell. */
function quoted(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? '');
}

const paths = (cell: string): string[] => quoted(cell).filter((word) => word.startsWith('/'));
const sorted = (values: readonly string[]): string[] => [...values].sort();

describe('the permission tables in the docs', () => {
  it('docs/API.md: each path needs the permissions its row names, and every guarded path has a row', () => {
    const documented = new Set<string>();
    for (const [pathCell = '', permissionCell = ''] of tableRows('docs/API.md', '| path | permission |')) {
      const needs = permissionCell.startsWith('none') ? [] : quoted(permissionCell).filter(isPermission);
      assert.ok(permissionCell.startsWith('none') || needs.length > 0, `a permission in: ${permissionCell}`);
      for (const path of paths(pathCell)) {
        documented.add(path);
        assert.deepEqual(sorted(permissionsFor(path)), sorted(needs), `${path}: API.md says ${permissionCell}`);
      }
    }
    for (const path of endpointPermissions.keys()) assert.ok(documented.has(path), `${path} has a row in API.md`);
  });

  it('docs/SECURITY.md: each permission allows the paths its row names, and every guarded path and every permission has a row', () => {
    const documented = new Set<string>();
    const named = new Set<string>();
    for (const [permissionCell = '', allowsCell = ''] of tableRows('docs/SECURITY.md', '| permission | allows |')) {
      const words = quoted(permissionCell).filter(isPermission);
      for (const word of words) named.add(word);
      // "`execute` and `query`": a path needing both; "`a`, `b`": permissions named together; "none": no check.
      const needs = permissionCell === 'none' ? [] : permissionCell.includes(' and ') ? words : words.length === 1 ? words : undefined;
      const rowPaths = paths(allowsCell);
      if (needs === undefined) {
        assert.deepEqual(rowPaths, [], `${permissionCell} name no path`);
        continue;
      }
      for (const path of rowPaths) {
        documented.add(path);
        assert.deepEqual(sorted(permissionsFor(path)), sorted(needs), `${path}: SECURITY.md says ${permissionCell}`);
      }
    }
    for (const path of endpointPermissions.keys()) assert.ok(documented.has(path), `${path} has a row in SECURITY.md`);
    for (const permission of permissionNames) assert.ok(named.has(permission), `${permission} has a row in SECURITY.md`);
  });
});
