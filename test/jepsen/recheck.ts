/**
 * Re-judges a finished run from its files: reads history.jsonl and summary.json, runs
 * today's checkers over the recorded operations, and writes the report again (the
 * cluster's final checks are kept as recorded: they cannot be re-run without the
 * cluster). For reading a failure again after a checker changed, or checking a history
 * by hand.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { NemesisEvent, OperationRecord } from './history.js';
import { type RunSummary, summaryText, writeReport } from './report.js';
import { makeWorkload, summaryValidity, type WorkloadName, workloadNames } from './run.js';

/**
 * Bound on a history file read back, checked before reading (a 10-minute run writes about
 * 20 MB; a V8 string cannot hold much more than 512 MiB anyway).
 */
export const historyBytesMaxDefault = 256 * 1024 * 1024;

export interface RecheckResult {
  readonly valid: true | false | 'unknown';
  readonly text: string;
  readonly htmlPath: string;
}

function readHistory(path: string, historyBytesMax: number): { operations: OperationRecord[]; events: NemesisEvent[] } {
  const bytes = statSync(path).size;
  if (bytes > historyBytesMax) throw new Error(`${path} holds ${bytes} bytes, more than the ${historyBytesMax} a history may have`);
  const text = readFileSync(path, 'utf8');
  const operations: OperationRecord[] = [];
  const events: NemesisEvent[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new Error(`${path}:${index + 1}: not JSON: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null) throw new Error(`${path}:${index + 1}: not an object`);
    if ('nemesis' in parsed) events.push((parsed as { nemesis: NemesisEvent }).nemesis);
    else operations.push(parsed as OperationRecord);
  });
  return { operations, events };
}

export function recheckRun(directory: string, historyBytesMax = historyBytesMaxDefault): RecheckResult {
  const historyPath = join(directory, 'history.jsonl');
  const summaryPath = join(directory, 'summary.json');
  for (const path of [historyPath, summaryPath]) if (!existsSync(path)) throw new Error(`${path} does not exist: not a run directory`);
  const recorded = JSON.parse(readFileSync(summaryPath, 'utf8')) as Omit<RunSummary, 'operations'>;
  if (!(workloadNames as readonly string[]).includes(recorded.workload))
    throw new Error(`${summaryPath}: unknown workload ${JSON.stringify(recorded.workload)}`);
  const { operations, events } = readHistory(historyPath, historyBytesMax);
  const workload = makeWorkload(recorded.workload as WorkloadName, ['linearizable']);
  const { required, reported } = workload.check(operations);
  const summary: RunSummary = {
    ...recorded,
    operations,
    nemesisEvents: events,
    verdicts: [...required, ...reported.map((verdict) => ({ ...verdict, informational: true }))],
    notes: [...recorded.notes.filter((note) => !note.startsWith('re-checked')), `re-checked from ${historyPath} at ${new Date().toISOString()}`],
  };
  const valid = summaryValidity(summary);
  const paths = writeReport(directory, summary);
  return { valid, text: summaryText(summary), htmlPath: paths.htmlPath };
}
