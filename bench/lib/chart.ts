/**
 * A plain SVG bar chart of the comparison: one panel per charted metric, one bar and one
 * colour per system, a labelled y axis (unit, ticks from 0) and the value over each bar.
 * A system without a number shows "missing" / "failed" / "n/a" in place of its bar.
 */
import { formatNumber, metrics, type Metric, type RunReport, type SystemName, type SystemReport } from './report.js';

export const systemColours: Readonly<Record<SystemName, string>> = {
  quorumlite: '#1f6fb4',
  'quorumlite-etcd': '#7a4fb4',
  etcd: '#e8772e',
  dqlite: '#3a9a3a',
  sqlite: '#8a8a8a',
  'http-floor': '#b0a030',
};

const panelWidth = 380;
const panelHeight = 250;
const columnCount = 3;
const plotLeft = 70;
const plotRight = 20;
const plotTop = 48;
const plotBottom = 40;
const headerHeight = 70;
const tickCount = 4;

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** A round axis maximum at or above `value` (1, 2, 2.5 or 5 × 10^n). */
export function niceMaximum(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((candidate) => candidate * magnitude >= value) ?? 10;
  return step * magnitude;
}

/** Share of the largest value above which the second largest would be an unreadable sliver. */
export const offScaleFactor = 10;

/**
 * The axis maximum: a round number above the largest value, unless the largest is more
 * than offScaleFactor times the next (in-process SQLite reads): then the axis fits the
 * others and the tallest bar is drawn to the top, marked off scale.
 */
export function axisMaximumFor(values: readonly number[]): number {
  const sorted = values.filter((value) => value > 0).sort((left, right) => right - left);
  const largest = sorted[0] ?? 0;
  const second = sorted[1];
  if (second !== undefined && largest > second * offScaleFactor) return niceMaximum(second * 1.2);
  return niceMaximum(largest);
}

function panel(metric: Metric, systems: readonly SystemReport[], originX: number, originY: number): string {
  const plotWidth = panelWidth - plotLeft - plotRight;
  const plotHeight = panelHeight - plotTop - plotBottom;
  const values = systems.map((system) => (system.status === 'ok' ? metric.value(system) : system.status));
  const numbers = values.filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
  const axisMaximum = axisMaximumFor(numbers);
  const baseY = originY + plotTop + plotHeight;
  const parts: string[] = [];
  const title = metric.chartTitle ?? metric.key;
  parts.push(`<text x="${originX + panelWidth / 2}" y="${originY + 20}" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>`);
  const direction = `${metric.unit}, ${metric.higherIsBetter ? 'higher' : 'lower'} is better`;
  parts.push(`<text x="${originX + panelWidth / 2}" y="${originY + 36}" text-anchor="middle" font-size="11" fill="#555">${direction}</text>`);
  for (let tick = 0; tick <= tickCount; tick += 1) {
    const tickValue = (axisMaximum * tick) / tickCount;
    const y = baseY - (plotHeight * tick) / tickCount;
    parts.push(`<line x1="${originX + plotLeft}" y1="${y}" x2="${originX + plotLeft + plotWidth}" y2="${y}" stroke="#ddd"/>`);
    const tickText = tick === 0 ? '0' : formatNumber(tickValue, metric.unit);
    parts.push(`<text x="${originX + plotLeft - 6}" y="${y + 4}" text-anchor="end" font-size="10">${escapeXml(tickText)}</text>`);
  }
  parts.push(
    `<text transform="translate(${originX + 14} ${originY + plotTop + plotHeight / 2}) rotate(-90)" text-anchor="middle" font-size="11">${metric.unit}</text>`,
  );
  parts.push(`<line x1="${originX + plotLeft}" y1="${originY + plotTop}" x2="${originX + plotLeft}" y2="${baseY}" stroke="#333"/>`);
  parts.push(`<line x1="${originX + plotLeft}" y1="${baseY}" x2="${originX + plotLeft + plotWidth}" y2="${baseY}" stroke="#333"/>`);
  const slotWidth = plotWidth / Math.max(1, systems.length);
  const barWidth = Math.min(60, slotWidth * 0.6);
  systems.forEach((system, position) => {
    const centreX = originX + plotLeft + slotWidth * (position + 0.5);
    const value = values[position];
    parts.push(`<text x="${centreX}" y="${baseY + 16}" text-anchor="middle" font-size="11">${system.name}</text>`);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      const text = typeof value === 'number' ? 'n/a' : (value ?? 'n/a');
      parts.push(`<text x="${centreX}" y="${baseY - 6}" text-anchor="middle" font-size="10" fill="#999">${escapeXml(text)}</text>`);
      return;
    }
    const offScale = value > axisMaximum;
    const barHeight = (plotHeight * Math.min(value, axisMaximum)) / axisMaximum;
    parts.push(`<rect x="${centreX - barWidth / 2}" y="${baseY - barHeight}" width="${barWidth}" height="${barHeight}" fill="${systemColours[system.name]}"/>`);
    // an off-scale bar reaches the top; its label says so with an arrow
    const valueText = `${offScale ? '↑ ' : ''}${formatNumber(value, metric.unit)}`;
    parts.push(`<text x="${centreX}" y="${baseY - barHeight - 4}" text-anchor="middle" font-size="10">${escapeXml(valueText)}</text>`);
  });
  return parts.join('\n');
}

export function renderSvg(report: RunReport): string {
  const charted = metrics.filter((metric) => metric.chartTitle !== undefined);
  const rowCount = Math.ceil(charted.length / columnCount);
  const width = panelWidth * columnCount;
  const height = headerHeight + panelHeight * rowCount;
  const legend = report.systems.map((system, position) => {
    const swatch = `<rect x="${20 + position * 150}" y="40" width="14" height="14" fill="${systemColours[system.name]}"/>`;
    const label = `${system.name}${system.status === 'ok' ? '' : ` (${system.status})`}`;
    return `${swatch}<text x="${40 + position * 150}" y="52" font-size="12">${label}</text>`;
  });
  const panels = charted.map((metric, position) =>
    panel(metric, report.systems, (position % columnCount) * panelWidth, headerHeight + Math.floor(position / columnCount) * panelHeight),
  );
  const title = `quorumlite vs peers: 3-node clusters on loopback, durable commits (${report.mode} run, ${report.startedAt})`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="20" y="24" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    ...legend,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}
