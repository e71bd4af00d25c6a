/**
 * Helpers for the rqlite-style shell tests: run `quorumlite shell` in this process
 * (its real code, its streams captured; piped input, so no prompt), start a real node,
 * make test certificates with openssl, and ask a node whether it has an endpoint.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { runShell } from '../../src/cli/shell.js';
import { TestCluster } from '../cluster/harness.js';

export interface ShellOutcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function collector(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { stream, text: () => text };
}

/** Runs the shell with `argv`, `input` piped to it, and exactly `environment` (not this process's). */
export async function runShellWith(argv: string[], input = '', environment: Record<string, string> = {}): Promise<ShellOutcome> {
  const stdout = collector();
  const stderr = collector();
  const code = await runShell(argv, { stdin: Readable.from([Buffer.from(input)]), stdout: stdout.stream, stderr: stderr.stream }, environment);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/** `-H host -p port` for a base URL. */
export function hostFlags(base: string): string[] {
  const url = new URL(base);
  return ['-H', url.hostname, '-p', url.port];
}

/** The greeting rqlite's shell prints for `base`, with the node's X-RQLITE-VERSION. */
export async function banner(base: string): Promise<string> {
  const response = await fetch(`${base}/status`);
  await response.arrayBuffer();
  const version = response.headers.get('x-rqlite-version') ?? 'unknown';
  return `Welcome to the rqlite CLI.\nEnter ".help" for usage hints.\nConnected to ${base} running version ${version}\n`;
}

export async function startOneNode(): Promise<{ cluster: TestCluster; url: string }> {
  const cluster = await TestCluster.create({ size: 1, formation: 'join' });
  await cluster.start();
  return { cluster, url: cluster.node(1).url };
}

/**
 * Whether the node serves `method path`: quorumlite answers a path it has no route for
 * with 404 `not found: /path`. Other helpers add endpoints, so tests check both outcomes.
 */
export async function nodeHasEndpoint(base: string, method: string, path: string, body?: string): Promise<boolean> {
  const response = await fetch(`${base}/${path}`, { method, body, redirect: 'manual' });
  const text = await response.text();
  return !(response.status === 404 && text.startsWith('not found: /'));
}

export interface Certificates {
  readonly serverKey: Buffer;
  readonly serverCert: Buffer;
  readonly serverCertPath: string;
  readonly clientKeyPath: string;
  readonly clientCertPath: string;
  readonly clientCert: Buffer;
}

/** A self-signed server certificate for 127.0.0.1 and a self-signed client certificate, by openssl. */
export function makeCertificates(directory: string): Certificates {
  const make = (name: string, subject: string, extension: string): void => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        subject,
        '-addext',
        extension,
        '-keyout',
        join(directory, `${name}.key`),
        '-out',
        join(directory, `${name}.pem`),
      ],
      { stdio: 'ignore' },
    );
  };
  make('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  make('client', '/CN=shell-client', 'extendedKeyUsage=clientAuth');
  return {
    serverKey: readFileSync(join(directory, 'server.key')),
    serverCert: readFileSync(join(directory, 'server.pem')),
    serverCertPath: join(directory, 'server.pem'),
    clientKeyPath: join(directory, 'client.key'),
    clientCertPath: join(directory, 'client.pem'),
    clientCert: readFileSync(join(directory, 'client.pem')),
  };
}
