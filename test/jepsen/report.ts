/**
 * What a person reads after a fault-suite run: report.html (one self-contained page: the
 * verdict, a timeline where faults line up with latencies and errors, the errors, the
 * failover times, each checker's anomalies with the operations they name, the final
 * checks), history.jsonl (every operation, then every fault) and summary.json (the rest),
 * plus summaryText, the verdict block for the terminal.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckerVerdict, NemesisEvent, OperationRecord } from './history.js';
import { escapeHtml } from './report-escape.js';
import { renderFailoverSection } from './report-histogram.js';
import { countOutcomes, overallVerdict } from './report-model.js';
import { renderErrors, renderFinalChecks, renderHeader, renderNemesisTable, renderNotes, renderParameters } from './report-sections.js';
import { reportCss } from './report-style.js';
import { anomalyLabelsOf, renderTimeline } from './report-timeline.js';
import { renderVerdicts } from './report-verdicts.js';

export { summaryText } from './report-text.js';

export interface RunSummary {
  /** e.g. 'list-append, 5 nodes, partition+kill+clock, 60 s'. */
  readonly title: string;
  /** ISO time. */
  readonly startedAt: string;
  readonly workload: string;
  readonly nemeses: readonly string[];
  /** n1..n5 */
  readonly nodeNames: readonly string[];
  readonly durationMs: number;
  readonly operations: readonly OperationRecord[];
  readonly nemesisEvents: readonly NemesisEvent[];
  readonly verdicts: readonly CheckerVerdict[];
  /** For each fault that cost the cluster its leader or quorum: ms from the fault to the first acknowledged write after it. */
  readonly failoverMs: readonly number[];
  /** End-of-run checks: e.g. 'no acknowledged write lost', 'checksums equal on every node', 'no node halted'. */
  readonly finalChecks: readonly { readonly name: string; readonly passed: boolean; readonly detail: string }[];
  /** Free-form lines (read level per client group, seed, command line to replay). */
  readonly notes: readonly string[];
}

/** History lines written per write call: large enough to be fast, small enough to stay bounded in memory. */
const historyLinesPerWrite = 2000;

const navigation = [
  ['timeline', 'Timeline'],
  ['errors', 'Errors'],
  ['failover', 'Failover'],
  ['checkers', 'Checkers'],
  ['final-checks', 'Final checks'],
  ['faults', 'Faults'],
  ['notes', 'Notes'],
] as const;

function renderTimelineSection(summary: RunSummary): string {
  const timeline = renderTimeline(summary, anomalyLabelsOf(summary));
  return [
    '<section id="timeline"><h2>Timeline</h2>',
    '<p class="muted">Faults on top (hover a band for what it did), each operation’s latency in the middle (hover a fail or info mark for the operation),',
    'operations per second at the bottom: ok in green, fail + info in red.</p>',
    timeline.legend,
    `<figure>${timeline.svg}<figcaption>${escapeHtml(timeline.caption)}</figcaption></figure>`,
    '</section>',
  ].join('\n');
}

export function renderReportHtml(summary: RunSummary): string {
  const links = navigation.map(([id, label]) => `<a href="#${id}">${label}</a>`).join('');
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(`${overallVerdict(summary)}: ${summary.title}`)}</title>`,
    `<style>${reportCss}</style></head><body>`,
    `<nav>${links}</nav><main>`,
    renderHeader(summary),
    renderParameters(summary),
    renderTimelineSection(summary),
    renderErrors(summary),
    renderFailoverSection(summary.failoverMs),
    renderVerdicts(summary.verdicts, summary.operations),
    renderFinalChecks(summary),
    renderNemesisTable(summary.nemesisEvents),
    renderNotes(summary.notes),
    '</main></body></html>',
    '',
  ].join('\n');
}

/** One OperationRecord per line, then one {"nemesis": event} line per fault. */
function writeHistory(path: string, summary: RunSummary): void {
  const descriptor = openSync(path, 'w');
  try {
    for (let start = 0; start < summary.operations.length; start += historyLinesPerWrite) {
      const lines = summary.operations.slice(start, start + historyLinesPerWrite).map((operation) => `${JSON.stringify(operation)}\n`);
      writeSync(descriptor, lines.join(''));
    }
    const nemesisLines = summary.nemesisEvents.map((event) => `${JSON.stringify({ nemesis: event })}\n`);
    if (nemesisLines.length > 0) writeSync(descriptor, nemesisLines.join(''));
  } finally {
    closeSync(descriptor);
  }
}

/** Everything but the operations, plus what the page derived from them (the verdict, the counts). */
function summaryJson(summary: RunSummary): string {
  const { operations, ...rest } = summary;
  return `${JSON.stringify({ ...rest, overall: overallVerdict(summary), operationCounts: countOutcomes(operations) }, null, 2)}\n`;
}

export function writeReport(directory: string, summary: RunSummary): { htmlPath: string; historyPath: string; summaryPath: string } {
  mkdirSync(directory, { recursive: true });
  const historyPath = join(directory, 'history.jsonl');
  const summaryPath = join(directory, 'summary.json');
  const htmlPath = join(directory, 'report.html');
  writeHistory(historyPath, summary);
  writeFileSync(summaryPath, summaryJson(summary));
  writeFileSync(htmlPath, renderReportHtml(summary));
  return { htmlPath, historyPath, summaryPath };
}
