/**
 * -disco-mode dns and dns-srv: the nodes' Raft addresses resolved from a name, as rqlite's
 * DNS clients do. dns: every A and AAAA record of `name`, each with the Raft port (the
 * config's `port`, else this node's own, since rqlite assumes every node listens on the same
 * one). dns-srv: the SRV records at `_<service>._tcp.<name>`, each target resolved to its
 * addresses, with the record's port. The result feeds -bootstrap-expect's discovery, which
 * resolves again on every pass, so nodes that appear later (Kubernetes pods) are found.
 *
 * Without `resolver` the system's resolver answers (getaddrinfo for names, as Go's
 * LookupIP; the resolv.conf servers for SRV). With it, only that server is asked.
 */
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { timedOut, withinMs } from '../common/within.js';
import type { NodeLogger } from '../node/logger.js';
import type { DnsDiscoveryConfig, DnsSrvDiscoveryConfig } from './discovery-config.js';

/** One lookup gives up after this long (each try; c-ares tries twice). */
const lookupTimeoutMs = 2_000;
const lookupTryCount = 2;
/** Addresses taken from one resolution at most (the discovery remembers no more nodes). */
const resolvedAddressCountMax = 64;

interface NameResolver {
  addresses(name: string): Promise<string[]>;
  srv(name: string): Promise<{ name: string; port: number }[]>;
}

/** Absent records are an empty answer, not a failure. */
function noRecords(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENODATA' || code === 'ENOTFOUND';
}

async function orEmpty<Value>(lookup: Promise<Value[]>): Promise<Value[]> {
  try {
    return await lookup;
  } catch (error) {
    if (noRecords(error)) return [];
    throw error;
  }
}

/** A and AAAA together; one family failing (a server that refuses AAAA queries) leaves the other's answer. */
async function eitherFamily(ipv4: Promise<string[]>, ipv6: Promise<string[]>): Promise<string[]> {
  const [four, six] = await Promise.allSettled([ipv4, ipv6]);
  if (four.status === 'rejected' && six.status === 'rejected') throw four.reason;
  return [...(four.status === 'fulfilled' ? four.value : []), ...(six.status === 'fulfilled' ? six.value : [])];
}

async function withTimeout<Value>(lookup: Promise<Value>, what: string): Promise<Value> {
  const boundMs = lookupTimeoutMs * lookupTryCount;
  const answer = await withinMs(lookup, boundMs);
  if (answer === timedOut) throw new Error(`DNS lookup of ${what}: no answer within ${boundMs}ms`);
  return answer;
}

function createResolver(server: string | undefined): NameResolver {
  const resolver = new dns.Resolver({ timeout: lookupTimeoutMs, tries: lookupTryCount });
  if (server === undefined) {
    return {
      addresses: async (name) => (await orEmpty(dns.lookup(name, { all: true }))).map((entry) => entry.address),
      srv: (name) => orEmpty(resolver.resolveSrv(name)),
    };
  }
  resolver.setServers([server]);
  return {
    addresses: (name) => eitherFamily(orEmpty(resolver.resolve4(name)), orEmpty(resolver.resolve6(name))),
    srv: (name) => orEmpty(resolver.resolveSrv(name)),
  };
}

function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A source of Raft addresses for the joiner and -bootstrap-expect: resolves now; a failed lookup is logged and gives none. */
type ResolvedAddresses = () => Promise<readonly string[]>;

function logged(resolve: () => Promise<string[]>, what: string, logger: NodeLogger): ResolvedAddresses {
  return async () => {
    try {
      const addresses = [...new Set(await withTimeout(resolve(), what))].slice(0, resolvedAddressCountMax);
      logger.debug({ event: 'disco-resolved', name: what, addresses }, 'resolved the nodes');
      return addresses;
    } catch (error) {
      logger.warn({ event: 'disco-resolve-failed', name: what, error: String(error) }, 'could not resolve the nodes');
      return [];
    }
  };
}

/** -disco-mode dns: `ownRaftPort` when the config names no port. */
export function dnsAddresses(config: DnsDiscoveryConfig, ownRaftPort: number, logger: NodeLogger): ResolvedAddresses {
  const resolver = createResolver(config.resolver);
  const port = config.port ?? ownRaftPort;
  return logged(async () => (await resolver.addresses(config.name)).map((address) => hostPort(address, port)), config.name, logger);
}

/** -disco-mode dns-srv. */
export function dnsSrvAddresses(config: DnsSrvDiscoveryConfig, logger: NodeLogger): ResolvedAddresses {
  const resolver = createResolver(config.resolver);
  const recordName = `_${config.service}._tcp.${config.name}`;
  return logged(
    async () => {
      const records = (await resolver.srv(recordName)).slice(0, resolvedAddressCountMax);
      const addresses: string[] = [];
      for (const record of records) {
        const targets = isIP(record.name) === 0 ? await resolver.addresses(record.name) : [record.name];
        addresses.push(...targets.map((address) => hostPort(address, record.port)));
      }
      return addresses;
    },
    recordName,
    logger,
  );
}
