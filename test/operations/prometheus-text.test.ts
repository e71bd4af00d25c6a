/** The strict parser itself: it must refuse what a scrape must never contain, or the scrape test proves nothing. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePrometheusText } from './prometheus-text.js';

const histogram = (bucketOne: number, bucketInfinity: number, count: number): string =>
  [
    '# HELP h_seconds A histogram.',
    '# TYPE h_seconds histogram',
    `h_seconds_bucket{route="/a",le="0.1"} ${bucketOne}`,
    `h_seconds_bucket{route="/a",le="+Inf"} ${bucketInfinity}`,
    'h_seconds_sum{route="/a"} 0.5',
    `h_seconds_count{route="/a"} ${count}`,
    '',
  ].join('\n');

describe('parsePrometheusText', () => {
  it('reads families, labels with escapes, and a consistent histogram', () => {
    const text = `# HELP c_total A counter.\n# TYPE c_total counter\nc_total{path="a\\"b\\\\c"} 3\n${histogram(1, 2, 2)}`;
    const families = parsePrometheusText(text);
    assert.deepEqual(families.get('c_total')?.samples, [{ name: 'c_total', labels: { path: 'a"b\\c' }, value: 3 }]);
    assert.equal(families.get('h_seconds')?.samples.length, 4);
  });

  it('refuses buckets that are not cumulative, a +Inf bucket unequal to _count, and strays', () => {
    assert.throws(() => parsePrometheusText(histogram(3, 2, 2)), /cumulative/);
    assert.throws(() => parsePrometheusText(histogram(1, 2, 3)), /differs from _count/);
    assert.throws(() => parsePrometheusText('x 1\n'), /outside its family/);
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx{a=1} 1\n'), /not quoted/);
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx one\n'), /bad value/);
    assert.throws(() => parsePrometheusText('# TYPE x counter\nx 1'), /newline/);
  });
});
