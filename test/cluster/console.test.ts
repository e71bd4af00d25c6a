/**
 * The web console in a real browser (Chromium through Playwright) on a real 3-node
 * cluster: it lists the three members with the leader, runs a query at a chosen read
 * level and shows the rows as a table (a row holding markup stays text: no script runs),
 * lists the node's recent events, and after the leader is killed shows the new leader
 * without a reload.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { TestCluster, waitFor } from './harness.js';
import { launchChromium, screenshotDirectory } from './console-browser.js';

let cluster: TestCluster;
let browser: Browser;
const markup = `<script>window.consoleInjected = 1</script><img src=x onerror="window.consoleInjected = 2">`;

before(async () => {
  browser = await launchChromium();
  cluster = await TestCluster.create({ size: 3, formation: 'join' });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
});

const screens = screenshotDirectory();

after(async () => {
  await browser?.close();
  await cluster?.close();
  screens.remove();
});

/** The members table, as the page shows it: node id → role and reachability. */
async function membersShown(page: Page): Promise<Map<string, { role: string; reachable: string }>> {
  const rows = await page.$$eval('#members tbody tr', (trs) =>
    trs.map((tr) => ({ node: tr.getAttribute('data-node') ?? '', role: tr.getAttribute('data-role') ?? '', reachable: tr.children[3]?.textContent ?? '' })),
  );
  return new Map(rows.map((row) => [row.node, { role: row.role, reachable: row.reachable }]));
}

test('the console shows the cluster, runs a query as text, and follows a leader change', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.running().find((node) => node !== leader);
    assert.ok(follower !== undefined);
    const created = await leader.execute(['CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)', ['INSERT INTO notes(body) VALUES (?)', markup]]);
    assert.equal(created.status, 200);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    await page.goto(`${follower.url}/console`);

    const members = await waitFor('three members with a leader in the console', async () => {
      const shown = await membersShown(page);
      return shown.size === 3 && shown.get(leader.id)?.role === 'Leader' ? shown : undefined;
    });
    assert.deepEqual([...members.values()].map((member) => member.reachable).sort(), ['yes', 'yes', 'yes']);
    await waitFor('the events list', async () => ((await page.$$('#events tbody tr[data-event="leader-changed"]')).length > 0 ? true : undefined));

    await page.fill('#sql', 'SELECT id, body FROM notes');
    await page.selectOption('#level', 'linearizable');
    await page.click('#run');
    await page.waitForSelector('#sql-results table');
    const cells = await page.$$eval('#sql-results tbody td', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(cells, ['1', markup]);
    assert.equal(await page.$$eval('#sql-results script, #sql-results img', (found) => found.length), 0);
    assert.match((await page.textContent('#sql-state')) ?? '', /HTTP 200 · level linearizable/);
    await page.screenshot({ path: join(screens.path, 'console-cluster.png'), fullPage: true });

    await leader.kill();
    const after = await waitFor('a new leader in the console', async () => {
      const shown = await membersShown(page);
      const leaders = [...shown].filter(([, member]) => member.role === 'Leader').map(([id]) => id);
      return leaders.length === 1 && leaders[0] !== leader.id ? { shown, newLeader: leaders[0] ?? '' } : undefined;
    });
    const newLeader = await cluster.waitForLeader();
    assert.equal(after.newLeader, newLeader.id);
    await waitFor('the old leader shown unreachable', async () => ((await membersShown(page)).get(leader.id)?.reachable === 'no' ? true : undefined));
    assert.match((await page.textContent('#members-problems')) ?? '', new RegExp(`${leader.id} unreachable`));
    await page.screenshot({ path: join(screens.path, 'console-new-leader.png'), fullPage: true });

    // The leader's own console shows each follower's match index and lag.
    const liveFollower = cluster.running().find((node) => node !== newLeader);
    assert.ok(liveFollower !== undefined);
    const leaderPage = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await leaderPage.goto(`${newLeader.url}/console`);
    const lagShown = await waitFor("the live follower's lag on the leader", async () => {
      const row = await leaderPage.$$eval(`#members tbody tr[data-node="${liveFollower.id}"] td`, (tds) => tds.map((td) => td.textContent ?? ''));
      return row[5] !== undefined && /^\d+$/.test(row[5]) && /^\d+$/.test(row[6] ?? '') ? row : undefined;
    });
    assert.equal(lagShown[1], 'Follower');
    await leaderPage.screenshot({ path: join(screens.path, 'console-leader-view.png'), fullPage: true });
    assert.deepEqual(pageErrors, []);
    assert.equal(await page.evaluate(() => (globalThis as { consoleInjected?: number }).consoleInjected), undefined);
  }));
