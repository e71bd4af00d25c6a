/**
 * The page's text sections: the verdict header with the run's parameters, the errors
 * table, the list of faults, the final checks and the notes. Every string from the run
 * goes through escapeHtml; every list has a bound and says what it left out.
 */
import type { NemesisEvent } from './history.js';
import { escapeHtml, formatCount, formatDurationMs, formatPercent } from './report-escape.js';
import {
  checkerLabel,
  countOutcomes,
  decidingVerdicts,
  errorsByText,
  failoverPercentilesText,
  failoverStatistics,
  type OverallVerdict,
  overallVerdict,
  verdictWord,
} from './report-model.js';
import { nemesisColors } from './report-svg.js';
import type { RunSummary } from './report.js';

/** Distinct error texts listed in the errors table. */
export const errorRowsMax = 100;
/** Faults listed in the fault table. */
export const nemesisRowsMax = 2000;

export function verdictClass(verdict: OverallVerdict): string {
  return verdict.toLowerCase();
}

/** Why the run got its verdict, in one line: which checkers and checks decided it. */
function verdictReason(summary: RunSummary): string {
  const deciding = decidingVerdicts(summary);
  const invalid = deciding.filter((verdict) => verdict.valid === false).map((verdict) => verdict.checker);
  const unknown = deciding.filter((verdict) => verdict.valid === 'unknown').map((verdict) => verdict.checker);
  const failedChecks = summary.finalChecks.filter((check) => !check.passed).map((check) => check.name);
  const reasons: string[] = [];
  if (invalid.length > 0) reasons.push(`invalid: ${invalid.join(', ')}`);
  if (failedChecks.length > 0) reasons.push(`failed final checks: ${failedChecks.join(', ')}`);
  if (unknown.length > 0) reasons.push(`undecided: ${unknown.join(', ')}`);
  if (deciding.length === 0) reasons.push('no checker ran');
  if (reasons.length === 0) reasons.push(`${deciding.length} checkers valid, ${summary.finalChecks.length} final checks passed`);
  return reasons.join('; ');
}

export function renderHeader(summary: RunSummary): string {
  const verdict = overallVerdict(summary);
  const chips = summary.verdicts.map((checker) => {
    const word = verdictWord(checker.valid);
    return `<span class="chip ${verdictClass(word)}">${escapeHtml(checkerLabel(checker))}: ${word}</span>`;
  });
  return [
    `<header class="verdict ${verdictClass(verdict)}">`,
    `<div class="verdict-word">${verdict}</div>`,
    `<div class="verdict-text"><h1>${escapeHtml(summary.title)}</h1><p>${escapeHtml(verdictReason(summary))}</p><p class="chips">${chips.join('')}</p></div>`,
    '</header>',
  ].join('');
}

export function renderParameters(summary: RunSummary): string {
  const counts = countOutcomes(summary.operations);
  const failover = failoverStatistics(summary.failoverMs);
  const failoverText = failover.count === 0 ? 'none' : `${failover.count} × ${failoverPercentilesText(failover)}`;
  const outcomeText = (['ok', 'fail', 'info'] as const).map(
    (outcome) => `<span class="outcome-${outcome}">${outcome} ${formatCount(counts[outcome])} (${formatPercent(counts[outcome], counts.total)})</span>`,
  );
  const rows: [string, string][] = [
    ['workload', escapeHtml(summary.workload)],
    ['nemeses', escapeHtml(summary.nemeses.join(', ') || 'none')],
    ['nodes', `${summary.nodeNames.length}: ${escapeHtml(summary.nodeNames.join(', '))}`],
    ['started', escapeHtml(summary.startedAt)],
    ['duration', formatDurationMs(summary.durationMs)],
    ['operations', `${formatCount(counts.total)}: ${outcomeText.join(', ')}`],
    ['faults', formatCount(summary.nemesisEvents.length)],
    ['failover', failoverText],
  ];
  return `<section id="parameters"><dl class="parameters">${rows.map(([name, value]) => `<dt>${name}</dt><dd>${value}</dd>`).join('')}</dl></section>`;
}

/** A table's head row; a column name starting with '#' is numeric (right-aligned), the '#' dropped. */
export function tableHead(columns: readonly string[]): string {
  const cells = columns.map((column) => (column.startsWith('#') ? `<th class="number">${escapeHtml(column.slice(1))}</th>` : `<th>${escapeHtml(column)}</th>`));
  return `<thead><tr>${cells.join('')}</tr></thead>`;
}

function moreRow(columns: number, hidden: number, what: string): string {
  return hidden > 0 ? `<tr><td colspan="${columns}" class="muted">… and ${formatCount(hidden)} more ${what} (see the history file)</td></tr>` : '';
}

/** 127.0.0.1:4001 for http://127.0.0.1:4001: the scheme is the same on every row. */
function withoutScheme(node: string): string {
  return node.replace(/^[a-z]+:\/\//, '');
}

export function renderErrors(summary: RunSummary): string {
  const groups = errorsByText(summary.operations);
  if (groups.length === 0) return '<section id="errors"><h2>Errors</h2><p class="muted">No operation failed or timed out.</p></section>';
  const rows = groups
    .slice(0, errorRowsMax)
    .map((group) =>
      [
        `<tr><td><code>${escapeHtml(group.error)}</code></td>`,
        `<td class="number">${formatCount(group.fail + group.info)}</td>`,
        `<td class="number outcome-fail">${formatCount(group.fail)}</td><td class="number outcome-info">${formatCount(group.info)}</td>`,
        `<td>${escapeHtml(group.functions.join(', '))}</td><td>${escapeHtml(group.nodes.map(withoutScheme).join(', '))}</td>`,
        `<td class="number">${formatDurationMs(group.firstMs)}</td><td class="number">${formatDurationMs(group.lastMs)}</td></tr>`,
      ].join(''),
    );
  return [
    '<section id="errors"><h2>Errors</h2>',
    '<p class="muted">fail: definitely not applied. info: unknown (timeout, connection lost), it may still have taken effect.</p>',
    `<table>${tableHead(['error', '#count', '#fail', '#info', 'functions', 'nodes', '#first', '#last'])}`,
    `<tbody>${rows.join('')}${moreRow(8, groups.length - errorRowsMax, 'distinct errors')}</tbody></table></section>`,
  ].join('');
}

function nemesisRow(event: NemesisEvent, index: number): string {
  const endText = event.endMs === undefined ? '<span class="outcome-fail">never healed</span>' : formatDurationMs(event.endMs);
  const lengthText = event.endMs === undefined ? '' : formatDurationMs(event.endMs - event.startMs);
  return [
    `<tr><td class="number">${index + 1}</td>`,
    `<td><span class="kind-dot" style="background:${nemesisColors[event.kind]}"></span>${event.kind}</td>`,
    `<td>${escapeHtml(event.description)}</td><td>${escapeHtml(event.targets.join(', '))}</td>`,
    `<td class="number">${formatDurationMs(event.startMs)}</td><td class="number">${endText}</td><td class="number">${lengthText}</td></tr>`,
  ].join('');
}

export function renderNemesisTable(events: readonly NemesisEvent[]): string {
  if (events.length === 0) return '<section id="faults"><h2>Faults</h2><p class="muted">No faults were injected.</p></section>';
  const sorted = [...events].sort((left, right) => left.startMs - right.startMs);
  return [
    '<section id="faults"><h2>Faults</h2>',
    `<table>${tableHead(['##', 'kind', 'description', 'targets', '#start', '#healed', '#lasted'])}`,
    `<tbody>${sorted.slice(0, nemesisRowsMax).map(nemesisRow).join('')}${moreRow(7, sorted.length - nemesisRowsMax, 'faults')}</tbody></table></section>`,
  ].join('');
}

export function renderFinalChecks(summary: RunSummary): string {
  if (summary.finalChecks.length === 0) return '<section id="final-checks"><h2>Final checks</h2><p class="muted">None ran.</p></section>';
  const rows = summary.finalChecks.map(
    (check) =>
      `<tr><td><span class="chip ${check.passed ? 'valid' : 'invalid'}">${check.passed ? 'PASS' : 'FAIL'}</span></td><td>${escapeHtml(check.name)}</td>` +
      `<td>${check.detail === '' ? '' : `<pre class="detail">${escapeHtml(check.detail)}</pre>`}</td></tr>`,
  );
  return `<section id="final-checks"><h2>Final checks</h2><table class="checks"><tbody>${rows.join('')}</tbody></table></section>`;
}

export function renderNotes(notes: readonly string[]): string {
  if (notes.length === 0) return '<section id="notes"><h2>Notes</h2><p class="muted">None.</p></section>';
  return `<section id="notes"><h2>Notes</h2><pre class="notes">${notes.map(escapeHtml).join('\n')}</pre></section>`;
}
