/** The client's node list bound: nodesMax seeds, learned nodes and `/nodes` entries. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterView, nodesMax, parseNodes } from '../../src/client/cluster-view.js';
import { QuorumliteError } from '../../src/client/errors.js';

const nodeUrl = (index: number): string => `http://127.0.0.1:${10_000 + index}`;
const urls = (count: number): string[] => Array.from({ length: count }, (_, index) => nodeUrl(index));

describe('nodesMax', () => {
  it('accepts exactly nodesMax seed URLs and refuses one more', () => {
    assert.equal(new ClusterView(urls(nodesMax)).nodes.length, nodesMax);
    assert.throws(
      () => new ClusterView(urls(nodesMax + 1)),
      (error: unknown) => error instanceof QuorumliteError && error.code === 'INVALID_ARGUMENT',
    );
  });

  it('learns nodes up to nodesMax and ignores the ones past it', () => {
    const view = new ClusterView(urls(nodesMax - 1));
    view.addNode(nodeUrl(nodesMax - 1));
    assert.equal(view.nodes.length, nodesMax);
    view.addNode(nodeUrl(nodesMax));
    assert.equal(view.nodes.length, nodesMax);
    assert.ok(!view.nodes.includes(nodeUrl(nodesMax)));
  });

  it('reads at most nodesMax entries from a /nodes answer', () => {
    const entries = urls(nodesMax + 1).map((url, index) => ({ id: `n${index}`, api_addr: url, voter: true }));
    const exact = parseNodes({ nodes: entries.slice(0, nodesMax) }, nodeUrl(0));
    assert.equal(exact.length, nodesMax);
    const over = parseNodes({ nodes: entries }, nodeUrl(0));
    assert.equal(over.length, nodesMax);
    assert.deepEqual(
      over.map((node) => node.id),
      exact.map((node) => node.id),
    );
  });
});
