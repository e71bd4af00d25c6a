/**
 * A small strict parser of Prometheus' text exposition format (0.0.4), for tests: every
 * line must be a HELP, a TYPE or a sample of the family its TYPE announced; names and
 * label names must be valid; a family's samples come together; a histogram's buckets
 * carry `le`, rise with it, are cumulative, and end with `+Inf` equal to `_count`.
 * Anything else throws with the line number.
 */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly samples: ParsedSample[];
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, lineNumber: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${lineNumber}: bad value ${JSON.stringify(text)}`);
  return Number(text);
}

function parseLabels(text: string, lineNumber: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let position = 0;
  while (position < text.length) {
    const equals = text.indexOf('=', position);
    if (equals < 0) throw new Error(`line ${lineNumber}: label without '='`);
    const name = text.slice(position, equals);
    if (!labelName.test(name)) throw new Error(`line ${lineNumber}: bad label name ${JSON.stringify(name)}`);
    if (Object.hasOwn(labels, name)) throw new Error(`line ${lineNumber}: label ${name} twice`);
    if (text[equals + 1] !== '"') throw new Error(`line ${lineNumber}: label value not quoted`);
    let value = '';
    let index = equals + 2;
    for (;;) {
      const character = text[index];
      if (character === undefined) throw new Error(`line ${lineNumber}: unterminated label value`);
      if (character === '"') break;
      if (character === '\\') {
        const escaped = text[index + 1];
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else throw new Error(`line ${lineNumber}: bad escape`);
        index += 2;
      } else {
        value += character;
        index += 1;
      }
    }
    labels[name] = value;
    position = index + 1;
    if (position < text.length) {
      if (text[position] !== ',') throw new Error(`line ${lineNumber}: expected ',' between labels`);
      position += 1;
    }
  }
  return labels;
}

function parseSample(line: string, lineNumber: number): ParsedSample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
  if (match === null) throw new Error(`line ${lineNumber}: not a sample: ${JSON.stringify(line)}`);
  return { name: match[1] ?? '', labels: parseLabels(match[3] ?? '', lineNumber), value: parseValue(match[4] ?? '', lineNumber) };
}

function sampleBelongs(family: ParsedFamily, name: string): boolean {
  if (family.type !== 'histogram') return name === family.name;
  return [`${family.name}_bucket`, `${family.name}_sum`, `${family.name}_count`].includes(name);
}

export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the text must end with a newline');
  const families = new Map<string, ParsedFamily>();
  let current: ParsedFamily | undefined;
  let pendingHelp: { name: string; help: string } | undefined;
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (help !== null) {
      if (!metricName.test(help[1] ?? '')) throw new Error(`line ${lineNumber}: bad metric name`);
      pendingHelp = { name: help[1] ?? '', help: help[2] ?? '' };
    } else if (type !== null) {
      const name = type[1] ?? '';
      if (!metricName.test(name) || !types.has(type[2] ?? '')) throw new Error(`line ${lineNumber}: bad TYPE line`);
      if (families.has(name)) throw new Error(`line ${lineNumber}: family ${name} announced twice`);
      current = { name, help: pendingHelp?.name === name ? pendingHelp.help : '', type: type[2] as ParsedFamily['type'], samples: [] };
      families.set(name, current);
      pendingHelp = undefined;
    } else {
      const sample = parseSample(line, lineNumber);
      if (current === undefined || !sampleBelongs(current, sample.name)) throw new Error(`line ${lineNumber}: sample ${sample.name} outside its family`);
      current.samples.push(sample);
    }
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** Per label set (without `le`): buckets ascending in `le`, cumulative, `+Inf` last and equal to `_count`; one `_sum`. */
function checkHistogram(family: ParsedFamily): void {
  const series = new Map<string, { buckets: { le: number; value: number }[]; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push({ le: parseValue(le, 0), value: sample.value });
    } else if (sample.name.endsWith('_sum')) entry.sum = sample.value;
    else entry.count = sample.value;
  }
  for (const [key, entry] of series) {
    const where = `${family.name} ${key}`;
    if (entry.count === undefined || entry.sum === undefined) throw new Error(`${where}: _sum or _count missing`);
    const last = entry.buckets[entry.buckets.length - 1];
    if (last === undefined || last.le !== Infinity) throw new Error(`${where}: the last bucket must be le="+Inf"`);
    if (last.value !== entry.count) throw new Error(`${where}: +Inf bucket ${last.value} differs from _count ${entry.count}`);
    for (let index = 1; index < entry.buckets.length; index++) {
      const before = entry.buckets[index - 1];
      const bucket = entry.buckets[index];
      if (before === undefined || bucket === undefined) continue;
      if (!(bucket.le > before.le)) throw new Error(`${where}: le must rise`);
      if (bucket.value < before.value) throw new Error(`${where}: buckets must be cumulative`);
    }
  }
}
