/** The events ring: bounded, oldest dropped first, only state changes kept, long fields cut. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/node/logger.js';
import { eventCountMaxDefault, RecentEvents, recordingLogger } from '../../src/node/recent-events.js';

describe('RecentEvents', () => {
  it('keeps exactly the newest 100 of 150, oldest first, and counts all', () => {
    const events = new RecentEvents();
    const logger = recordingLogger(silentLogger, events, () => 0);
    for (let index = 1; index <= 150; index++) logger.info({ event: 'snapshot', index }, 'snapshot taken');
    const kept = events.list();
    assert.equal(eventCountMaxDefault, 100);
    assert.equal(kept.length, 100);
    assert.equal(kept[0]?.fields['index'], 51);
    assert.equal(kept[99]?.fields['index'], 150);
    assert.equal(events.recordedCount, 150);
  });

  it('at the bound exactly, drops nothing', () => {
    const events = new RecentEvents(3);
    const logger = recordingLogger(silentLogger, events, () => 0);
    for (let index = 1; index <= 3; index++) logger.warn({ event: 'halted', index }, 'halted');
    assert.deepEqual(
      events.list().map((event) => event.fields['index']),
      [1, 2, 3],
    );
  });

  it('keeps a halt once, not each of its retries (they are still logged)', () => {
    const events = new RecentEvents(10);
    const logged: unknown[] = [];
    const logger = recordingLogger({ ...silentLogger, error: (fields) => void logged.push(fields['attempt']) }, events, () => 0);
    for (let attempt = 1; attempt <= 5; attempt++) logger.error({ event: 'halted', attempt, reason: 'disk-full' }, 'cannot persist the log; retrying');
    assert.deepEqual(logged, [1, 2, 3, 4, 5]);
    assert.deepEqual(
      events.list().map((event) => event.fields['attempt']),
      [1],
    );
  });

  it('keeps state changes at info and above, not debug lines or other events; cuts long fields and drops stacks', () => {
    const events = new RecentEvents(10);
    const passedOn: string[] = [];
    const inner = { ...silentLogger, info: (_fields: Record<string, unknown>, message: string) => passedOn.push(message) };
    const logger = recordingLogger(inner, events, () => Date.UTC(2026, 0, 1));
    logger.debug({ event: 'elected' }, 'debug');
    logger.info({ event: 'join-retry' }, 'not a state change');
    logger.error({ event: 'fatal', error: 'x'.repeat(1000), stack: 'at …' }, 'ready loop failed');
    assert.deepEqual(passedOn, ['not a state change']);
    const [fatal] = events.list();
    assert.equal(events.list().length, 1);
    assert.equal(fatal?.level, 'error');
    assert.equal(fatal?.time, '2026-01-01T00:00:00.000Z');
    assert.ok(String(fatal?.fields['error']).length < 400);
    assert.equal(fatal?.fields['stack'], undefined);
  });
});
