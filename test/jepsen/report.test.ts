/**
 * The run report: report.html is one self-contained, escaped page that shows every fault
 * and every anomaly and stays bounded for a long history; history.jsonl and summary.json
 * hold what the page was drawn from; summaryText is the terminal's verdict block.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { escapeHtml } from './report-escape.js';
import { hostileText, syntheticSummary } from './report-fixture.js';
import { failoverBuckets } from './report-histogram.js';
import { overallVerdict, percentile } from './report-model.js';
import { errorMarksPerColumnMax, okMarksPerColumnMax, scatterColumnWidthPx, thinOperations } from './report-scatter.js';
import { linearScale, logScale } from './report-svg.js';
import { nemesisTooltip } from './report-timeline.js';
import { type RunSummary, renderReportHtml, summaryText, writeReport } from './report.js';

const directory = mkdtempSync(join(tmpdir(), 'quorumlite-report-'));
after(() => rmSync(directory, { recursive: true, force: true }));

const summary = syntheticSummary({ seed: 7, operationCount: 4000, durationMs: 60_000 });
const paths = writeReport(directory, summary);
const html = readFileSync(paths.htmlPath, 'utf8');

/** Elements in the page: every start tag. */
function elementCount(page: string): number {
  return page.match(/<[a-zA-Z]/g)?.length ?? 0;
}

/** Checks that every start tag is closed in order (void elements aside): a cheap well-formedness test. */
function assertBalanced(page: string): void {
  const voidElements = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', '!doctype']);
  const stack: string[] = [];
  const body = page.replace(/<style>[\s\S]*?<\/style>/, '');
  for (const match of body.matchAll(/<(\/?)([a-zA-Z!][a-zA-Z0-9-]*)[^>]*?(\/?)>/g)) {
    const [, closing, rawName, selfClosing] = match;
    const name = (rawName ?? '').toLowerCase();
    if (voidElements.has(name) || selfClosing === '/') continue;
    if (closing === '') stack.push(name);
    else assert.equal(stack.pop(), name, `</${name}> closes the wrong element near offset ${match.index}`);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

describe('writeReport', () => {
  it('writes the page, the history (operations then faults) and the summary without operations', () => {
    const lines = readFileSync(paths.historyPath, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, summary.operations.length + summary.nemesisEvents.length);
    assert.deepEqual(JSON.parse(lines[0] ?? ''), summary.operations[0]);
    assert.deepEqual(
      lines.slice(summary.operations.length).map((line) => JSON.parse(line)),
      summary.nemesisEvents.map((event) => ({ nemesis: event })),
    );
    const written = JSON.parse(readFileSync(paths.summaryPath, 'utf8'));
    assert.equal(written.operations, undefined);
    assert.deepEqual(written.verdicts, summary.verdicts);
    assert.deepEqual(written.nemesisEvents, summary.nemesisEvents);
    assert.equal(written.overall, 'INVALID');
    assert.equal(written.operationCounts.total, summary.operations.length);
    assert.ok(html.startsWith('<!doctype html>'));
  });
});

describe('renderReportHtml', () => {
  it('is one self-contained document: no script, no external source, link or stylesheet', () => {
    assert.equal(html.match(/<html/g)?.length, 1);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /\ssrc=/i);
    assert.doesNotMatch(html, /<link/i);
    assert.doesNotMatch(html, /@import|url\(/i);
    for (const match of html.matchAll(/href="([^"]*)"/g)) assert.ok(match[1]?.startsWith('#'), `external href ${match[1]}`);
    assertBalanced(html);
  });

  it('escapes every text from the run', () => {
    assert.ok(!html.includes(hostileText), 'raw hostile text reached the page');
    assert.ok(html.includes(escapeHtml(hostileText)));
    assert.ok(html.includes(escapeHtml('near "<": syntax error & more')));
    // Every & starts an entity: nothing from the run slipped through unescaped.
    assert.doesNotMatch(html, /&(?!(?:[a-z]+|#\d+);)/);
  });

  it('shows every fault on the timeline (with its description on hover) and in the table', () => {
    for (const event of summary.nemesisEvents) {
      assert.ok(html.includes(`<title>${escapeHtml(nemesisTooltip(event))}</title>`), `no band for ${event.description}`);
      assert.ok(html.includes(`<td>${escapeHtml(event.description)}</td>`), `no row for ${event.description}`);
    }
    assert.ok(html.includes('never healed'));
  });

  it('shows every anomaly with its explanation and the operations it names', () => {
    const anomalies = summary.verdicts.flatMap((verdict) => verdict.anomalies);
    assert.ok(anomalies.length >= 2);
    for (const anomaly of anomalies) {
      assert.ok(html.includes(`<pre class="explanation">${escapeHtml(anomaly.explanation)}</pre>`));
      for (const id of anomaly.operationIds) assert.ok(html.includes(`<td class="number">${id}</td>`), `operation ${id} not listed`);
    }
    assert.ok(html.includes('not in the history'), 'a missing operation id is called out');
    assert.ok(html.includes('<circle class="anomaly-ring"'), 'named operations are ringed on the timeline');
    assert.ok(html.includes('<title>linearizable-register: nonlinearizable\n#100 '));
    const named = summary.operations.find((operation) => operation.id === anomalies[0]?.operationIds[0]);
    assert.ok(named !== undefined);
    assert.ok(html.includes(escapeHtml(JSON.stringify(named.input))), 'the named operation’s input is shown');
  });

  it('shows the verdict INVALID, each checker and each final check', () => {
    assert.match(html, /<header class="verdict invalid"><div class="verdict-word">INVALID<\/div>/);
    for (const verdict of summary.verdicts) assert.ok(html.includes(escapeHtml(verdict.checker)));
    for (const check of summary.finalChecks) assert.ok(html.includes(`<td>${escapeHtml(check.name)}</td>`));
    assert.ok(html.includes('p99'));
  });

  it('stays bounded for 200,000 operations and says it downsampled', () => {
    const large = syntheticSummary({ seed: 11, operationCount: 200_000, durationMs: 600_000 });
    const page = renderReportHtml(large);
    const elementsMax = 12_000;
    const count = elementCount(page);
    assert.ok(count < elementsMax, `${count} elements`);
    assert.ok(page.length < 3_000_000, `${page.length} characters`);
    assert.match(page, /Downsampled: [\d,]+ of 200,000 operations drawn/);
    assertBalanced(page);
  });

  it('renders an empty run as UNKNOWN without failing', () => {
    const empty: RunSummary = {
      ...summary,
      operations: [],
      nemesisEvents: [],
      verdicts: [],
      failoverMs: [],
      finalChecks: [],
      notes: [],
    };
    const page = renderReportHtml(empty);
    assert.match(page, /<div class="verdict-word">UNKNOWN<\/div>/);
    assert.ok(page.includes('No checker ran'));
    assertBalanced(page);
  });
});

describe('summaryText', () => {
  it('leads with the verdict and lists each checker, each final check, the counts and failover', () => {
    const text = summaryText(summary);
    assert.ok(text.startsWith(`INVALID  ${summary.title}`));
    for (const verdict of summary.verdicts) assert.match(text, new RegExp(`(VALID|INVALID|UNKNOWN) +${verdict.checker}`));
    assert.match(text, /INVALID +linearizable-register +2 anomalies: nonlinearizable ×1, lost-write ×1/);
    assert.match(text, /UNKNOWN +bank-total/);
    assert.match(text, /FAIL +no acknowledged write lost/);
    assert.match(text, /PASS +checksums equal on every node/);
    assert.match(text, /operations {2}4,000: ok [\d,]+, fail [\d,]+, info [\d,]+/);
    assert.match(text, /failover {4}6: p50 .+, p99 .+, max .+/);
    // Not valid: the faults with their times and the notes follow, so a CI log alone tells what happened.
    assert.match(text, /\nfault timeline\n {2}\d+\.\d–(\d+\.\d|…) s {2}\S/);
    for (const note of summary.notes) assert.ok(text.includes(`\n  ${note}`), note);
    assert.ok(
      !summaryText({
        ...summary,
        verdicts: [{ ...(summary.verdicts[0] as RunSummary['verdicts'][number]), valid: true, anomalies: [] }],
        finalChecks: [{ name: 'x', passed: true, detail: '' }],
      }).includes('fault timeline'),
      'a valid run is short',
    );
  });

  it('an invalid run lists at most 40 faults and 40 notes, then says how many more', () => {
    const notes = Array.from({ length: 41 }, (_, index) => `note ${index}`);
    const text = summaryText({ ...summary, notes });
    assert.ok(text.includes('\n  note 39\n'), 'the 40th note is shown');
    assert.ok(!text.includes('note 40'), 'the 41st is not');
    assert.match(text, /\n {2}… 1 more$/);
  });

  it('shows every line of a failed check (one per node), a passed one by its first line only', () => {
    const nodeLines = Array.from({ length: 14 }, (_, index) => `n${index + 1}: Follower applied ${index} ${'x'.repeat(200)}`);
    const text = summaryText({
      ...summary,
      finalChecks: [
        { name: 'converged', passed: false, detail: ['timed out', ...nodeLines].join('\n') },
        { name: 'quiet', passed: true, detail: 'first\nsecond' },
      ],
    });
    assert.match(text, /FAIL +converged +timed out\n {10}n1: Follower applied 0 x+\n {10}n2: /);
    assert.ok(text.includes(nodeLines[11] as string), 'a whole line of 200-odd characters');
    assert.ok(!text.includes('n13: '), 'at most 12 lines');
    assert.match(text, / {10}… 2 more lines/);
    assert.match(text, /PASS +quiet +first\n/);
    assert.ok(!text.includes('second'));
  });
});

describe('the report’s pieces', () => {
  it('overallVerdict: any invalid checker or failed check is INVALID; undecided or none is UNKNOWN', () => {
    const base = { ...summary, finalChecks: [] };
    const valid = { valid: true, checker: 'a', anomalies: [], stats: {} } as const;
    assert.equal(overallVerdict({ ...base, verdicts: [valid] }), 'VALID');
    assert.equal(overallVerdict({ ...base, verdicts: [valid, { ...valid, valid: 'unknown' }] }), 'UNKNOWN');
    assert.equal(
      overallVerdict({
        ...base,
        verdicts: [
          { ...valid, valid: 'unknown' },
          { ...valid, valid: false },
        ],
      }),
      'INVALID',
    );
    assert.equal(overallVerdict({ ...base, verdicts: [] }), 'UNKNOWN');
    assert.equal(overallVerdict({ ...base, verdicts: [valid], finalChecks: [{ name: 'x', passed: false, detail: '' }] }), 'INVALID');
  });

  it('an informational verdict is shown, marked, and never decides the run', () => {
    const base = { ...summary, finalChecks: [] };
    const valid = { valid: true, checker: 'reads at linearizable', anomalies: [], stats: {} } as const;
    const reportedOnly = { valid: false, checker: 'reads at none', anomalies: [], stats: {}, informational: true } as const;
    const run = { ...base, verdicts: [valid, reportedOnly] };
    assert.equal(overallVerdict(run), 'VALID');
    assert.equal(overallVerdict({ ...base, verdicts: [reportedOnly] }), 'UNKNOWN');
    assert.match(summaryText(run), /INVALID\s+reads at none \(reported only\)/);
    assert.match(renderReportHtml(run), /reads at none \(reported only\): INVALID/);
  });

  it('escapeHtml escapes markup and replaces control characters but keeps line breaks', () => {
    assert.equal(escapeHtml(`<a href='x'>"&"</a>`), '&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;');
    assert.equal(escapeHtml('a\u0000b\tc\nd\u001be'), 'a\ufffdb\tc\nd\ufffde');
  });

  it('percentile is nearest-rank', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile([], 50), undefined);
  });

  it('failover buckets double from 125 ms and end with an open bucket', () => {
    const buckets = failoverBuckets([10, 130, 130, 999, 60_000]);
    assert.deepEqual(
      buckets.map((bucket) => bucket.count),
      [1, 2, 0, 1, 0, 0, 0, 0, 0, 1],
    );
    assert.equal(buckets[0]?.label, '< 125 ms');
    assert.equal(buckets.at(-1)?.label, '≥ 32 s');
    assert.equal(failoverBuckets([]).length, 5);
  });

  it('thinning keeps every column within its caps and keeps each column’s fastest and slowest', () => {
    const large = syntheticSummary({ seed: 3, operationCount: 50_000, durationMs: 10_000 });
    const geometry = { x: linearScale(0, 10_000, 0, 200), y: logScale(0.1, 10_000, 300, 0), left: 0 };
    const functions = new Map([
      ['read', 0],
      ['write', 1],
      ['cas', 2],
    ]);
    const thinned = thinOperations(large.operations, geometry, functions);
    const columns = Math.ceil(200 / scatterColumnWidthPx) + 1;
    assert.ok(thinned.capped);
    assert.ok(thinned.marks.length <= columns * (3 * okMarksPerColumnMax + 2 * errorMarksPerColumnMax));
    const slowest = large.operations.reduce((best, operation) =>
      operation.completeMs - operation.invokeMs > best.completeMs - best.invokeMs ? operation : best,
    );
    const slowestRow = Math.round(geometry.y(slowest.completeMs - slowest.invokeMs));
    assert.ok(
      thinned.marks.some((mark) => Math.round(mark.y) === slowestRow),
      'the slowest latency is drawn',
    );
  });
});
