/**
 * The small vocabulary the report's charts are drawn with: scales, tick choice, the
 * colours of outcomes and nemesis kinds, and marker shapes as path data (so that many
 * markers of one series can share a single <path> element).
 */
import type { NemesisKind, Outcome } from './history.js';
import { escapeHtml, formatDurationMs, trimNumber } from './report-escape.js';

export const outcomeColors: Readonly<Record<Outcome, string>> = { ok: '#2e9e5b', fail: '#d64545', info: '#e0a21b' };

export const nemesisColors: Readonly<Record<NemesisKind, string>> = {
  kill: '#7b3fa0',
  pause: '#2f6fb3',
  partition: '#c2185b',
  clock: '#00897b',
  disk: '#5d6d7e',
  membership: '#8d6e63',
  etcd: '#e8772e',
  'etcd-partition': '#1f8a9e',
};

export type Scale = (value: number) => number;

export function linearScale(domainLow: number, domainHigh: number, rangeLow: number, rangeHigh: number): Scale {
  const span = domainHigh - domainLow || 1;
  return (value) => rangeLow + ((value - domainLow) / span) * (rangeHigh - rangeLow);
}

/** A log10 scale; values at or under the domain's low end sit on it. */
export function logScale(domainLow: number, domainHigh: number, rangeLow: number, rangeHigh: number): Scale {
  const low = Math.log10(domainLow);
  const linear = linearScale(low, Math.log10(domainHigh), rangeLow, rangeHigh);
  return (value) => linear(Math.log10(Math.max(domainLow, value)));
}

/** Round tick values (1, 2 or 5 times a power of ten apart) covering [0, high], about `countTarget` of them. */
export function niceTicks(high: number, countTarget: number): number[] {
  if (!(high > 0)) return [0];
  const rough = high / Math.max(1, countTarget);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((candidate) => candidate >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let tick = 0; tick <= high + step * 1e-9; tick += step) ticks.push(Number(tick.toPrecision(12)));
  return ticks;
}

/** Powers of ten from `low` to `high` (both powers of ten themselves). */
export function decadeTicks(low: number, high: number): number[] {
  const ticks: number[] = [];
  for (let exponent = Math.round(Math.log10(low)); exponent <= Math.round(Math.log10(high)); exponent++) ticks.push(10 ** exponent);
  return ticks;
}

/** The latency axis: whole decades around what was measured, floored at 0.1 ms. */
export function latencyDomain(latenciesMs: readonly number[]): { lowMs: number; highMs: number } {
  let minimumMs = Number.POSITIVE_INFINITY;
  let maximumMs = 0;
  for (const latencyMs of latenciesMs) {
    minimumMs = Math.min(minimumMs, latencyMs);
    maximumMs = Math.max(maximumMs, latencyMs);
  }
  const lowMs = 10 ** Math.floor(Math.log10(Math.max(0.1, Number.isFinite(minimumMs) ? minimumMs : 1)));
  const highMs = Math.max(lowMs * 10, 10 ** Math.ceil(Math.log10(Math.max(0.1, maximumMs))));
  return { lowMs, highMs };
}

/** A seconds label for the time axis: '0 s', '15 s', '2.5 s'. */
export function secondsLabel(timeMs: number): string {
  return `${trimNumber(timeMs / 1000, 2)} s`;
}

export function latencyLabel(latencyMs: number): string {
  return formatDurationMs(latencyMs);
}

export type ShapeName = 'circle' | 'square' | 'triangle' | 'diamond' | 'triangle-down' | 'cross';
export const shapeNames: readonly ShapeName[] = ['circle', 'square', 'triangle', 'diamond', 'triangle-down', 'cross'];

/** Path data for one marker of `size` (about its diameter) centred on (x, y). */
export function shapePath(shape: ShapeName, x: number, y: number, size: number): string {
  const half = round1(size / 2);
  const cx = round1(x);
  const cy = round1(y);
  switch (shape) {
    case 'circle':
      return `M${round1(cx - half)} ${cy}a${half} ${half} 0 1 0 ${2 * half} 0a${half} ${half} 0 1 0 ${-2 * half} 0z`;
    case 'square':
      return `M${round1(cx - half)} ${round1(cy - half)}h${2 * half}v${2 * half}h${-2 * half}z`;
    case 'triangle':
      return `M${cx} ${round1(cy - half * 1.2)}l${half * 1.1} ${round1(half * 2)}h${round1(-half * 2.2)}z`;
    case 'triangle-down':
      return `M${cx} ${round1(cy + half * 1.2)}l${half * 1.1} ${round1(-half * 2)}h${round1(-half * 2.2)}z`;
    case 'diamond': {
      const reach = round1(half * 1.3);
      return `M${cx} ${round1(cy - reach)}l${reach} ${reach}l${-reach} ${reach}l${-reach} ${-reach}z`;
    }
    case 'cross':
      return `M${round1(cx - half)} ${round1(cy - half)}l${2 * half} ${2 * half}m0 ${-2 * half}l${-2 * half} ${2 * half}`;
    default:
      return shape satisfies never;
  }
}

/** One decimal is a tenth of a pixel: finer is invisible and only makes the file larger. */
export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** A <text> element with escaped content; `attributes` are already-safe name="value" pairs. */
export function svgText(x: number, y: number, text: string, attributes = ''): string {
  return `<text x="${round1(x)}" y="${round1(y)}"${attributes === '' ? '' : ` ${attributes}`}>${escapeHtml(text)}</text>`;
}

/** A <title> child: the browser shows it on hover, with no script. */
export function svgTitle(text: string): string {
  return `<title>${escapeHtml(text)}</title>`;
}
