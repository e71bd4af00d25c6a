/**
 * An -auth file for the authentication tests: one user per permission an endpoint needs
 * (`only-PERMISSION`, password `pw-PERMISSION`), `root` with `all`, `writer` with execute
 * and query, `hashed` whose password is stored as a bcrypt hash, and `*` (everyone) with
 * `ready`. `startAuthNode` runs a real in-process node that checks it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type { Permission } from '../../src/service/access-control.js';
import type { QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { startTestNode, type StartedTestNode } from '../node/start-node.js';

export const guardedPermissions: readonly Permission[] = ['execute', 'query', 'status', 'ready', 'remove', 'leader-ops', 'backup', 'load', 'snapshot', 'join'];

export const hashedPassword = 'hashed secret';
/** Cost 4, the lowest bcrypt allows: the tests need the format, not the slowness. */
export const hashedPasswordHash = bcrypt.hashSync(hashedPassword, 4);

export interface FileUser {
  readonly username: string;
  readonly password?: string;
  readonly perms?: readonly string[];
}

export const fixtureUsers: readonly FileUser[] = [
  { username: 'root', password: 'root secret', perms: ['all'] },
  ...guardedPermissions.map((permission) => ({ username: `only-${permission}`, password: `pw-${permission}`, perms: [permission] })),
  { username: 'writer', password: 'writer secret', perms: ['execute', 'query'] },
  { username: 'hashed', password: hashedPasswordHash, perms: ['query'] },
  { username: '*', perms: ['ready'] },
];

export function basic(username: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}` };
}

export interface AuthNode extends StartedTestNode {
  readonly authPath: string;
  writeUsers(users: readonly FileUser[]): void;
  close(): Promise<void>;
}

/** A leader with `-auth`: the file starts as `users` (default the fixture) and is reloaded every `reloadIntervalMs`. */
export async function startAuthNode(prefix: string, users: readonly FileUser[] = fixtureUsers, overrides: Partial<QuorumNodeOptions> = {}): Promise<AuthNode> {
  const authDirectory = mkdtempSync(join(tmpdir(), `quorumlite-${prefix}-auth-`));
  const authPath = join(authDirectory, 'auth.json');
  const writeUsers = (next: readonly FileUser[]): void => writeFileSync(authPath, JSON.stringify(next, null, 2));
  writeUsers(users);
  const started = await startTestNode(prefix, { authFile: authPath, authReloadIntervalMs: 50, ...overrides });
  await waitFor('leadership', () => (started.node.runtime.isLeader ? true : undefined));
  return {
    ...started,
    authPath,
    writeUsers,
    close: async () => {
      await started.node.stop();
      rmSync(started.dataDirectory, { recursive: true, force: true });
      rmSync(authDirectory, { recursive: true, force: true });
    },
  };
}
