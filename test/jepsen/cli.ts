/**
 * `npm run jepsen -- [options]`: one fault-suite run; prints the verdict and where the
 * report is. Exit status: 0 valid, 1 invalid (an anomaly or a failed final check),
 * 2 bad arguments or the run could not be made, 3 unknown (a checker hit its bound).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { NemesisKind } from './history.js';
import { recheckRun } from './recheck.js';
import { defaultNodeFlags, etcdNemesisKinds, nemesisKinds, type RunOptions, runJepsen, type WorkloadName, workloadNames } from './run.js';

export const usage = `usage: npm run jepsen -- [options]

  --workload NAME      register | list-append | bank (default register)
  --nemesis LIST       comma-separated: ${nemesisKinds.join(', ')}; 'all' or 'none' (default partition,kill)
  --time SECONDS       how long clients and faults run (default 60, 1-86400)
  --nodes N            cluster size, 3 or 5 (default 5)
  --consensus NAME     raft | etcd: the log in a 3-member etcd cluster the run starts
                       (default raft); with etcd the nemeses are ${etcdNemesisKinds.join(', ')}
                       (default kill,pause,etcd; 'all' means those; etcd-partition cuts etcd
                       members apart and nodes from etcd, with iptables, as root)
  --concurrency N      clients (default 10, 1-200)
  --seed N             the run's choices (default: from the clock; printed)
  --read-levels LIST   read level per client, round robin (default linearizable,strong,weak,none)
  --op-timeout MS      a client gives up on an operation after this (default 5000)
  --ops-max N          bound on the history (default 500000)
  --out DIR            report directory (default jepsen-results/<time>-<workload>)
  --check DIR          no run: judge the history a run left in DIR with today's checkers
                       and write its report again
  --help               this text
`;

export class UsageError extends Error {}

const stringOptions = [
  'consensus',
  'workload',
  'nemesis',
  'time',
  'nodes',
  'concurrency',
  'seed',
  'read-levels',
  'op-timeout',
  'ops-max',
  'out',
  'check',
] as const;

function integer(text: string | undefined, name: string, fallback: number, low: number, high: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < low || value > high)
    throw new UsageError(`--${name}: expected a whole number in [${low}, ${high}], got ${JSON.stringify(text)}`);
  return value;
}

function list(text: string | undefined, fallback: readonly string[]): string[] {
  if (text === undefined) return [...fallback];
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

export function parseJepsenArguments(argv: readonly string[], nowIso = new Date().toISOString()): RunOptions | 'help' | { readonly check: string } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(stringOptions.map((name) => [name, { type: 'string' as const }])),
        help: { type: 'boolean' as const },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help === true) return 'help';
  const text = (name: string) => values[name] as string | undefined;
  const check = text('check');
  if (check !== undefined) {
    const others = Object.keys(values).filter((name) => name !== 'check');
    if (others.length > 0) throw new UsageError(`--check runs nothing: it takes no other option (got --${others.join(', --')})`);
    return { check };
  }
  const workload = text('workload') ?? 'register';
  if (!(workloadNames as readonly string[]).includes(workload))
    throw new UsageError(`--workload: ${JSON.stringify(workload)} is not one of ${workloadNames.join(', ')}`);
  const consensus = text('consensus') ?? 'raft';
  if (consensus !== 'raft' && consensus !== 'etcd') throw new UsageError(`--consensus: ${JSON.stringify(consensus)} is neither raft nor etcd`);
  const kinds = consensus === 'etcd' ? etcdNemesisKinds : nemesisKinds;
  const nemesisText = text('nemesis');
  const defaultNemeses = consensus === 'etcd' ? ['kill', 'pause', 'etcd'] : ['partition', 'kill'];
  const nemeses = nemesisText === 'all' ? [...kinds] : nemesisText === 'none' ? [] : list(nemesisText, defaultNemeses);
  for (const kind of nemeses)
    if (!(kinds as readonly string[]).includes(kind)) throw new UsageError(`--nemesis: ${JSON.stringify(kind)} is not one of ${kinds.join(', ')}`);
  const nodeCount = integer(text('nodes'), 'nodes', 5, 3, 5);
  if (nodeCount !== 3 && nodeCount !== 5) throw new UsageError('--nodes: 3 or 5');
  const readLevels = list(text('read-levels'), ['linearizable', 'strong', 'weak', 'none']);
  for (const level of readLevels)
    if (!['linearizable', 'strong', 'weak', 'none'].includes(level)) throw new UsageError(`--read-levels: unknown level ${JSON.stringify(level)}`);
  if (readLevels.length === 0) throw new UsageError('--read-levels: at least one level');
  const stamp = nowIso.replace(/[:.]/g, '-');
  return {
    workload: workload as WorkloadName,
    nemeses: [...new Set(nemeses)] as NemesisKind[],
    timeLimitMs: integer(text('time'), 'time', 60, 1, 86_400) * 1000,
    nodeCount,
    concurrency: integer(text('concurrency'), 'concurrency', 10, 1, 200),
    seed: integer(text('seed'), 'seed', Date.now() % 1_000_000_007, 0, Number.MAX_SAFE_INTEGER),
    readLevels,
    operationTimeoutMs: integer(text('op-timeout'), 'op-timeout', 5_000, 100, 600_000),
    operationCountMax: integer(text('ops-max'), 'ops-max', 500_000, 1, 5_000_000),
    outDirectory: text('out') ?? join('jepsen-results', `${stamp}-${workload}`),
    nodeFlags: defaultNodeFlags,
    ...(consensus === 'etcd' ? { consensus } : {}),
  };
}

async function main(): Promise<number> {
  let options: ReturnType<typeof parseJepsenArguments>;
  try {
    options = parseJepsenArguments(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`jepsen: ${error.message}\n\n${usage}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  if ('check' in options) {
    try {
      const result = recheckRun(options.check);
      process.stdout.write(`${result.text}\nreport: ${result.htmlPath}\n`);
      return result.valid === true ? 0 : result.valid === false ? 1 : 3;
    } catch (error) {
      process.stderr.write(`jepsen: cannot check ${options.check}: ${error instanceof Error ? error.message : String(error)}\n`);
      return 2;
    }
  }
  try {
    const result = await runJepsen(options);
    process.stdout.write(`${result.text}\nreport: ${result.paths.htmlPath}\nhistory: ${result.paths.historyPath}\n`);
    return result.valid === true ? 0 : result.valid === false ? 1 : 3;
  } catch (error) {
    process.stderr.write(`jepsen: the run could not be made: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main();
}
