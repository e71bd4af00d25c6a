/**
 * `quorumlite status`: prints a summary of a node and its cluster (status-summary.ts) from
 * its /status and /nodes; `--json` prints its `GET /status?pretty` instead. Over HTTPS when any TLS flag
 * is given, with the shell's names for them: --ca-cert (the CA to trust), --client-cert
 * and --client-key (for a node started with -http-verify-client), --insecure (trust any
 * certificate; tests only). `--user NAME:PASSWORD` (or QUORUMLITE_USER, as the shell reads it)
 * sends Basic credentials, for a node started with -auth whose /status needs the `status`
 * permission.
 */
import { readFile } from 'node:fs/promises';
import { Agent, fetch as undiciFetch } from 'undici';
import { basicAuthorization, parseBasicCredentials } from './basic-credentials.js';
import { formatHostPort, parseHostPort } from './flag-values.js';
import { parseGoFlags, type FlagKind } from './go-flags.js';
import { formatStatusSummary } from './status-summary.js';
import { UsageError } from './usage-error.js';

const statusTimeoutMs = 5_000;
const flagKinds: ReadonlyMap<string, FlagKind> = new Map([
  ['http-addr', 'value'],
  ['ca-cert', 'value'],
  ['client-cert', 'value'],
  ['client-key', 'value'],
  ['insecure', 'boolean'],
  ['json', 'boolean'],
  ['user', 'value'],
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

type Fetcher = (path: string) => Promise<{ ok: boolean; text: string }>;

/** The Authorization header for --user (or QUORUMLITE_USER), or none. */
function authorizationHeaders(flags: ReadonlyMap<string, { value: string; spelling: string }>, environment: NodeJS.ProcessEnv): Record<string, string> {
  const given = flags.get('user');
  const text = given?.value ?? (environment.QUORUMLITE_USER === '' ? undefined : environment.QUORUMLITE_USER);
  if (text === undefined) return {};
  const user = parseBasicCredentials(text);
  if (user === 'invalid') throw new UsageError(`${given?.spelling ?? 'QUORUMLITE_USER'} must be NAME:PASSWORD`);
  return { authorization: basicAuthorization(user) };
}

/** Fetches and prints the status; returns the exit code (1 when the node answers with an error). */
export async function runStatus(argv: readonly string[], stdout: (text: string) => void, environment: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { flags, positionals } = parseGoFlags(argv, flagKinds);
  const headers = authorizationHeaders(flags, environment);
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const given = flags.get('http-addr');
  const address = parseHostPort(given?.value ?? '127.0.0.1:4001', given?.spelling ?? '--http-addr');
  const tls = await readTls(flags);
  const signal = AbortSignal.timeout(statusTimeoutMs);
  const json = flags.get('json')?.value === 'true';
  if (tls === undefined) {
    const plain: Fetcher = async (path) => {
      const response = await fetch(`http://${formatHostPort(address)}${path}`, { signal, headers });
      return { ok: response.ok, text: await response.text() };
    };
    return printStatus(plain, json, stdout);
  }
  const { insecure, ...material } = tls;
  const agent = new Agent({ connect: { ...material, rejectUnauthorized: !insecure } });
  try {
    const secure: Fetcher = async (path) => {
      const response = await undiciFetch(`https://${formatHostPort(address)}${path}`, { signal, headers, dispatcher: agent });
      return { ok: response.ok, text: await response.text() };
    };
    return await printStatus(secure, json, stdout);
  } finally {
    await agent.close();
  }
}

async function printStatus(fetchPath: Fetcher, json: boolean, stdout: (text: string) => void): Promise<number> {
  const status = await fetchPath(json ? '/status?pretty' : '/status');
  if (json || !status.ok) {
    stdout(`${status.text}\n`);
    return status.ok ? 0 : 1;
  }
  const nodes = await fetchPath('/nodes?nonvoters&ver=2&timeout=2s');
  if (!nodes.ok) {
    stdout(`${nodes.text}\n`);
    return 1;
  }
  stdout(formatStatusSummary(JSON.parse(status.text), (JSON.parse(nodes.text) as { nodes?: [] }).nodes ?? []));
  return 0;
}
