/**
 * The rqlite-style shell's cluster commands on three real nodes: `.nodes [all]`,
 * `.leader`, `.stepdown [ID]`, `.remove ID`, `.sysdump FILE` over every node, and `-a`
 * moving on from a node that is down.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestCluster, waitFor, type TestNode } from '../cluster/harness.js';
import { hostFlags, runShellWith } from './rqlite-harness.js';

let cluster: TestCluster;
let directory: string;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join' });
  await cluster.start();
  directory = mkdtempSync(join(tmpdir(), 'quorumlite-shell-cluster-'));
});

after(async () => {
  await cluster?.close();
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

/** The node IDs heading the trees `.nodes` and `.leader` print (unindented `id:` lines). */
function headings(text: string): string[] {
  return text.split('\n').filter((line) => /^\S.*:$/.test(line) && !line.startsWith('ERR!'));
}

function byId(id: string): TestNode {
  const node = cluster.nodes.find((candidate) => candidate.id === id);
  assert.ok(node !== undefined, id);
  return node;
}

describe('cluster commands', () => {
  it('.nodes, .leader, .stepdown ID, .remove ID, .sysdump FILE', async () => {
    const leader = await cluster.waitForLeader();
    const [successor, victim] = cluster.nodes.filter((node) => node !== leader) as [TestNode, TestNode];
    const ids = cluster.nodes.map((node) => `${node.id}:`).sort();

    const listed = await runShellWith([...hostFlags(successor.url), '--command', '.nodes\n.nodes all\n.leader']);
    assert.equal(listed.code, 0, listed.stdout);
    assert.deepEqual(headings(listed.stdout), [...ids, ...ids, `${leader.id}:`]);
    const leaderBlock = listed.stdout.slice(listed.stdout.lastIndexOf(`${leader.id}:\n`));
    assert.ok(leaderBlock.includes(`  api_addr: ${leader.url}\n`) && leaderBlock.includes('  leader: true\n'), leaderBlock);

    const stepdown = await runShellWith([...hostFlags(successor.url), '--command', `.stepdown ${successor.id}`]);
    assert.deepEqual(stepdown, { code: 0, stdout: '', stderr: '' });
    await waitFor('the named node to lead', async () => ((await cluster.waitForLeader()).id === successor.id ? true : undefined));

    const removed = await runShellWith([...hostFlags(leader.url), '--command', `.remove ${victim.id}\n.remove\n.nodes`]);
    assert.deepEqual(headings(removed.stdout), [`${leader.id}:`, `${successor.id}:`].sort());
    assert.ok(removed.stdout.startsWith('ERR! please specify the ID of the node to remove\n'), removed.stdout);
    const unknown = await runShellWith([...hostFlags(leader.url), '--command', '.remove no-such-node']);
    assert.match(unknown.stdout, /^(ERR! server responded with: \d{3} .*\n)?$/);
    assert.doesNotMatch(unknown.stdout, /this server has no/);

    const file = join(directory, 'sysdump.txt');
    await runShellWith([...hostFlags(byId(successor.id).url), '--command', `.sysdump ${file}`]);
    const dump = readFileSync(file, 'utf8');
    for (const node of [leader, successor]) assert.ok(dump.includes(`URL: ${node.url}/status?pretty\nStatus: 200 OK\n\n`), node.url);
    assert.ok(!dump.includes(victim.url));

    // A node that is gone hands over to the next one named by -a.
    await victim.terminate();
    const fallback = await runShellWith([
      '-H',
      victim.spec.host,
      '-p',
      String(victim.spec.httpPort),
      '-a',
      new URL(leader.url).host,
      '--command',
      'SELECT 1 AS one',
    ]);
    assert.equal(fallback.stdout, '+-----+\n| one |\n+-----+\n| 1   |\n+-----+\n');
    assert.match(fallback.stderr, /is unavailable \(.*\), retrying with the next available host\n$/);
  });
});
