/**
 * What a node leaves open when it listens beyond loopback without protection, said once
 * at start. Each listener's missing protections are gathered in a list, so another one
 * (authentication) joins the same sentence: "… without TLS or authentication: …".
 */
import { isIP } from 'node:net';
import { formatHostPort, type HostPort } from './flag-values.js';
import type { ServeOptions } from './serve-flags.js';

/** Whether only this machine can reach `host`: localhost or a loopback address. A wildcard (0.0.0.0, ::) or another name is not. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./i.test(bare);
  return false;
}

interface Missing {
  /** The protection, as the sentence names it ("TLS", "mutual TLS"). */
  readonly protection: string;
  /** The flags that add it. */
  readonly flags: string;
}

function sentence(listener: string, address: HostPort, missing: readonly Missing[], risk: string): string {
  const protections = missing.map((item) => item.protection).join(' or ');
  const flags = missing.map((item) => item.flags).join('; ');
  return `${listener} listens on ${formatHostPort(address)}, which is not a loopback address, without ${protections}: ${risk}. Set ${flags} (docs/SECURITY.md)`;
}

function httpMissing(options: ServeOptions): Missing[] {
  return options.tls.http?.certPath === undefined ? [{ protection: 'TLS', flags: '-http-cert and -http-key' }] : [];
}

function peerMissing(options: ServeOptions): Missing[] {
  const peers = options.tls.peers;
  if (peers === undefined) return [{ protection: 'TLS', flags: '-node-cert, -node-key, -node-ca-cert and -node-verify-client' }];
  if (!peers.verifyClient || peers.noVerify) return [{ protection: 'mutual TLS', flags: '-node-ca-cert and -node-verify-client, without -node-no-verify' }];
  return [];
}

/** One warning per listener reachable from other machines without the protections it should have; none when all is covered. */
export function exposureWarnings(options: ServeOptions): string[] {
  const warnings: string[] = [];
  const http = httpMissing(options);
  if (!isLoopbackHost(options.httpAddress.host) && http.length > 0) {
    warnings.push(
      sentence(
        'the HTTP API',
        options.httpAddress,
        http,
        'requests and their answers, SQL and data included, cross the network readable by anyone on the path',
      ),
    );
  }
  const peers = peerMissing(options);
  if (!isLoopbackHost(options.raftAddress.host) && peers.length > 0) {
    const risk =
      options.tls.peers === undefined
        ? 'Raft traffic (every write) crosses the network in clear text, and any process that reaches the port can act as a node'
        : 'any process that reaches the port can connect and act as a node';
    warnings.push(sentence('the Raft port', options.raftAddress, peers, risk));
  }
  return warnings;
}
