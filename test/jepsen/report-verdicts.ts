/**
 * Each checker's verdict with its anomalies: the explanation as the checker wrote it (in
 * a <pre>, escaped), then every operation it names with its whole record, so a reader can
 * follow the argument without opening the history file.
 */
import type { Anomaly, CheckerVerdict, OperationRecord } from './history.js';
import { escapeHtml, formatCount, formatDurationMs, formatJson } from './report-escape.js';
import { anomalyTally, checkerLabel, verdictWord } from './report-model.js';
import { latencyMs } from './report-scatter.js';
import { tableHead, verdictClass } from './report-sections.js';

/** Anomalies shown per checker; the rest are in summary.json. */
export const anomaliesShownMax = 50;
/** Operations listed per anomaly. */
export const operationsPerAnomalyMax = 40;
/** Anomalies shown expanded; later ones are folded into <details>. */
const anomaliesOpenMax = 5;
const operationColumns = ['#id', '#process', 'f', 'outcome', '#invoked', '#completed', '#latency', 'node', 'input / output or error'];

function operationRow(id: number, operations: ReadonlyMap<number, OperationRecord>): string {
  const operation = operations.get(id);
  if (operation === undefined) return `<tr><td class="number">${id}</td><td colspan="8" class="muted">not in the history</td></tr>`;
  const result = operation.outcome === 'ok' ? formatJson(operation.output) : (operation.error ?? '');
  return [
    `<tr><td class="number">${operation.id}</td><td class="number">${operation.process}</td><td>${escapeHtml(operation.f)}</td>`,
    `<td class="outcome-${operation.outcome}">${operation.outcome}</td>`,
    `<td class="number">${formatDurationMs(operation.invokeMs)}</td><td class="number">${formatDurationMs(operation.completeMs)}</td>`,
    `<td class="number">${formatDurationMs(latencyMs(operation))}</td><td>${escapeHtml(operation.node)}</td>`,
    `<td><code>${escapeHtml(formatJson(operation.input))}</code><br><code>${escapeHtml(result)}</code></td></tr>`,
  ].join('');
}

function renderAnomaly(anomaly: Anomaly, index: number, operations: ReadonlyMap<number, OperationRecord>): string {
  const shown = anomaly.operationIds.slice(0, operationsPerAnomalyMax);
  const hidden = anomaly.operationIds.length - shown.length;
  const more = hidden > 0 ? `<tr><td colspan="9" class="muted">… and ${formatCount(hidden)} more operations (ids in summary.json)</td></tr>` : '';
  const table =
    shown.length === 0
      ? '<p class="muted">No operations named.</p>'
      : [
          `<table class="operations">${tableHead(operationColumns)}`,
          `<tbody>${shown.map((id) => operationRow(id, operations)).join('')}${more}</tbody></table>`,
        ].join('');
  const open = index < anomaliesOpenMax ? ' open' : '';
  return [
    `<details class="anomaly"${open}><summary><span class="anomaly-type">${escapeHtml(anomaly.type)}</span> `,
    `<span class="muted">${formatCount(anomaly.operationIds.length)} operations</span></summary>`,
    `<pre class="explanation">${escapeHtml(anomaly.explanation)}</pre>${table}</details>`,
  ].join('');
}

function renderStats(stats: Readonly<Record<string, number>>): string {
  const entries = Object.entries(stats);
  if (entries.length === 0) return '';
  const items = entries.map(([name, value]) => `<span class="stat">${escapeHtml(name)} <b>${escapeHtml(formatCount(value))}</b></span>`);
  return `<p class="stats">${items.join('')}</p>`;
}

function renderVerdict(verdict: CheckerVerdict, operations: ReadonlyMap<number, OperationRecord>): string {
  const word = verdictWord(verdict.valid);
  const shown = verdict.anomalies.slice(0, anomaliesShownMax);
  const hidden = verdict.anomalies.length - shown.length;
  const tally = verdict.anomalies.length === 0 ? 'no anomalies' : `${formatCount(verdict.anomalies.length)} anomalies: ${anomalyTally(verdict)}`;
  return [
    `<section class="checker ${verdictClass(word)}"><h3><span class="chip ${verdictClass(word)}">${word}</span> ${escapeHtml(checkerLabel(verdict))}</h3>`,
    `<p>${escapeHtml(tally)}</p>${renderStats(verdict.stats)}`,
    shown.map((anomaly, index) => renderAnomaly(anomaly, index, operations)).join(''),
    hidden > 0 ? `<p class="muted">… and ${formatCount(hidden)} more anomalies (in summary.json).</p>` : '',
    '</section>',
  ].join('');
}

export function renderVerdicts(verdicts: readonly CheckerVerdict[], operationList: readonly OperationRecord[]): string {
  if (verdicts.length === 0) return '<section id="checkers"><h2>Checkers</h2><p class="muted">No checker ran.</p></section>';
  const operations = new Map(operationList.map((operation) => [operation.id, operation]));
  // The ones that found something first: that is what a reader of a failed run came for.
  const rank = (verdict: CheckerVerdict) => (verdict.valid === false ? 0 : verdict.valid === 'unknown' ? 1 : 2);
  const ordered = [...verdicts].sort((left, right) => rank(left) - rank(right));
  return `<section id="checkers"><h2>Checkers</h2>${ordered.map((verdict) => renderVerdict(verdict, operations)).join('')}</section>`;
}
