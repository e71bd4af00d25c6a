/**
 * rqlited's discovery settings (-disco-mode, -disco-key, -disco-config), checked into what
 * the node needs. The -disco-config JSON has the fields of rqlite's discovery clients:
 * etcd `endpoints` (and `username`, `password`, `dial-timeout`), dns `name` and `port`,
 * dns-srv `name` and `service`. As Go's JSON decoder does, field names match without
 * regard to case and unknown fields are ignored; a field of the wrong type is an error.
 * quorumlite adds one field to dns and dns-srv: `resolver`, the DNS server to ask
 * (`host` or `host:port`) instead of the system's resolver. Pure: no I/O here.
 */
import { isIP } from 'node:net';

type DiscoveryMode = 'etcd-kv' | 'dns' | 'dns-srv';
const discoveryModes: readonly DiscoveryMode[] = ['etcd-kv', 'dns', 'dns-srv'];

export interface EtcdDiscoveryConfig {
  /** Client URLs (`http://host:port`); a bare `host:port` gets `http://`. */
  readonly endpoints: readonly string[];
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** Connecting to an endpoint gives up after this long. */
  readonly dialTimeoutMs: number;
}

export interface DnsDiscoveryConfig {
  /** The name whose A (and AAAA) records are the nodes. */
  readonly name: string;
  /** The nodes' Raft port; undefined: this node's own (rqlite's rule). */
  readonly port: number | undefined;
  /** The DNS server to ask (`host:port`); undefined: the system's resolver. */
  readonly resolver: string | undefined;
}

export interface DnsSrvDiscoveryConfig {
  /** SRV records are looked up at `_<service>._tcp.<name>`. */
  readonly name: string;
  readonly service: string;
  readonly resolver: string | undefined;
}

export type DiscoverySettings =
  | { readonly mode: 'etcd-kv'; readonly key: string; readonly etcd: EtcdDiscoveryConfig }
  | { readonly mode: 'dns'; readonly dns: DnsDiscoveryConfig }
  | { readonly mode: 'dns-srv'; readonly dnsSrv: DnsSrvDiscoveryConfig };

/** A -disco-config (or -disco-key) that cannot be used; the message says why. */
export class DiscoveryConfigError extends Error {
  override readonly name = 'DiscoveryConfigError';
}

export const discoveryConfigBytesMax = 64 * 1024;
const discoveryKeyLengthMax = 256;
const endpointCountMax = 16;
/** A DNS name is at most 253 characters. */
const dnsNameLengthMax = 253;
const credentialLengthMax = 1024;
/** rqlite's etcd client's default endpoint. */
const etcdEndpointDefault = 'localhost:2379';
const dialTimeoutMsDefault = 5_000;
const dialTimeoutMsMax = 600_000;

type JsonObject = Readonly<Record<string, unknown>>;

function parseObject(text: string): JsonObject {
  if (text.trim() === '') return {};
  if (text.length > discoveryConfigBytesMax) throw new DiscoveryConfigError(`longer than ${discoveryConfigBytesMax} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DiscoveryConfigError(`not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new DiscoveryConfigError('must be a JSON object');
  return parsed as JsonObject;
}

/** A field by name, matched without regard to case (Go's JSON decoding); `-` and `_` are ignored too. */
function field(object: JsonObject, name: string): unknown {
  const wanted = name.replace(/[-_]/g, '').toLowerCase();
  const key = Object.keys(object).find((candidate) => candidate.replace(/[-_]/g, '').toLowerCase() === wanted);
  return key === undefined ? undefined : object[key];
}

function optionalString(object: JsonObject, name: string, lengthMax: number): string | undefined {
  const value = field(object, name);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new DiscoveryConfigError(`"${name}" must be a string`);
  if (value.length > lengthMax) throw new DiscoveryConfigError(`"${name}" is longer than ${lengthMax} characters`);
  return value;
}

function dnsName(object: JsonObject, name: string, fallback: string): string {
  const value = optionalString(object, name, dnsNameLengthMax) ?? fallback;
  if (!/^[A-Za-z0-9_.-]+$/.test(value)) throw new DiscoveryConfigError(`"${name}": ${JSON.stringify(value)} is not a DNS name`);
  return value;
}

function port(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535) {
    throw new DiscoveryConfigError(`${what} must be a port number (1-65535)`);
  }
  return value;
}

/** `resolver`: an IP address, with a port or not (`127.0.0.1:5353`, `[::1]:53`). */
function resolverOf(object: JsonObject): string | undefined {
  const value = optionalString(object, 'resolver', 64);
  if (value === undefined) return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  if (match === null || host === undefined || isIP(host) === 0) throw new DiscoveryConfigError(`"resolver": ${JSON.stringify(value)} is not IP[:PORT]`);
  if (match[3] !== undefined) port(Number(match[3]), '"resolver"');
  return value;
}

function endpointsOf(object: JsonObject): string[] {
  const value = field(object, 'endpoints') ?? [etcdEndpointDefault];
  if (!Array.isArray(value) || value.length === 0 || value.some((item) => typeof item !== 'string' || item === '')) {
    throw new DiscoveryConfigError('"endpoints" must be a non-empty array of strings');
  }
  if (value.length > endpointCountMax) throw new DiscoveryConfigError(`"endpoints": at most ${endpointCountMax}`);
  return (value as string[]).map((endpoint) => {
    const url = /^[a-z]+:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new DiscoveryConfigError(`"endpoints": ${JSON.stringify(endpoint)} is not host:port or a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new DiscoveryConfigError(`"endpoints": ${JSON.stringify(endpoint)} is not http(s)`);
    return `${parsed.protocol}//${parsed.host}`;
  });
}

/** Go's clientv3 DialTimeout is a time.Duration: nanoseconds in JSON. A string such as "5s" is also taken. */
function dialTimeoutOf(object: JsonObject): number {
  const value = field(object, 'dial-timeout');
  if (value === undefined || value === null || value === 0) return dialTimeoutMsDefault;
  let timeoutMs: number;
  if (typeof value === 'number') timeoutMs = value / 1e6;
  else if (typeof value === 'string' && /^\d+(\.\d+)?(ms|s)$/.test(value))
    timeoutMs = value.endsWith('ms') ? Number(value.slice(0, -2)) : Number(value.slice(0, -1)) * 1000;
  else throw new DiscoveryConfigError('"dial-timeout" must be nanoseconds (a number) or a duration such as "5s"');
  if (!(timeoutMs >= 1 && timeoutMs <= dialTimeoutMsMax)) throw new DiscoveryConfigError(`"dial-timeout" must be between 1ms and ${dialTimeoutMsMax / 1000}s`);
  return Math.round(timeoutMs);
}

function etcdConfig(object: JsonObject): EtcdDiscoveryConfig {
  const username = optionalString(object, 'username', credentialLengthMax);
  const password = optionalString(object, 'password', credentialLengthMax);
  if (password !== undefined && username === undefined) throw new DiscoveryConfigError('"password" without "username"');
  return { endpoints: endpointsOf(object), username, password, dialTimeoutMs: dialTimeoutOf(object) };
}

function dnsConfig(object: JsonObject): DnsDiscoveryConfig {
  const given = field(object, 'port');
  return {
    name: dnsName(object, 'name', 'rqlite'),
    port: given === undefined || given === null || given === 0 ? undefined : port(given, '"port"'),
    resolver: resolverOf(object),
  };
}

function dnsSrvConfig(object: JsonObject): DnsSrvDiscoveryConfig {
  return { name: dnsName(object, 'name', 'rqlite'), service: dnsName(object, 'service', 'rqlite'), resolver: resolverOf(object) };
}

export function isDiscoveryMode(mode: string): mode is DiscoveryMode {
  return (discoveryModes as readonly string[]).includes(mode);
}

/** The settings for `mode` from the -disco-config text (already read from its file, if it named one); '' for the defaults. */
export function parseDiscoverySettings(mode: DiscoveryMode, key: string, configText: string): DiscoverySettings {
  if (key === '' || key.length > discoveryKeyLengthMax) throw new DiscoveryConfigError(`-disco-key must be 1-${discoveryKeyLengthMax} characters`);
  const object = parseObject(configText);
  switch (mode) {
    case 'etcd-kv':
      return { mode, key, etcd: etcdConfig(object) };
    case 'dns':
      return { mode, dns: dnsConfig(object) };
    case 'dns-srv':
      return { mode, dnsSrv: dnsSrvConfig(object) };
  }
}

/** The etcd key under which the leader's addresses are stored (rqlite's `/<disco-key>/leader`). */
export function etcdLeaderKey(key: string): string {
  return `/${key}/leader`;
}
