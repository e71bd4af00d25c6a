/**
 * Real partitions between etcd members and quorumlite nodes under `--consensus etcd`,
 * with iptables (filter table).
 *
 * Why not test/cluster/packet-filter.ts: its rules tell connections apart by their source
 * address, and here there is none to go by. etcd (Go) dials its peers, and the nodes' etcd
 * client (gRPC) dials etcd, without binding a source address, so on loopback every such
 * connection comes from 127.0.0.1, whichever process opened it. What does tell them apart
 * is the process: each etcd member and each node runs under a group id of its own
 * (EtcdCluster's memberGroupIds, TestNode.groupId), and iptables' owner match sees it on
 * every packet a process sends. One chain, jumped from OUTPUT only for those group ids,
 * sets one connection-mark bit per process on the connection (both ends send, so a
 * connection carries the bits of both); the other chain, jumped from INPUT only for TCP to
 * or from an etcd member's address, drops the packets of a connection that carries a given
 * process's bit and goes to (or comes from) a given member's address and port. Every DROP
 * rule names an etcd member's address (127.0.2.N) and port; nothing matches 127.0.0.1 or
 * all of loopback. Dropping in INPUT is a silent loss, like a cut cable.
 *
 * Chains are `QLITE_EPART_<pid>` (drops) and `QLITE_EMARK_<pid>` (marks): removed at
 * close(), at process exit, and, when left by a process that no longer runs, when the
 * next filter opens.
 */
import { isIPv4 } from 'node:net';
import { type Endpoint, iptablesOrThrow, processAlive, removeChain } from '../cluster/packet-filter.js';

const dropChainPrefix = 'QLITE_EPART_';
const markChainPrefix = 'QLITE_EMARK_';
/** Connection-mark bits this filter uses: one per process, from bit 8 (the low byte is left to others). */
const markBitShift = 8;
export const markedProcessCountMax = 24;

/** etcd members' test addresses: 127.0.2.1 … 127.0.2.254 (test/etcd/etcd-cluster.ts). */
export function assertEtcdTestAddress(host: string): void {
  const parts = host.split('.').map(Number);
  if (!isIPv4(host) || parts[0] !== 127 || parts[1] !== 0 || parts[2] !== 2 || (parts[3] ?? 0) < 1 || (parts[3] ?? 255) > 254)
    throw new Error(`${host} is not an etcd test address 127.0.2.N`);
}

/** Removes this filter's chains left by processes that no longer run. */
function removeLeftoverChains(): void {
  const chains = iptablesOrThrow(['-S'])
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((words) => words[0] === '-N' && (words[1]?.startsWith(dropChainPrefix) === true || words[1]?.startsWith(markChainPrefix) === true))
    .map((words) => words[1] ?? '');
  for (const chain of chains) {
    const pid = Number(chain.slice(chain.lastIndexOf('_') + 1));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) continue;
    removeChain(chain);
  }
}

/** The group id of the process with mark bit `bit`: a range of this test process's own, so two runs never share one. */
export function groupIdForBit(bit: number): number {
  return 3_000_000 + (process.pid % 100_000) * 32 + bit;
}

/** A process the filter can cut: its group id and its mark bit (0 … markedProcessCountMax - 1). */
export interface MarkedProcess {
  readonly groupId: number;
  readonly bit: number;
}

export class EtcdPacketFilter {
  readonly dropChain = `${dropChainPrefix}${process.pid}`;
  readonly markChain = `${markChainPrefix}${process.pid}`;
  #open = false;
  readonly #exitHook = () => this.close();

  private constructor() {}

  /**
   * Creates the chains (after removing any a crashed run left): marks for `processes`,
   * jumps to the drop chain for TCP to or from `etcdHosts` only.
   */
  static open(etcdHosts: readonly string[], processes: readonly MarkedProcess[]): EtcdPacketFilter {
    for (const host of etcdHosts) assertEtcdTestAddress(host);
    for (const { bit } of processes) if (!Number.isInteger(bit) || bit < 0 || bit >= markedProcessCountMax) throw new Error(`mark bit ${bit} out of range`);
    removeLeftoverChains();
    const filter = new EtcdPacketFilter();
    removeChain(filter.dropChain);
    removeChain(filter.markChain);
    iptablesOrThrow(['-N', filter.markChain]);
    iptablesOrThrow(['-N', filter.dropChain]);
    filter.#open = true;
    process.once('exit', filter.#exitHook);
    for (const { groupId, bit } of processes) {
      const mark = `0x${markOf(bit).toString(16)}`;
      iptablesOrThrow(['-A', filter.markChain, '-m', 'owner', '--gid-owner', String(groupId), '-j', 'CONNMARK', '--set-xmark', `${mark}/${mark}`]);
      iptablesOrThrow(['-I', 'OUTPUT', '-p', 'tcp', '-m', 'owner', '--gid-owner', String(groupId), '-j', filter.markChain]);
    }
    for (const host of etcdHosts) {
      iptablesOrThrow(['-I', 'INPUT', '-d', `${host}/32`, '-p', 'tcp', '-j', filter.dropChain]);
      iptablesOrThrow(['-I', 'INPUT', '-s', `${host}/32`, '-p', 'tcp', '-j', filter.dropChain]);
    }
    return filter;
  }

  /**
   * Drops, silently and both ways, every connection between the process with mark bit
   * `bit` and `member` (an etcd member's address with its peer or client port), whichever
   * end dialled.
   */
  cut(bit: number, member: Endpoint): void {
    this.#assertOpen();
    assertEtcdTestAddress(member.host);
    const mark = `0x${markOf(bit).toString(16)}`;
    const marked = ['-m', 'connmark', '--mark', `${mark}/${mark}`, '-j', 'DROP'];
    iptablesOrThrow(['-A', this.dropChain, '-d', `${member.host}/32`, '-p', 'tcp', '--dport', String(member.port), ...marked]);
    iptablesOrThrow(['-A', this.dropChain, '-s', `${member.host}/32`, '-p', 'tcp', '--sport', String(member.port), ...marked]);
  }

  /** The DROP rules in force, as `iptables -S` prints them. */
  rules(): string[] {
    this.#assertOpen();
    return iptablesOrThrow(['-S', this.dropChain])
      .split('\n')
      .filter((line) => line.startsWith('-A '));
  }

  /** Packets the DROP rules dropped since they were added (proof a partition bit). */
  droppedPacketCount(): number {
    this.#assertOpen();
    let count = 0;
    for (const line of iptablesOrThrow(['-L', this.dropChain, '-v', '-n', '-x']).split('\n').slice(2)) {
      const words = line.trim().split(/\s+/);
      if (words[2] === 'DROP') count += Number(words[0]);
    }
    return count;
  }

  /** Heals every partition: flushes the drop chain, keeps the marks and jumps. */
  heal(): void {
    this.#assertOpen();
    iptablesOrThrow(['-F', this.dropChain]);
  }

  /** Removes the jumps and both chains. Safe to call twice. */
  close(): void {
    if (!this.#open) return;
    removeChain(this.dropChain);
    removeChain(this.markChain);
    this.#open = false;
    process.removeListener('exit', this.#exitHook);
  }

  #assertOpen(): void {
    if (!this.#open) throw new Error(`etcd packet filter ${this.dropChain} is closed`);
  }
}

function markOf(bit: number): number {
  return 2 ** (markBitShift + bit);
}
