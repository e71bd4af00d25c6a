/**
 * The web console on a node that checks credentials, in a real browser (Chromium through
 * Playwright), against a real in-process node with an -auth file: the page itself loads
 * without credentials (it holds no data), says clearly when the API answers 401 and asks
 * for a user; a user without `status` gets a clear 403; a user with it sees the cluster
 * and runs SQL. Also the page's headers: a strict Content-Security-Policy, no sniffing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { waitFor } from '../cluster/harness.js';
import { launchChromium, screenshotDirectory } from '../cluster/console-browser.js';
import { startAuthNode, type AuthNode } from '../http/auth-fixture.js';

let node: AuthNode;
let browser: Browser;
let page: Page;

before(async () => {
  browser = await launchChromium();
  node = await startAuthNode('console-auth');
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
});

const screens = screenshotDirectory();

after(async () => {
  await browser?.close();
  await node?.close();
  screens.remove();
});

async function signIn(user: string, password: string): Promise<void> {
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login button[type=submit]');
}

describe('the console with credentials checked', () => {
  it('serves its files without credentials, with a strict CSP', async () => {
    for (const [path, type] of [
      ['/console', 'text/html'],
      ['/console/console.js', 'text/javascript'],
      ['/console/console.css', 'text/css'],
    ] as const) {
      const response = await fetch(`${node.baseUrl}${path}`);
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', new RegExp(`^${type}`), path);
      assert.match(response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    }
    assert.equal((await fetch(`${node.baseUrl}/console/../status`)).status, 401);
    assert.equal((await fetch(`${node.baseUrl}/console/other.js`)).status, 404);
  });

  it('asks for credentials on 401, says 403 for a user without status, and shows the cluster to one with it', async () => {
    await page.goto(`${node.baseUrl}/console`);
    await page.waitForSelector('#login:not([hidden])');
    assert.match((await page.textContent('#login-reason')) ?? '', /HTTP 401/);
    assert.match((await page.textContent('#problem')) ?? '', /not signed in \(HTTP 401\)/);
    await page.screenshot({ path: join(screens.path, 'console-auth-401.png') });

    await signIn('only-query', 'pw-query');
    await waitFor('the 403 message', async () => (/HTTP 403/.test((await page.textContent('#problem')) ?? '') ? true : undefined));
    assert.match((await page.textContent('#problem')) ?? '', /permission refused \(HTTP 403\)/);

    await signIn('root', 'root secret');
    await waitFor('the cluster shown', async () => ((await page.$$('#members tbody tr[data-role="Leader"]')).length === 1 ? true : undefined));
    assert.equal(await page.isHidden('#login'), true);
    assert.equal(await page.isHidden('#problem'), true);

    await page.fill('#sql', 'SELECT 1 AS one');
    await page.click('#run');
    await page.waitForSelector('#sql-results table');
    assert.deepEqual(await page.$$eval('#sql-results tbody td', (tds) => tds.map((td) => td.textContent)), ['1']);
  });
});
