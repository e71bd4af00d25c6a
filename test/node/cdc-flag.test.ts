import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsed, refused } from './serve-flag-checks.js';

test('-cdc-config: a URL or stdout is the endpoint with the defaults', () => {
  const fromUrl = parsed(['-cdc-config=http://localhost:8000/cdc']).cdc;
  assert.equal(fromUrl?.endpoint, 'http://localhost:8000/cdc');
  assert.equal(fromUrl?.batchEntryCountMax, 100);
  assert.equal(fromUrl?.transmitRetryCountMax, undefined, 'retries for ever when transmit_max_retries is omitted');
  assert.equal(parsed(['-cdc-config=stdout']).cdc?.endpoint, 'stdout');
  assert.equal(parsed([]).cdc, undefined);
  assert.equal(parsed(['-cdc-config=']).cdc, undefined);
});

test('-cdc-config: a file in rqlite format; unknown fields and bad values are usage errors', () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-cdc-flag-'));
  try {
    const file = join(directory, 'cdc.json');
    writeFileSync(
      file,
      JSON.stringify({
        endpoint: 'https://example.com/cdc',
        service_id: 'prod',
        row_ids_only: true,
        table_filter: '^(users|orders)$',
        tls: { insecure_skip_verify: true, server_name: 'example.com' },
        max_batch_size: 500,
        max_batch_delay: '250ms',
        high_watermark_interval: '1s',
        transmit_timeout: '5s',
        transmit_max_retries: 8,
        transmit_retry_policy: 'ExponentialRetryPolicy',
        transmit_min_backoff: '100ms',
        transmit_max_backoff: '5s',
      }),
    );
    const config = parsed([`-cdc-config=${file}`]).cdc;
    assert.equal(config?.serviceId, 'prod');
    assert.equal(config?.rowIdsOnly, true);
    assert.equal(config?.tableFilter?.test('orders'), true);
    assert.equal(config?.tableFilter?.test('orders2'), false);
    assert.deepEqual(
      [
        config?.batchEntryCountMax,
        config?.batchDelayMs,
        config?.highWaterMarkIntervalMs,
        config?.transmitRetryCountMax,
        config?.exponentialBackoff,
        config?.backoffMaxMs,
      ],
      [500, 250, 1000, 8, true, 5000],
    );
    assert.equal(config?.tls?.serverName, 'example.com');
    writeFileSync(file, JSON.stringify({ endpoint: 'http://x', max_batch_sise: 5 }));
    refused([`-cdc-config=${file}`], /unknown field "max_batch_sise"/);
    writeFileSync(file, JSON.stringify({ endpoint: 'http://x', max_batch_size: 100_001 }));
    refused([`-cdc-config=${file}`], /max_batch_size must be 1 to 100000/);
    refused([`-cdc-config=${join(directory, 'missing.json')}`], /cannot read/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
