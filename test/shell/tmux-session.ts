/**
 * A tmux server of the test's own (its own socket name, so only it is ever killed), one
 * session in it, and the moves the shell tests make: send keys, read the screen, wait
 * for something on it or for a file. Polling bounds guard against a hang; they are not
 * a speed requirement.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

const pollIntervalMs = 50;

export const tmuxAvailable = spawnSync('tmux', ['-V']).status === 0;

export interface TmuxSession {
  tmux(...args: string[]): string;
  /** The screen; with escapes (`-e`) to see colours. */
  pane(escapes?: boolean): string;
  waitFor(predicate: (screen: string) => boolean, what: string, escapes?: boolean): Promise<string>;
  /** Types `text` and Enter. */
  type(text: string): void;
  /** Waits for `path` to hold a whole line (what a command wrote when it ended); its text, trimmed. */
  waitForFile(path: string): Promise<string>;
  killServer(): void;
}

export function tmuxSession(socketName: string, sessionName: string, pollCountMax: number): TmuxSession {
  const tmux = (...args: string[]): string => {
    const result = spawnSync('tmux', ['-L', socketName, ...args], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  };
  const pane = (escapes = false): string => tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', sessionName, '-S', '-200');
  const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  return {
    tmux,
    pane,
    async waitFor(predicate, what, escapes = false) {
      let screen = '';
      for (let poll = 0; poll < pollCountMax; poll += 1) {
        screen = pane(escapes);
        if (predicate(screen)) return screen;
        await pause();
      }
      throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
    },
    type(text) {
      // tmux takes an argument ending in ';' as a command separator unless escaped as '\;'. The whole
      // line goes as one literal key string (a ';' sent apart once reached the shell before the text).
      const literal = text.endsWith(';') ? `${text.slice(0, -1)}\\;` : text;
      if (literal !== '') tmux('send-keys', '-t', sessionName, '-l', literal);
      tmux('send-keys', '-t', sessionName, 'Enter');
    },
    async waitForFile(path) {
      for (let poll = 0; poll < pollCountMax; poll += 1) {
        const text = await readFile(path, 'utf8').catch(() => '');
        if (text.endsWith('\n')) return text.trim();
        await pause();
      }
      throw new Error(`timed out waiting for ${path}; screen:\n${pane()}`);
    },
    killServer() {
      spawnSync('tmux', ['-L', socketName, 'kill-server']);
    },
  };
}
