/** The registry's bounds on their own: open per node and per client, statements, bytes (own and all together), expiry, remembered outcomes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultTransactionLimits, TransactionRegistry, type OpenTransaction } from '../../src/node/transaction-registry.js';

function transaction(id: string, owner: string, nowMs = 0): OpenTransaction {
  return {
    id,
    owner,
    openedAtMs: nowMs,
    lastUsedAtMs: nowMs,
    timestampMs: nowMs,
    seed: 1n,
    statements: [],
    seen: null,
    bufferedBytes: 0,
    lastCall: undefined,
    commit: undefined,
  };
}

const statement = (sql: string) => ({ sql, positional: [], named: {} });

describe('transaction registry', () => {
  it('bounds open transactions per node and per client', () => {
    const registry = new TransactionRegistry({ ...defaultTransactionLimits, openCountMax: 3, openPerClientCountMax: 2 });
    registry.add(transaction('a', 'one'));
    registry.add(transaction('b', 'one'));
    assert.throws(() => registry.add(transaction('c', 'one')), { code: 'TX_LIMIT', message: /openPerClientCountMax/ });
    registry.add(transaction('c', 'two'));
    assert.throws(() => registry.add(transaction('d', 'three')), { code: 'TX_LIMIT', message: /openCountMax/ });
    registry.end('a', { kind: 'rolled back' });
    registry.add(transaction('d', 'three'));
    assert.equal(registry.openCount, 3);
  });

  it('bounds statements and bytes per transaction and bytes of all together', () => {
    const registry = new TransactionRegistry({ ...defaultTransactionLimits, statementCountMax: 2, bufferedBytesMax: 10, totalBufferedBytesMax: 15 });
    const first = transaction('a', 'one');
    const second = transaction('b', 'one');
    registry.add(first);
    registry.add(second);
    assert.throws(() => registry.checkGrowth(first, [statement('1'), statement('2'), statement('3')]), { code: 'TX_LIMIT', message: /statementCountMax/ });
    assert.throws(() => registry.checkGrowth(first, [statement('x'.repeat(11))]), { code: 'TX_LIMIT', message: /bufferedBytesMax/ });
    registry.grow(first, registry.checkGrowth(first, [statement('x'.repeat(10))]));
    assert.throws(() => registry.checkGrowth(second, [statement('y'.repeat(6))]), { code: 'TX_LIMIT', message: /totalBufferedBytesMax/ });
    registry.end('a', { kind: 'rolled back' });
    registry.grow(second, registry.checkGrowth(second, [statement('y'.repeat(6))]));
  });

  it('expires idle and old transactions, and remembers the last endedCountMax outcomes', () => {
    const registry = new TransactionRegistry({ ...defaultTransactionLimits, idleTimeoutMs: 100, lifetimeMs: 1000, endedCountMax: 2 });
    registry.add(transaction('idle', 'one', 0));
    const busy = transaction('busy', 'one', 0);
    registry.add(busy);
    busy.lastUsedAtMs = 950;
    registry.expire(990);
    assert.throws(() => registry.get('idle'), { code: 'TX_NOT_FOUND', message: /expired after 100 ms idle/ });
    assert.equal(registry.get('busy'), busy);
    registry.expire(1000);
    assert.throws(() => registry.get('busy'), { code: 'TX_NOT_FOUND', message: /expired after 1000 ms open/ });
    registry.end('third', { kind: 'rolled back' });
    assert.throws(() => registry.get('idle'), { code: 'TX_NOT_FOUND', message: /not open on the leader/ });
    registry.abortAll('x');
  });
});
