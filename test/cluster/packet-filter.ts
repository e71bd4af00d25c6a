/**
 * Real network partitions for cluster tests, with iptables (filter table).
 *
 * Every rule lives in a chain of this test process's own, `QLITE_PART_<pid>`, reached
 * from INPUT by one jump rule that itself only matches TCP between the test's own
 * loopback addresses (127.0.0.2 and up, never 127.0.0.1, never all of loopback). On
 * loopback every packet passes INPUT, so dropping there is a silent loss, like a cut
 * cable: established connections stall and TCP retransmits until the rules go (a DROP
 * in OUTPUT would instead hand the sender an immediate EPERM, which no real network does).
 *
 * Rules match peer (Raft) ports, not just addresses: other test files run concurrently
 * with nodes on the same 127.0.0.N addresses, on other ports, and must not be touched.
 *
 * A chain whose owner process is gone (a crashed run) is removed, with its jump rules,
 * when the next filter opens. close() removes this process's chain even after a
 * failure, and a process 'exit' hook does it as a last resort.
 */
import { spawnSync } from 'node:child_process';
import { isIPv4 } from 'node:net';
// A file ended by the test runner's timeout still runs the 'exit' hook that removes its chain.
import './process-exit.js';

export const chainPrefix = 'QLITE_PART_';
/** Bound on one iptables invocation, including waiting for the xtables lock. */
export const iptablesCommandTimeoutMs = 20_000;
const xtablesLockWaitSeconds = '10';
/** iptables rejects chain names longer than this. */
const chainNameLengthMax = 28;
/** Bound on rules listed per chain when cleaning up (a leftover chain is tiny). */
const listedRuleCountMax = 10_000;
const jumpingChains = ['INPUT', 'OUTPUT'] as const;

export interface IptablesResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function iptables(argumentsList: readonly string[]): IptablesResult {
  const result = spawnSync('iptables', ['-w', xtablesLockWaitSeconds, ...argumentsList], {
    encoding: 'utf8',
    timeout: iptablesCommandTimeoutMs,
  });
  if (result.error !== undefined) return { status: null, stdout: '', stderr: String(result.error) };
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs iptables; anything but success throws, naming the command and iptables' own message. */
export function iptablesOrThrow(argumentsList: readonly string[]): string {
  const result = iptables(argumentsList);
  if (result.status !== 0) throw iptablesFailure(argumentsList, result);
  return result.stdout;
}

function iptablesFailure(argumentsList: readonly string[], result: IptablesResult): Error {
  return new Error(`iptables ${argumentsList.join(' ')} failed (${result.status}): ${result.stderr.trim()}`);
}

/** Why real partitions cannot run here (no iptables, or not permitted), or undefined when they can. */
export function iptablesUnavailableReason(): string | undefined {
  const version = iptables(['-V']);
  if (version.status === null) return `iptables is not installed (${version.stderr})`;
  const listing = iptables(['-S', 'INPUT']);
  if (listing.status !== 0) return `iptables is not permitted here (needs root / CAP_NET_ADMIN): ${listing.stderr.trim()}`;
  return undefined;
}

/** The test's own addresses: 127.0.0.2 … 127.0.0.254. */
export function assertTestAddress(host: string): void {
  if (!isIPv4(host)) throw new Error(`${host} is not an IPv4 address`);
  const [first, second, third, fourth] = host.split('.').map(Number);
  if (first !== 127 || second !== 0 || third !== 0) throw new Error(`${host} is not a test loopback address 127.0.0.N`);
  if (fourth === undefined || fourth < 2 || fourth > 254) throw new Error(`${host}: rules may name only 127.0.0.2 and up, never 127.0.0.1`);
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** Whether process `pid` exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes every rule in INPUT/OUTPUT that jumps to `chain`, then flushes and deletes the
 * chain. Another test process may be removing the same leftover chain at the same time
 * (each filter's open() removes them): a step that fails because the other one did it
 * first is fine; any other failure throws.
 */
export function removeChain(chain: string): void {
  for (const builtin of jumpingChains) {
    for (const rule of jumpRules(builtin, chain)) {
      removeUnlessGone(['-D', builtin, ...rule], () => jumpRules(builtin, chain).some((listed) => listed.join(' ') === rule.join(' ')));
    }
  }
  const chainExists = (): boolean => iptables(['-S', chain]).status === 0;
  if (!chainExists()) return;
  removeUnlessGone(['-F', chain], chainExists);
  removeUnlessGone(['-X', chain], chainExists);
}

/** The rules of `builtin` that jump to `chain`, each as its words after `-A <builtin>`. */
function jumpRules(builtin: string, chain: string): string[][] {
  return iptablesOrThrow(['-S', builtin])
    .split('\n')
    .slice(0, listedRuleCountMax)
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] === '-A' && words.at(-1) === chain && words.at(-2) === '-j')
    .map((words) => words.slice(2));
}

/** Runs a removal; its failure throws unless `stillThere` says another process removed the thing meanwhile. */
function removeUnlessGone(argumentsList: readonly string[], stillThere: () => boolean): void {
  const result = iptables(argumentsList);
  if (result.status === 0 || !stillThere()) return;
  throw iptablesFailure(argumentsList, result);
}

/** Names of this test's chains (any process) present in the filter table. */
export function listTestChains(): string[] {
  return iptablesOrThrow(['-S'])
    .split('\n')
    .slice(0, listedRuleCountMax)
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] === '-N' && words[1]?.startsWith(chainPrefix) === true)
    .map((words) => words[1] ?? '');
}

/** Removes chains (and their jumps) left by test processes that no longer run. */
export function removeLeftoverChains(): string[] {
  const removed: string[] = [];
  for (const chain of listTestChains()) {
    const pid = Number(chain.slice(chainPrefix.length));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) continue;
    removeChain(chain);
    removed.push(chain);
  }
  return removed;
}

export class PacketFilter {
  readonly chain: string;
  #open = false;
  readonly #exitHook = () => this.close();

  private constructor(chain: string) {
    this.chain = chain;
  }

  /**
   * Creates this process's chain, after removing any left over by a crashed run, and
   * jumps to it from INPUT for TCP between `hosts` only (at least two, all 127.0.0.2+).
   */
  static open(hosts: readonly string[]): PacketFilter {
    if (hosts.length < 2) throw new Error('a partition needs at least two hosts');
    for (const host of hosts) assertTestAddress(host);
    const chain = `${chainPrefix}${process.pid}`;
    if (chain.length > chainNameLengthMax) throw new Error(`chain name ${chain} is too long for iptables`);
    removeLeftoverChains();
    removeChain(chain);
    const filter = new PacketFilter(chain);
    iptablesOrThrow(['-N', chain]);
    filter.#open = true;
    process.once('exit', filter.#exitHook);
    for (const source of hosts) {
      for (const destination of hosts) {
        if (source === destination) continue;
        iptablesOrThrow(['-I', 'INPUT', '-s', `${source}/32`, '-d', `${destination}/32`, '-p', 'tcp', '-j', chain]);
      }
    }
    return filter;
  }

  /**
   * Drops, silently, every packet `from` sends to the peer port of `to` and every
   * packet it sends from its own peer port to `to`: one direction of both TCP
   * connections between the two nodes (the one `from` dialled and the one `to` dialled).
   */
  dropOneWay(from: Endpoint, to: Endpoint): void {
    this.#assertOpen();
    assertTestAddress(from.host);
    assertTestAddress(to.host);
    const addresses = ['-s', `${from.host}/32`, '-d', `${to.host}/32`, '-p', 'tcp'];
    iptablesOrThrow(['-A', this.chain, ...addresses, '--dport', String(to.port), '-j', 'DROP']);
    iptablesOrThrow(['-A', this.chain, ...addresses, '--sport', String(from.port), '-j', 'DROP']);
  }

  /** Cuts both directions between `a` and `b`. */
  dropBothWays(a: Endpoint, b: Endpoint): void {
    this.dropOneWay(a, b);
    this.dropOneWay(b, a);
  }

  /** The DROP rules in force, as `iptables -S` prints them. */
  rules(): string[] {
    this.#assertOpen();
    return iptablesOrThrow(['-S', this.chain])
      .split('\n')
      .filter((line) => line.startsWith('-A '));
  }

  /** Packets the chain's DROP rules have dropped since they were added (proof the partition bit). */
  droppedPacketCount(): number {
    this.#assertOpen();
    const lines = iptablesOrThrow(['-L', this.chain, '-v', '-n', '-x']).split('\n').slice(2, listedRuleCountMax);
    let count = 0;
    for (const line of lines) {
      const words = line.trim().split(/\s+/);
      if (words[2] !== 'DROP') continue;
      const packets = Number(words[0]);
      if (!Number.isSafeInteger(packets)) throw new Error(`unexpected iptables counter line: ${line}`);
      count += packets;
    }
    return count;
  }

  /** Heals every partition: flushes the chain, keeps it (and the jumps) for the next one. */
  heal(): void {
    this.#assertOpen();
    iptablesOrThrow(['-F', this.chain]);
  }

  /** Removes the jump rules and the chain. Safe to call twice. */
  close(): void {
    if (!this.#open) return;
    removeChain(this.chain);
    this.#open = false;
    process.removeListener('exit', this.#exitHook);
  }

  #assertOpen(): void {
    if (!this.#open) throw new Error(`packet filter ${this.chain} is closed`);
  }
}
