/**
 * Test certificates made with openssl: a CA, a second CA nobody trusts, and certificates
 * they sign (EC P-256, so making them takes milliseconds). Node certificates name every
 * 127.0.0.N a test cluster uses, "localhost" and nodes.quorumlite.test, and serve as
 * both server and client certificates, as rqlite nodes use theirs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface IssuedCertificate {
  readonly certPath: string;
  readonly keyPath: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** SHA-256 fingerprint as Node's getPeerCertificate() reports it (AA:BB:…). */
  readonly fingerprint256: string;
}

export interface CertificateAuthority {
  readonly name: string;
  readonly certPath: string;
  readonly cert: Buffer;
}

export const sharedServerName = 'nodes.quorumlite.test';
const loopbackHostCount = 9;
const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(args: readonly string[], directory: string): string {
  return execFileSync('openssl', args, { cwd: directory, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

export class TestPki {
  readonly directory: string;
  readonly ca: CertificateAuthority;
  /** A second CA: its certificates are well-formed but nobody here trusts them. */
  readonly otherCa: CertificateAuthority;
  #serial = 1;

  constructor(directory: string) {
    this.directory = directory;
    this.ca = this.#authority('ca');
    this.otherCa = this.#authority('other-ca');
  }

  #authority(name: string): CertificateAuthority {
    openssl(['req', '-x509', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=quorumlite test ${name}`], this.directory);
    const certPath = join(this.directory, `${name}.crt`);
    return { name, certPath, cert: readFileSync(certPath) };
  }

  /**
   * A certificate `authority` signs for `commonName`. `days` -1 makes one that expired a
   * day before it was issued. Node certificates (the default) carry the loopback addresses.
   */
  issue(
    name: string,
    options: {
      commonName?: string;
      authority?: CertificateAuthority;
      days?: number;
      usage?: 'node' | 'client' | 'server';
      /** Instead of the loopback addresses and names: e.g. ['DNS:only.this.name']. */
      subjectAltNames?: readonly string[];
    } = {},
  ): IssuedCertificate {
    const authority = options.authority ?? this.ca;
    const usage = options.usage ?? 'node';
    openssl(['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${options.commonName ?? name}`], this.directory);
    const addresses = Array.from({ length: loopbackHostCount }, (_, index) => `IP:127.0.0.${index + 1}`);
    const names = options.subjectAltNames ?? (usage === 'client' ? [] : [...addresses, 'DNS:localhost', `DNS:${sharedServerName}`]);
    const extendedUsage = { node: 'serverAuth,clientAuth', client: 'clientAuth', server: 'serverAuth' }[usage];
    writeFileSync(
      join(this.directory, `${name}.ext`),
      `${names.length > 0 ? `subjectAltName=${names.join(',')}\n` : ''}basicConstraints=CA:FALSE\nextendedKeyUsage=${extendedUsage}\n`,
    );
    this.#serial += 1;
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        `${authority.name}.crt`,
        '-CAkey',
        `${authority.name}.key`,
        '-set_serial',
        String(this.#serial),
        '-out',
        `${name}.crt`,
        '-days',
        String(options.days ?? 2),
        '-extfile',
        `${name}.ext`,
      ],
      this.directory,
    );
    const certPath = join(this.directory, `${name}.crt`);
    const keyPath = join(this.directory, `${name}.key`);
    const fingerprint = openssl(['x509', '-in', `${name}.crt`, '-noout', '-fingerprint', '-sha256'], this.directory);
    return {
      certPath,
      keyPath,
      cert: readFileSync(certPath),
      key: readFileSync(keyPath),
      fingerprint256: fingerprint.trim().replace(/^.*=/, '').toUpperCase(),
    };
  }
}
