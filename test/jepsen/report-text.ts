/**
 * The verdict block printed to the terminal at the end of a run: the overall verdict
 * first, then one line per checker and per final check, then the counts. Plain text,
 * no colour codes, so it reads the same in a CI log.
 */
import { formatCount } from './report-escape.js';
import { anomalyTally, checkerLabel, countOutcomes, failoverPercentilesText, failoverStatistics, overallVerdict, verdictWord } from './report-model.js';
import type { RunSummary } from './report.js';

/** A final check's detail is cut to this many characters of its first line. */
const detailCharactersMax = 160;

function padded(texts: readonly string[]): string[] {
  const width = Math.max(0, ...texts.map((text) => text.length));
  return texts.map((text) => text.padEnd(width));
}

function firstLine(text: string): string {
  return cut(text.split('\n', 1)[0] ?? '');
}

function checkerLines(summary: RunSummary): string[] {
  if (summary.verdicts.length === 0) return ['  (no checker ran)'];
  const names = padded(summary.verdicts.map((verdict) => checkerLabel(verdict)));
  return summary.verdicts.map((verdict, index) => {
    const anomalies = verdict.anomalies.length === 0 ? 'no anomalies' : `${formatCount(verdict.anomalies.length)} anomalies: ${anomalyTally(verdict)}`;
    const stats = Object.entries(verdict.stats)
      .map(([name, value]) => `${name} ${formatCount(value)}`)
      .join(', ');
    return `  ${verdictWord(verdict.valid).padEnd(7)}  ${names[index]}  ${anomalies}${stats === '' ? '' : ` (${stats})`}`;
  });
}

/** A failed check's detail beyond its first line (each node's state, say): this many lines of at most this many characters. */
const failedDetailLinesMax = 12;
const failedDetailLineCharactersMax = 400;

function cut(line: string, charactersMax = detailCharactersMax): string {
  return line.length > charactersMax ? `${line.slice(0, charactersMax - 1)}…` : line;
}

function finalCheckLines(summary: RunSummary): string[] {
  if (summary.finalChecks.length === 0) return ['  (none ran)'];
  const names = padded(summary.finalChecks.map((check) => check.name));
  return summary.finalChecks.flatMap((check, index) => {
    const detail = firstLine(check.detail);
    const line = `  ${check.passed ? 'PASS' : 'FAIL'}  ${detail === '' ? (names[index] ?? '').trimEnd() : `${names[index]}  ${detail}`}`;
    if (check.passed) return [line];
    const more = check.detail.split('\n').slice(1);
    const shown = more.slice(0, failedDetailLinesMax).map((text) => `          ${cut(text, failedDetailLineCharactersMax)}`);
    return [line, ...shown, ...(more.length > failedDetailLinesMax ? [`          … ${more.length - failedDetailLinesMax} more lines`] : [])];
  });
}

/** An invalid run's faults and notes, in the terminal too (a CI log may be all there is): this many lines of each at most. */
const invalidRunLinesMax = 40;

function bounded(lines: readonly string[]): string[] {
  return lines.length > invalidRunLinesMax ? [...lines.slice(0, invalidRunLinesMax), `  … ${lines.length - invalidRunLinesMax} more`] : [...lines];
}

/** For a run that is not valid: each fault with its times, and the run's notes (the membership at the end, say). */
function invalidRunLines(summary: RunSummary): string[] {
  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  const faults = summary.nemesisEvents.map(
    (event) =>
      `  ${seconds(event.startMs)}–${event.endMs === undefined ? '…' : seconds(event.endMs)} s  ${cut(event.description, failedDetailLineCharactersMax)}`,
  );
  const notes = summary.notes.map((note) => `  ${cut(note, failedDetailLineCharactersMax)}`);
  return ['fault timeline', ...bounded(faults), 'notes', ...bounded(notes)];
}

export function summaryText(summary: RunSummary): string {
  const counts = countOutcomes(summary.operations);
  const failover = failoverStatistics(summary.failoverMs);
  const failoverLine = failover.count === 0 ? 'failover    none measured' : `failover    ${failover.count}: ${failoverPercentilesText(failover)}`;
  const verdict = overallVerdict(summary);
  return [
    `${verdict}  ${summary.title}`,
    'checkers',
    ...checkerLines(summary),
    'final checks',
    ...finalCheckLines(summary),
    `operations  ${formatCount(counts.total)}: ok ${formatCount(counts.ok)}, fail ${formatCount(counts.fail)}, info ${formatCount(counts.info)}`,
    `faults      ${formatCount(summary.nemesisEvents.length)}`,
    failoverLine,
    ...(verdict === 'VALID' ? [] : invalidRunLines(summary)),
  ].join('\n');
}
