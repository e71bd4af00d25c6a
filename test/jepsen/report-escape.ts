/**
 * Text that goes into the report page. Histories carry SQL errors (`near "<": syntax
 * error`, `a & b`) and checker explanations written by people, so every string that
 * reaches the HTML passes through escapeHtml: in element text, in attributes (always
 * double-quoted here) and in SVG <title>s alike.
 */

const htmlEntities: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes the five characters HTML gives meaning to, and replaces control characters
 * (other than tab and line breaks) that HTML forbids, so that a stray byte in an error
 * text cannot break the document.
 */
export function escapeHtml(text: string): string {
  return text
    .replace(/[&<>"']/g, (character) => htmlEntities[character] ?? character)
    .replace(/\p{Cc}/gu, (character) => (character === '\t' || character === '\n' || character === '\r' ? character : '\ufffd'));
}

/** A value as one line of JSON; what cannot be JSON (a cycle, a bigint) as its String(). */
export function formatJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** 0.42 ms, 12 ms, 1.25 s, 65 s, 2 min 5 s: a duration a person reads at a glance. */
export function formatDurationMs(durationMs: number): string {
  if (!Number.isFinite(durationMs)) return String(durationMs);
  const magnitude = Math.abs(durationMs);
  if (magnitude < 10) return `${trimNumber(durationMs, 2)} ms`;
  if (magnitude < 1000) return `${Math.round(durationMs)} ms`;
  if (magnitude < 120_000) return `${trimNumber(durationMs / 1000, 2)} s`;
  const minutes = Math.floor(magnitude / 60_000);
  const seconds = Math.round((magnitude - minutes * 60_000) / 1000);
  return `${durationMs < 0 ? '-' : ''}${minutes} min${seconds === 0 ? '' : ` ${seconds} s`}`;
}

/** 12,345: counts with thousands separators, the same in every locale. */
export function formatCount(count: number): string {
  return Math.round(count)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A number with at most `digits` decimals and no trailing zeros. */
export function trimNumber(value: number, digits: number): string {
  return String(Number(value.toFixed(digits)));
}

/** A percentage of a whole, one decimal: '12.5%' ('0%' of nothing). */
export function formatPercent(part: number, whole: number): string {
  if (whole === 0) return '0%';
  return `${trimNumber((100 * part) / whole, 1)}%`;
}
