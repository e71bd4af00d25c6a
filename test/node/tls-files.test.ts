/**
 * The certificate files behind a node's TLS: refused at start when missing or
 * mismatched, and reloaded when they change, but only once the new set loads as a whole
 * (a rotation caught halfway keeps the old set, and says so once).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { NodeLogger } from '../../src/node/logger.js';
import { systemScheduler } from '../../src/node/scheduler.js';
import { TlsFileError, TlsFiles, type TlsMaterial } from '../../src/server/tls-files.js';
import { TestPki, type IssuedCertificate } from '../cluster/test-certificates.js';
import { waitFor } from '../cluster/harness.js';

let directory: string;
let pki: TestPki;
let first: IssuedCertificate;
let second: IssuedCertificate;

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'quorumlite-tls-files-'));
  pki = new TestPki(directory);
  first = pki.issue('first');
  second = pki.issue('second');
});

after(() => rmSync(directory, { recursive: true, force: true }));

function recordingLogger(): { logger: NodeLogger; warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  const logger: NodeLogger = {
    debug: () => undefined,
    info: (_fields, message) => void infos.push(message),
    warn: (fields, message) => void warnings.push(`${message}: ${String(fields.error)}`),
    error: () => undefined,
  };
  return { logger, warnings, infos };
}

/** A fresh copy of `certificate` at paths the test may overwrite. */
function livePaths(name: string, certificate: IssuedCertificate): { certPath: string; keyPath: string; caPath: string } {
  const paths = { certPath: join(directory, `${name}.crt`), keyPath: join(directory, `${name}.key`), caPath: join(directory, `${name}-ca.crt`) };
  copyFileSync(certificate.certPath, paths.certPath);
  copyFileSync(certificate.keyPath, paths.keyPath);
  copyFileSync(pki.ca.certPath, paths.caPath);
  return paths;
}

test("a missing file, a key that is not the certificate's, or a CA file without certificates stops the start", () => {
  const refused = (paths: Parameters<typeof TlsFiles.load>[0], pattern: RegExp): void => {
    assert.throws(
      () => TlsFiles.load(paths, 'HTTPS'),
      (error: unknown) => error instanceof TlsFileError && pattern.test(error.message),
    );
  };
  refused({ certPath: join(directory, 'nowhere.crt'), keyPath: first.keyPath }, /^cannot read HTTPS file .*nowhere\.crt: no such file or directory$/);
  refused({ certPath: first.certPath, keyPath: second.keyPath }, /^cannot use HTTPS certificate .*first\.crt with key .*second\.key: .*key values mismatch/);
  refused({ certPath: first.certPath, keyPath: first.keyPath, caPath: first.keyPath }, /^failed to load CA certificate\(s\) for HTTPS from/);
  const loaded = TlsFiles.load({ certPath: first.certPath, keyPath: first.keyPath, caPath: pki.ca.certPath }, 'HTTPS');
  assert.deepEqual(loaded.material, { cert: first.cert, key: first.key, ca: pki.ca.cert });
});

test('a rotated certificate and key are reloaded; a half-done rotation keeps the old pair until it is finished', async () => {
  const paths = livePaths('rotating', first);
  const files = TlsFiles.load(paths, 'node-to-node TLS');
  const { logger, warnings, infos } = recordingLogger();
  const changes: TlsMaterial[] = [];
  files.watch({ scheduler: systemScheduler, intervalMs: 10, logger, onChange: (material) => changes.push(material) });
  try {
    // The certificate first: it does not match the old key yet.
    copyFileSync(second.certPath, paths.certPath);
    await waitFor('the mismatch to be reported', () => (warnings.length > 0 ? true : undefined), 10_000);
    assert.equal(changes.length, 0);
    assert.deepEqual(files.material.cert, first.cert, 'the old pair stays in use');
    assert.match(warnings[0] ?? '', /node-to-node TLS certificate files changed but do not load: .*key values mismatch/);
    copyFileSync(second.keyPath, paths.keyPath);
    await waitFor('the finished rotation to be loaded', () => (changes.length > 0 ? true : undefined), 10_000);
    assert.deepEqual(changes[0], { cert: second.cert, key: second.key, ca: pki.ca.cert });
    assert.deepEqual(files.material.cert, second.cert);
    assert.equal(warnings.length, 1, 'the mismatch is said once, not at every check');
    assert.match(infos[0] ?? '', /reloaded the node-to-node TLS certificate files/);
  } finally {
    files.stop();
  }
});

test('a changed CA file is reloaded too', async () => {
  const paths = livePaths('new-ca', first);
  const files = TlsFiles.load(paths, 'HTTPS');
  const changes: TlsMaterial[] = [];
  files.watch({ scheduler: systemScheduler, intervalMs: 10, logger: recordingLogger().logger, onChange: (material) => changes.push(material) });
  try {
    const bundle = Buffer.concat([pki.ca.cert, pki.otherCa.cert]);
    writeFileSync(paths.caPath, bundle);
    await waitFor('the new CA bundle', () => (changes.length > 0 ? true : undefined), 10_000);
    assert.deepEqual(changes[0]?.ca, bundle);
  } finally {
    files.stop();
  }
});
