/**
 * freePort (harness.ts) never hands out a port twice in one process: two ports asked for
 * one node, or for an etcd member's client and peer URLs, always differ. Drawn at random
 * from 12,000, 3,000 draws would repeat one all but surely without that rule.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort, testPortHigh, testPortLow } from './harness.js';

test('3,000 ports asked of one host are 3,000 different ports, each in the test range', async () => {
  const ports = new Set<number>();
  for (let count = 0; count < 3_000; count += 1) {
    const port = await freePort('127.0.0.1');
    assert.ok(!ports.has(port), `port ${port} handed out twice`);
    assert.ok(port >= testPortLow && port < testPortHigh, `port ${port} is outside ${testPortLow}-${testPortHigh}`);
    ports.add(port);
  }
});
