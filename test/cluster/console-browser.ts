/**
 * A real browser for the console tests: Playwright driving the system's Chromium (Debian's
 * `chromium` package; `.ci/run` installs it). Missing, it fails with a message saying so,
 * never skips. Screenshots go to QUORUMLITE_SCREENSHOT_DIR when set (a directory outside
 * the repository, for notes), otherwise to a temporary directory the test removes.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const chromiumPaths = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.QUORUMLITE_CHROMIUM ?? chromiumPaths.find((path) => existsSync(path));
  if (executablePath === undefined || !existsSync(executablePath)) {
    const looked = `looked for ${chromiumPaths.join(', ')}; QUORUMLITE_CHROMIUM names another`;
    throw new Error(`no Chromium found (${looked}): install Debian's chromium package (apt-get install chromium), as .ci/run does`);
  }
  // --no-sandbox: CI runs as root in a container, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath, args: ['--no-sandbox'] });
}

/** Where screenshots go; `remove()` deletes a temporary directory (never the one QUORUMLITE_SCREENSHOT_DIR names). */
export function screenshotDirectory(): { readonly path: string; remove(): void } {
  const chosen = process.env.QUORUMLITE_SCREENSHOT_DIR;
  if (chosen === undefined || chosen === '') {
    const path = mkdtempSync(join(tmpdir(), 'quorumlite-console-screens-'));
    return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
  }
  mkdirSync(chosen, { recursive: true });
  return { path: chosen, remove: () => undefined };
}
