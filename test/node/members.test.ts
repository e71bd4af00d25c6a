import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemberBook, contextBytesMax, decodeMemberContext, encodeMemberContext, membersFileName, readMemberRecord } from '../../src/node/members.js';
import type { NodeFiles } from '../../src/node/ports.js';

test('member context round-trips; at contextBytesMax it encodes, one byte over it is refused', () => {
  const addresses = { raftAddress: '127.0.0.1:4002', apiAddress: '127.0.0.1:4001' };
  assert.deepEqual(decodeMemberContext(encodeMemberContext(addresses)), addresses);
  const overhead = encodeMemberContext({ raftAddress: '', apiAddress: '' }).byteLength;
  const atBound = { raftAddress: 'r'.repeat(contextBytesMax - overhead), apiAddress: '' };
  assert.equal(encodeMemberContext(atBound).byteLength, contextBytesMax);
  assert.throws(() => encodeMemberContext({ ...atBound, apiAddress: 'a' }), /exceeds 4096 bytes/);
});

test('malformed contexts and records decode to nothing rather than throwing', () => {
  assert.equal(decodeMemberContext(new Uint8Array(0)), undefined);
  assert.equal(decodeMemberContext(new TextEncoder().encode('{not json')), undefined);
  assert.equal(decodeMemberContext(new TextEncoder().encode('{"raftAddress":1}')), undefined);
  assert.equal(decodeMemberContext(new Uint8Array([0xff, 0xfe])), undefined);
  assert.deepEqual(readMemberRecord(null), {});
  assert.deepEqual(readMemberRecord({ good: { raftAddress: 'a:1', apiAddress: 'b:2' }, bad: { raftAddress: 3 } }), {
    good: { raftAddress: 'a:1', apiAddress: 'b:2' },
  });
});

test('the member book persists atomically and loads back; a damaged file is a clear error', () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-members-'));
  try {
    const book = new MemberBook(directory);
    book.load();
    assert.deepEqual(book.entries(), []);
    assert.equal(book.set('n1', { raftAddress: 'h:1', apiAddress: 'h:2' }), true);
    assert.equal(book.set('n1', { raftAddress: 'h:1', apiAddress: 'h:2' }), false, 'no change, no write');
    book.persist();
    const loaded = new MemberBook(directory);
    loaded.load();
    assert.deepEqual(loaded.toRecord(), { n1: { raftAddress: 'h:1', apiAddress: 'h:2' } });
    assert.equal(loaded.findByRaftAddress('h:1'), 'n1');
    assert.deepEqual(JSON.parse(readFileSync(join(directory, membersFileName), 'utf8')), loaded.toRecord());
    writeFileSync(join(directory, membersFileName), '{"n1": {"raftAddress": 5}}');
    assert.throws(() => new MemberBook(directory).load(), /bad entry for n1/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('the member book reads and writes only through the NodeFiles port it is given', () => {
  const files = new Map<string, string>();
  const port: NodeFiles = {
    rename: () => Promise.reject(new Error('not used')),
    remove: () => Promise.reject(new Error('not used')),
    readTextIfPresent: (path) => files.get(path),
    writeTextDurably: (path, text) => {
      files.set(path, text);
    },
  };
  const directory = join(tmpdir(), 'quorumlite-members-never-created');
  const book = new MemberBook(directory, port);
  book.load();
  book.set('n1', { raftAddress: 'h:1', apiAddress: 'h:2' });
  book.persist();
  assert.deepEqual([...files.keys()], [join(directory, membersFileName)]);
  const loaded = new MemberBook(directory, port);
  loaded.load();
  assert.deepEqual(loaded.toRecord(), { n1: { raftAddress: 'h:1', apiAddress: 'h:2' } });
  const failing: NodeFiles = {
    ...port,
    readTextIfPresent: () => {
      throw new Error('EIO');
    },
  };
  assert.throws(() => new MemberBook(directory, failing).load(), /cannot read: Error: EIO/);
});
