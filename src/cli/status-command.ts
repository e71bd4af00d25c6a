/**
 * `quorumlite status`: prints a node's `GET /status?pretty`. Over HTTPS when any TLS flag
 * is given, with the shell's names for them: --ca-cert (the CA to trust), --client-cert
 * and --client-key (for a node started with -http-verify-client), --insecure (trust any
 * certificate; tests only).
 */
import { readFile } from 'node:fs/promises';
import { Agent, fetch as undiciFetch } from 'undici';
import { formatHostPort, parseHostPort } from './flag-values.js';
import { parseGoFlags, type FlagKind } from './go-flags.js';
import { UsageError } from './usage-error.js';

const statusTimeoutMs = 5_000;
const flagKinds: ReadonlyMap<string, FlagKind> = new Map([
  ['http-addr', 'value'],
  ['ca-cert', 'value'],
  ['client-cert', 'value'],
  ['client-key', 'value'],
  ['insecure', 'boolean'],
]);

interface StatusTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly insecure: boolean;
}

async function readTls(flags: ReadonlyMap<string, { value: string; spelling: string }>): Promise<StatusTls | undefined> {
  const path = (name: string): string | undefined => flags.get(name)?.value;
  const insecure = flags.get('insecure')?.value === 'true';
  if (path('ca-cert') === undefined && path('client-cert') === undefined && path('client-key') === undefined && !insecure) return undefined;
  if ((path('client-cert') === undefined) !== (path('client-key') === undefined)) throw new UsageError('--client-cert and --client-key go together');
  const read = async (name: string): Promise<Buffer | undefined> => {
    const file = path(name);
    return file === undefined ? undefined : readFile(file);
  };
  const [ca, cert, key] = await Promise.all([read('ca-cert'), read('client-cert'), read('client-key')]);
  return { ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }), insecure };
}

/** Fetches and prints the status; returns the exit code (1 when the node answers with an error). */
export async function runStatus(argv: readonly string[], stdout: (text: string) => void): Promise<number> {
  const { flags, positionals } = parseGoFlags(argv, flagKinds);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const given = flags.get('http-addr');
  const address = parseHostPort(given?.value ?? '127.0.0.1:4001', given?.spelling ?? '--http-addr');
  const tls = await readTls(flags);
  const signal = AbortSignal.timeout(statusTimeoutMs);
  if (tls === undefined) {
    const response = await fetch(`http://${formatHostPort(address)}/status?pretty`, { signal });
    stdout(`${await response.text()}\n`);
    return response.ok ? 0 : 1;
  }
  const { insecure, ...material } = tls;
  const agent = new Agent({ connect: { ...material, rejectUnauthorized: !insecure } });
  try {
    const response = await undiciFetch(`https://${formatHostPort(address)}/status?pretty`, { signal, dispatcher: agent });
    stdout(`${await response.text()}\n`);
    return response.ok ? 0 : 1;
  } finally {
    await agent.close();
  }
}
