import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  confChangeContextBytesMax,
  nodeIdBytesMax,
  RaftError,
  applyConfChange,
  confChangeProblem,
  decodeConfChange,
  encodeConfChange,
} from '../../src/raft/index.js';
import type { ConfChange, ConfState } from '../../src/raft/index.js';
import { encoder } from './helpers.js';

const change: ConfChange = { type: 'add-learner', nodeId: 'node-4', context: encoder.encode('{"raft":"127.0.0.4:4002"}') };

test('conf change: encode/decode round trip for every type', () => {
  for (const type of ['add-voter', 'add-learner', 'remove-node'] as const) {
    const decoded = decodeConfChange(encodeConfChange({ ...change, type }));
    assert.equal(decoded.type, type);
    assert.equal(decoded.nodeId, 'node-4');
    assert.deepEqual(decoded.context, change.context);
  }
  const empty = decodeConfChange(encodeConfChange({ type: 'remove-node', nodeId: 'é', context: new Uint8Array(0) }));
  assert.equal(empty.nodeId, 'é');
  assert.equal(empty.context.length, 0);
});

test('conf change: the encoding is versioned and stable', () => {
  const bytes = encodeConfChange({ type: 'add-voter', nodeId: 'ab', context: new Uint8Array([7]) });
  assert.deepEqual([...bytes], [1, 1, 0, 2, 97, 98, 0, 0, 0, 1, 7]);
});

test('conf change: malformed bytes are refused with a clear error', () => {
  const good = encodeConfChange(change);
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', good.subarray(0, 5), /too short/],
    ['bad version', Uint8Array.from([9, ...good.subarray(1)]), /unsupported version 9/],
    ['bad type', Uint8Array.from([1, 7, ...good.subarray(2)]), /unknown type code 7/],
    ['truncated', good.subarray(0, good.length - 1), /does not match/],
    ['trailing bytes', Uint8Array.from([...good, 0]), /does not match/],
    ['invalid utf-8 id', Uint8Array.from([1, 1, 0, 1, 0xff, 0, 0, 0, 0]), /not UTF-8/],
    ['empty id', Uint8Array.from([1, 1, 0, 0, 0, 0, 0, 0]), /node id length 0/],
  ];
  for (const [name, bytes, message] of cases) {
    assert.throws(
      () => decodeConfChange(bytes),
      (error: unknown) => error instanceof RaftError && error.code === 'INVALID_ARGUMENT' && message.test(error.message),
      name,
    );
  }
});

test('conf change: bounds on id and context, at the bound and one past', () => {
  const idAtBound = 'x'.repeat(nodeIdBytesMax);
  assert.equal(decodeConfChange(encodeConfChange({ ...change, nodeId: idAtBound })).nodeId, idAtBound);
  assert.throws(() => encodeConfChange({ ...change, nodeId: `${idAtBound}x` }), /node id must be 1..1024 bytes/);
  assert.throws(() => encodeConfChange({ ...change, nodeId: '' }), /node id must be/);
  const contextAtBound = new Uint8Array(confChangeContextBytesMax);
  assert.equal(decodeConfChange(encodeConfChange({ ...change, context: contextAtBound })).context.length, confChangeContextBytesMax);
  assert.throws(() => encodeConfChange({ ...change, context: new Uint8Array(confChangeContextBytesMax + 1) }), /context exceeds/);
});

test('conf change: applying changes to a membership', () => {
  let conf: ConfState = { voters: ['1', '2', '3'], learners: [] };
  conf = applyConfChange(conf, { type: 'add-learner', nodeId: '4', context: new Uint8Array(0) });
  assert.deepEqual(conf, { voters: ['1', '2', '3'], learners: ['4'] });
  conf = applyConfChange(conf, { type: 'add-voter', nodeId: '4', context: new Uint8Array(0) });
  assert.deepEqual(conf, { voters: ['1', '2', '3', '4'], learners: [] }, 'add-voter of a learner promotes it');
  conf = applyConfChange(conf, { type: 'remove-node', nodeId: '1', context: new Uint8Array(0) });
  assert.deepEqual(conf, { voters: ['2', '3', '4'], learners: [] });
  conf = applyConfChange(conf, { type: 'add-voter', nodeId: '10', context: new Uint8Array(0) });
  assert.deepEqual(conf.voters, ['2', '3', '4', '10'], 'numeric ids sort numerically');
});

test('conf change: problems a leader refuses', () => {
  const conf = { voters: ['1', '2'], learners: ['3'] };
  const problem = (type: ConfChange['type'], nodeId: string) => confChangeProblem(conf, { type, nodeId, context: new Uint8Array(0) });
  assert.match(problem('add-voter', '1') ?? '', /already a voter/);
  assert.equal(problem('add-voter', '3'), undefined, 'promotion');
  assert.equal(problem('add-voter', '9'), undefined);
  assert.match(problem('add-learner', '3') ?? '', /already a learner/);
  assert.match(problem('add-learner', '1') ?? '', /demotion is not supported/);
  assert.match(problem('remove-node', '9') ?? '', /not a member/);
  assert.equal(problem('remove-node', '3'), undefined);
  assert.match(confChangeProblem({ voters: ['1'], learners: [] }, { type: 'remove-node', nodeId: '1', context: new Uint8Array(0) }) ?? '', /last voter/);
});

test('conf change: re-adding a member in its own role with a context re-states the context and changes no membership', () => {
  const conf = { voters: ['1', '2'], learners: ['3'] };
  const context = new TextEncoder().encode('{"raftAddress":"10.0.0.9:4002","apiAddress":"10.0.0.9:4001"}');
  assert.equal(confChangeProblem(conf, { type: 'add-voter', nodeId: '1', context }), undefined, 'a voter that moved');
  assert.equal(confChangeProblem(conf, { type: 'add-learner', nodeId: '3', context }), undefined, 'a learner that moved');
  assert.match(confChangeProblem(conf, { type: 'add-learner', nodeId: '1', context }) ?? '', /demotion is not supported/);
  assert.deepEqual(applyConfChange(conf, { type: 'add-voter', nodeId: '1', context }), conf);
  assert.deepEqual(applyConfChange(conf, { type: 'add-learner', nodeId: '3', context }), conf);
});
