/**
 * The -auth file, kept current without a restart: the file is polled (a stat every
 * `intervalMs`, which also sees an editor's write-to-temporary-then-rename), and a changed
 * file replaces the users the node checks against once it parses. A file that no longer
 * parses, or is gone, leaves the previous users in force, and the log says why; the next
 * good version is taken up as usual.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import type { AccessControl, AccessDecision, Credentials, Permission } from '../service/access-control.js';
import { readAuthFile } from './auth-file.js';
import { CredentialStore } from './auth-store.js';
import type { NodeLogger } from '../node/logger.js';

const authReloadIntervalMsDefault = 1_000;

export class ReloadingAccessControl implements AccessControl {
  readonly path: string;
  #store: CredentialStore;
  #listener: ((current: Stats, previous: Stats) => void) | undefined;

  private constructor(path: string, store: CredentialStore) {
    this.path = path;
    this.#store = store;
  }

  /** Reads the file now; throws AuthFileError (naming the file and the problem) when it cannot be used. */
  static open(path: string): ReloadingAccessControl {
    return new ReloadingAccessControl(path, new CredentialStore(readAuthFile(path)));
  }

  get userCount(): number {
    return this.#store.userCount;
  }

  check(credentials: Credentials | null, needed: readonly Permission[]): Promise<AccessDecision> {
    return this.#store.check(credentials, needed);
  }

  allows(caller: string | null, needed: readonly Permission[]): AccessDecision {
    return this.#store.allows(caller, needed);
  }

  passwordOf(username: string): string | undefined {
    return this.#store.passwordOf(username);
  }

  /** Starts watching the file; each change is reloaded (or refused) and logged. */
  watch(logger: NodeLogger, intervalMs = authReloadIntervalMsDefault): void {
    if (this.#listener !== undefined) return;
    this.#listener = (current, previous) => {
      if (current.mtimeMs === previous.mtimeMs && current.size === previous.size && current.ino === previous.ino) return;
      this.#reload(logger);
    };
    // Not persistent: watching the file must not keep a stopping process alive.
    watchFile(this.path, { interval: intervalMs, persistent: false }, this.#listener);
  }

  stop(): void {
    if (this.#listener === undefined) return;
    unwatchFile(this.path, this.#listener);
    this.#listener = undefined;
  }

  #reload(logger: NodeLogger): void {
    try {
      this.#store = new CredentialStore(readAuthFile(this.path));
      logger.info({ event: 'auth-reloaded', path: this.path, users: this.#store.userCount }, 'reloaded the auth file');
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger.error(
        { event: 'auth-reload-failed', path: this.path, error: reason },
        'the auth file changed but cannot be used: the previous users stay in force',
      );
    }
  }
}
