/**
 * A real DNS server for discovery tests: Debian's dnsmasq (package dnsmasq-base, which
 * `.ci/run` installs) on a loopback address and a free port, answering only from what the
 * test gives it: A records from a hosts file it reads again on SIGHUP (`setHosts`), SRV
 * records from its command line. Everything else under `.test` is answered as absent, never
 * forwarded. Killed by PID at `close()`; the machine's resolver configuration is untouched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as dns } from 'node:dns';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withinMs } from '../../src/common/within.js';
import { freePort, waitFor } from './harness.js';
import { killOnExit } from './process-exit.js';

const executableCandidates = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'];
/** Bound on the wait for dnsmasq to exit after SIGKILL. */
const exitWaitMs = 10_000;

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGKILL by PID, unless it already exited (or is exiting: then there is nothing to kill). */
function killQuietly(child: ChildProcess): void {
  if (!running(child) || child.pid === undefined) return;
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export interface SrvRecord {
  /** `_service._tcp.name` */
  readonly name: string;
  readonly target: string;
  readonly port: number;
}

/** A hosts-file line: an address and the names it answers for. */
export interface HostRecord {
  readonly address: string;
  readonly name: string;
}

function dnsmasqExecutable(): string {
  const found = executableCandidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(`dnsmasq not found at ${executableCandidates.join(' or ')}: install Debian's dnsmasq-base package (.ci/run does)`);
  }
  return found;
}

export class Dnsmasq {
  readonly directory = mkdtempSync(join(tmpdir(), 'quorumlite-dnsmasq-'));
  readonly host: string;
  port = 0;
  #child: ChildProcess | undefined;

  private constructor(host: string) {
    this.host = host;
  }

  /** `host:port`, for a -disco-config `resolver`. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  static async start(options: { host?: string; hosts: readonly HostRecord[]; srv?: readonly SrvRecord[] }): Promise<Dnsmasq> {
    const server = new Dnsmasq(options.host ?? '127.0.3.1');
    try {
      server.port = await freePort(server.host);
      server.#writeHosts(options.hosts);
      server.#spawn(options.srv ?? []);
      await server.waitFor((records) => records.length === options.hosts.length);
      return server;
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  /** Replaces the A records and has dnsmasq read them again; resolves once it answers with them. */
  async setHosts(hosts: readonly HostRecord[]): Promise<void> {
    this.#writeHosts(hosts);
    const pid = this.#child?.pid;
    if (pid === undefined) throw new Error('dnsmasq is not running');
    process.kill(pid, 'SIGHUP');
    await this.waitFor((records) => records.length === hosts.length);
  }

  /** Waits until the hosts file's names resolve through this server to what `accept` wants. */
  async waitFor(accept: (records: string[]) => boolean): Promise<void> {
    const resolver = new dns.Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([this.address]);
    const names = [...new Set(this.#hosts().map((record) => record.name))];
    await waitFor('dnsmasq answers with the hosts file', async () => {
      if (this.#child === undefined || !running(this.#child)) throw new Error(`dnsmasq exited: ${this.log()}`);
      const records: string[] = [];
      for (const name of names) records.push(...(await resolver.resolve4(name).catch(() => [])).map((address) => `${name} ${address}`));
      return accept(records) ? true : undefined;
    });
  }

  log(): string {
    const path = join(this.directory, 'dnsmasq.log');
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  /** Kills dnsmasq by PID, waits for its exit (bounded), and removes its directory. */
  async close(): Promise<void> {
    const child = this.#child;
    if (child !== undefined && running(child)) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      killQuietly(child);
      await withinMs(exited, exitWaitMs);
    }
    rmSync(this.directory, { recursive: true, force: true });
  }

  #hostsPath(): string {
    return join(this.directory, 'hosts');
  }

  #hosts(): HostRecord[] {
    return readFileSync(this.#hostsPath(), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const [address = '', name = ''] = line.split(' ');
        return { address, name };
      });
  }

  #writeHosts(hosts: readonly HostRecord[]): void {
    writeFileSync(this.#hostsPath(), hosts.map((record) => `${record.address} ${record.name}\n`).join(''));
  }

  #spawn(srv: readonly SrvRecord[]): void {
    const logPath = join(this.directory, 'dnsmasq.log');
    const child = spawn(
      dnsmasqExecutable(),
      [
        ...['--no-daemon', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file='],
        ...[`--listen-address=${this.host}`, '--bind-interfaces', `--port=${this.port}`, '--user=root'],
        // Names under .test are answered here, absent or not: never forwarded.
        ...['--local=/test/', `--addn-hosts=${this.#hostsPath()}`, '--log-queries', `--log-facility=${logPath}`],
        ...srv.map((record) => `--srv-host=${record.name},${record.target},${record.port}`),
      ],
      { stdio: 'ignore' },
    );
    child.on('error', () => undefined);
    this.#child = child;
    // Last resort if the test process exits without close().
    killOnExit(child);
  }
}
