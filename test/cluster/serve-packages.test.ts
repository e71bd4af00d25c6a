/**
 * What a plain `serve` node loads: the etcd client (with gRPC under it, about 20 MiB of
 * memory) only with --consensus etcd or etcd discovery, and undici (about 18 MiB) only
 * with -cdc-config. A node that never needs them must not pay for them (bench/README.md,
 * "Where a node's memory goes"). The built CLI runs under a module-resolution hook
 * (test/cluster/fixtures/record-packages.mjs) that writes down every package resolved.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TestCluster } from './harness.js';

const hookPath = fileURLToPath(new URL('./fixtures/record-packages.mjs', import.meta.url));

let cluster: TestCluster;
let recordPath: string;

before(async () => {
  cluster = await TestCluster.create({ size: 1, formation: 'join' });
  recordPath = join(cluster.rootDirectory, 'packages.txt');
  const node = cluster.node(1);
  node.start(cluster.flagsFor(node), { NODE_OPTIONS: `--import ${hookPath}`, QUORUMLITE_RECORD_PACKAGES: recordPath });
  await cluster.waitForLeader([node]);
});
after(async () => {
  await cluster?.close();
});

test('a node without etcd or CDC loads neither the etcd client nor undici', async () => {
  const node = cluster.node(1);
  const created = await node.execute([['CREATE TABLE t (x INTEGER)'], ['INSERT INTO t VALUES (1)']]);
  assert.equal(created.status, 200, created.text);
  const packages = new Set(
    readFileSync(recordPath, 'utf8')
      .split('\n')
      .map((url) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1])
      .filter((name) => name !== undefined),
  );
  assert.ok(packages.has('better-sqlite3'), `the hook recorded the node's packages: ${[...packages].join(', ')}`);
  assert.ok(!packages.has('etcd3'), 'etcd3 was loaded');
  assert.ok(!packages.has('undici'), 'undici was loaded');
});
