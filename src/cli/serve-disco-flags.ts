/**
 * rqlited's discovery flags for `quorumlite serve`: -disco-mode (etcd-kv, dns, dns-srv),
 * -disco-key (default `rqlite`) and -disco-config: as in rqlited, the path of a JSON file,
 * or, when no file has that name, the JSON itself; `$NAME` and `${NAME}` in it are replaced
 * from the environment. The settings are checked here (src/server/discovery-config.ts), so a
 * bad mode or config exits 2 before anything starts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { DiscoveryConfigError, discoveryConfigBytesMax, isDiscoveryMode, parseDiscoverySettings, type DiscoverySettings } from '../server/discovery-config.js';
import type { GivenFlag } from './go-flags.js';
import { UsageError } from './usage-error.js';

type Flags = ReadonlyMap<string, GivenFlag>;

export interface DiscoveryOptions {
  /** Undefined without -disco-mode: the node forms or joins by -join and -bootstrap-expect alone. */
  readonly discovery: DiscoverySettings | undefined;
}

/** Go's os.Expand over the environment: `$NAME` and `${NAME}`; an unset variable expands to ''. */
export function expandEnvironment(text: string, environment: NodeJS.ProcessEnv = process.env): string {
  return text.replace(
    /\$\{([^}]*)\}|\$([A-Za-z0-9_]+)/g,
    (_match, braced: string | undefined, bare: string | undefined) => environment[braced ?? bare ?? ''] ?? '',
  );
}

/** The config text: the file's content when the value names a file, else the value itself. */
function configText(given: GivenFlag | undefined): string {
  if (given === undefined || given.value === '') return '';
  if (!existsSync(given.value)) return given.value;
  if (!statSync(given.value).isFile()) throw new UsageError(`${given.spelling}: ${given.value} is not a file`);
  if (statSync(given.value).size > discoveryConfigBytesMax)
    throw new UsageError(`${given.spelling}: ${given.value} is larger than ${discoveryConfigBytesMax} bytes`);
  return readFileSync(given.value, 'utf8');
}

/** -disco-mode, -disco-key, -disco-config (checkDiscoveryFormation checks them against -join and -bootstrap-expect). */
export function parseDiscoveryFlags(flags: Flags): DiscoveryOptions {
  const mode = flags.get('disco-mode');
  const key = flags.get('disco-key');
  const config = flags.get('disco-config');
  // Without a mode rqlited reads neither -disco-key nor -disco-config: neither does quorumlite.
  if (mode === undefined || mode.value === '') return { discovery: undefined };
  if (mode.value === 'consul-kv')
    throw new UsageError(`${mode.spelling} consul-kv: not supported: quorumlite has no Consul client; use etcd-kv, dns or dns-srv`);
  if (!isDiscoveryMode(mode.value)) throw new UsageError(`invalid disco mode ${mode.value} (etcd-kv, dns or dns-srv)`);
  try {
    return { discovery: parseDiscoverySettings(mode.value, key?.value ?? 'rqlite', expandEnvironment(configText(config))) };
  } catch (error) {
    if (error instanceof DiscoveryConfigError) throw new UsageError(`${config?.spelling ?? '-disco-config'}: ${error.message}`);
    throw error;
  }
}

/** Whether -disco-mode is given: it, not -join, then decides what -bootstrap-expect may do (checkDiscoveryFormation). */
export function discoveryGiven(flags: Flags): boolean {
  return (flags.get('disco-mode')?.value ?? '') !== '';
}

/**
 * Formation flags that discovery rules out: -join beside -disco-mode (rqlited would use the
 * -join list and ignore discovery without a word; quorumlite refuses the ambiguity), and DNS
 * discovery without -bootstrap-expect (it says how many nodes form the cluster).
 */
export function checkDiscoveryFormation(options: DiscoveryOptions & { readonly joinAddresses: readonly string[]; readonly bootstrapExpect: number }): void {
  const { discovery } = options;
  if (discovery === undefined) return;
  if (options.joinAddresses.length > 0)
    throw new UsageError(`-disco-mode ${discovery.mode} and -join: give one of them (discovery finds the nodes -join would list)`);
  if (discovery.mode !== 'etcd-kv' && options.bootstrapExpect === 0) {
    throw new UsageError(`-disco-mode ${discovery.mode} needs -bootstrap-expect (the number of nodes that form the cluster)`);
  }
  if (discovery.mode === 'etcd-kv' && options.bootstrapExpect > 0) {
    throw new UsageError('-bootstrap-expect does not apply to -disco-mode etcd-kv: the node that claims the etcd key forms the cluster, the others join it');
  }
}
