/**
 * rqlited's TLS flags, with rqlited's names, defaults (all off) and meaning:
 *
 *   -http-cert, -http-key      serve the HTTP API over HTTPS (both or neither)
 *   -http-ca-cert              the CA that client certificates (with -http-verify-client)
 *                              and the members an https:// -join address names are checked against
 *   -http-verify-client        mutual TLS: a client must present a certificate the CA signed
 *   -http-verify-common-name   …whose Common Name is this one
 *   -node-cert, -node-key      TLS between nodes (both or neither)
 *   -node-ca-cert              the CA other nodes' certificates are checked against
 *   -node-no-verify            check no node certificate (testing only)
 *   -node-verify-client        mutual TLS between nodes: a node that dials in must present one
 *   -node-verify-server-name   the name other nodes' certificates carry, instead of their addresses
 *   -node-verify-common-name   the Common Name a dialling node's certificate must have
 *
 * rqlited ignores a setting that qualifies TLS when TLS is off (-node-verify-client
 * without -node-cert leaves the node on plain TCP); quorumlite refuses the command line
 * instead, so nobody believes a node verifies what it does not.
 */
import type { NodeTlsSettings } from '../server/node-tls.js';
import type { GivenFlag } from './go-flags.js';
import { UsageError } from './usage-error.js';

type Flags = ReadonlyMap<string, GivenFlag>;

export const tlsPathLengthMax = 4096;
/** X.509's upper bound on a Common Name (ub-common-name). */
export const commonNameLengthMax = 64;
/** The longest DNS name. */
export const serverNameLengthMax = 253;

/** A value flag given a non-empty value (rqlited's default, '', is "off"); undefined otherwise. */
function text(flags: Flags, name: string, lengthMax: number): string | undefined {
  const given = flags.get(name);
  if (given === undefined || given.value === '') return undefined;
  if (given.value.length > lengthMax) throw new UsageError(`${given.spelling}: longer than ${lengthMax} characters`);
  if (/[\0\r\n]/.test(given.value)) throw new UsageError(`${given.spelling}: ${JSON.stringify(given.value)} contains a control character`);
  return given.value;
}

function isTrue(flags: Flags, name: string): boolean {
  return flags.get(name)?.value === 'true';
}

const booleanNames = new Set(['http-verify-client', 'node-no-verify', 'node-verify-client']);

/** The flags among `names` given a value that asks for something (not rqlited's default), by the spelling they were given in. */
function askedFor(flags: Flags, names: readonly string[]): string[] {
  const spellings: string[] = [];
  for (const name of names) {
    const given = flags.get(name);
    if (given === undefined || given.value === '' || (booleanNames.has(name) && given.value === 'false')) continue;
    spellings.push(given.spelling);
  }
  return spellings;
}

function pair(flags: Flags, certName: string, keyName: string): { certPath: string; keyPath: string } | undefined {
  const certPath = text(flags, certName, tlsPathLengthMax);
  const keyPath = text(flags, keyName, tlsPathLengthMax);
  // rqlited's own words for the same mistake.
  if ((certPath === undefined) !== (keyPath === undefined)) throw new UsageError(`either both -${certName} and -${keyName} must be set, or neither`);
  return certPath === undefined || keyPath === undefined ? undefined : { certPath, keyPath };
}

function httpTls(flags: Flags): NodeTlsSettings['http'] {
  const files = pair(flags, 'http-cert', 'http-key');
  const caPath = text(flags, 'http-ca-cert', tlsPathLengthMax);
  const verifyClient = isTrue(flags, 'http-verify-client');
  const clientCommonName = text(flags, 'http-verify-common-name', commonNameLengthMax);
  if (files === undefined) {
    const orphans = askedFor(flags, ['http-verify-client', 'http-verify-common-name']);
    if (orphans.length > 0) throw new UsageError(`${orphans.join(', ')} needs -http-cert and -http-key: without them the HTTP API serves plain HTTP`);
  }
  if (clientCommonName !== undefined && !verifyClient) {
    throw new UsageError(`${flags.get('http-verify-common-name')?.spelling}: needs -http-verify-client (the Common Name is checked on client certificates)`);
  }
  if (files === undefined && caPath === undefined) return undefined;
  return { ...files, ...(caPath === undefined ? {} : { caPath }), verifyClient, ...(clientCommonName === undefined ? {} : { clientCommonName }) };
}

function peerTls(flags: Flags): NodeTlsSettings['peers'] {
  const files = pair(flags, 'node-cert', 'node-key');
  if (files === undefined) {
    const orphans = askedFor(flags, ['node-ca-cert', 'node-no-verify', 'node-verify-client', 'node-verify-server-name', 'node-verify-common-name']);
    if (orphans.length > 0) throw new UsageError(`${orphans.join(', ')} needs -node-cert and -node-key: without them nodes talk plain TCP`);
    return undefined;
  }
  const caPath = text(flags, 'node-ca-cert', tlsPathLengthMax);
  const verifyClient = isTrue(flags, 'node-verify-client');
  const serverName = text(flags, 'node-verify-server-name', serverNameLengthMax);
  const clientCommonName = text(flags, 'node-verify-common-name', commonNameLengthMax);
  if (clientCommonName !== undefined && !verifyClient) {
    throw new UsageError(
      `${flags.get('node-verify-common-name')?.spelling}: needs -node-verify-client (the Common Name is checked on the certificates of nodes that dial in)`,
    );
  }
  return {
    ...files,
    ...(caPath === undefined ? {} : { caPath }),
    verifyClient,
    noVerify: isTrue(flags, 'node-no-verify'),
    ...(serverName === undefined ? {} : { serverName }),
    ...(clientCommonName === undefined ? {} : { clientCommonName }),
  };
}

/** The TLS part of `serve`'s command line; throws UsageError for a combination that cannot mean anything. */
export function parseTlsFlags(flags: Flags): NodeTlsSettings {
  const http = httpTls(flags);
  const peers = peerTls(flags);
  return { ...(http === undefined ? {} : { http }), ...(peers === undefined ? {} : { peers }) };
}
