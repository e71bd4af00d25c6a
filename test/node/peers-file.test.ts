import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeersFileError, parsePeersFile, peersFilePath, peersInfoFileName, readPeersFile, retirePeersFile } from '../../src/node/peers-file.js';

const self = { id: 'n1', raftAddress: '127.0.0.1:4002' };
const path = 'data/raft/peers.json';

function refused(text: string, pattern: RegExp): void {
  assert.throws(
    () => parsePeersFile(text, self, path),
    (error: unknown) => {
      assert.ok(error instanceof PeersFileError, `expected PeersFileError, got ${String(error)}`);
      assert.match(error.message, pattern);
      assert.match(error.message, /^data\/raft\/peers\.json: .*nothing was changed\)$/);
      return true;
    },
  );
}

test("rqlite's example file: ids, addresses (hostnames too), non_voter defaulting to false, unknown keys ignored", () => {
  const peers = parsePeersFile(
    JSON.stringify([
      { id: 'n1', address: '127.0.0.1:4002', non_voter: false },
      { id: 'n2', address: 'db2.example:4002' },
      { id: 'n3', address: '[::1]:4002', non_voter: true, suffrage: 'ignored' },
    ]),
    self,
    path,
  );
  assert.deepEqual(peers, [
    { id: 'n1', address: '127.0.0.1:4002', nonVoter: false },
    { id: 'n2', address: 'db2.example:4002', nonVoter: false },
    { id: 'n3', address: '[::1]:4002', nonVoter: true },
  ]);
});

test('every malformed file is refused with what is wrong', () => {
  const one = { id: 'n1', address: '127.0.0.1:4002' };
  refused('{', /not JSON/);
  refused('', /not JSON/);
  refused('{"id":"n1"}', /must be a JSON array/);
  refused('null', /must be a JSON array/);
  refused('[]', /lists no nodes/);
  refused(JSON.stringify([one, 7]), /entry 1 is not an object/);
  refused(JSON.stringify([one, []]), /entry 1 is not an object/);
  refused(JSON.stringify([{ address: '127.0.0.1:1' }]), /entry 0: "id" must be a non-empty string/);
  refused(JSON.stringify([{ id: '', address: '127.0.0.1:1' }]), /"id" must be a non-empty string/);
  refused(JSON.stringify([{ id: 'x'.repeat(1025), address: '127.0.0.1:1' }]), /longer than 1024 bytes/);
  for (const address of [undefined, 4002, 'host', 'host:0', 'host:65536', ':4002', 'a b:1', `${'h'.repeat(300)}:1`]) {
    refused(JSON.stringify([{ id: 'n1', address }]), /"address" must be a "host:port" string/);
  }
  refused(JSON.stringify([{ ...one, non_voter: 'false' }]), /"non_voter" must be true or false/);
  refused(JSON.stringify([{ id: 'n2', address: '127.0.0.1:1' }]), /does not list this node \(id "n1"\)/);
  refused(JSON.stringify([one, { id: 'n1', address: '127.0.0.1:1' }]), /node id "n1" is listed twice/);
  refused(JSON.stringify([one, { id: 'n2', address: '127.0.0.1:4002' }]), /address 127.0.0.1:4002 is listed twice/);
  refused(JSON.stringify([{ ...one, non_voter: true }]), /lists no voter/);
  refused(JSON.stringify([{ id: 'n1', address: '127.0.0.1:9' }]), /gives this node \(id "n1"\) the address 127.0.0.1:9, but it advertises 127.0.0.1:4002/);
});

test('readPeersFile: none without the file, bounded size; retirePeersFile renames it to peers.info', () => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-peers-'));
  try {
    assert.equal(readPeersFile(dataDirectory, self), undefined, 'no raft/ directory');
    mkdirSync(join(dataDirectory, 'raft'));
    assert.equal(readPeersFile(dataDirectory, self), undefined);
    writeFileSync(peersFilePath(dataDirectory), ' '.repeat(1024 * 1024 + 1));
    assert.throws(() => readPeersFile(dataDirectory, self), /more than a peers file can be \(1048576\)/);
    const text = JSON.stringify([{ id: 'n1', address: '127.0.0.1:4002' }]);
    writeFileSync(peersFilePath(dataDirectory), text);
    assert.deepEqual(readPeersFile(dataDirectory, self), [{ id: 'n1', address: '127.0.0.1:4002', nonVoter: false }]);
    writeFileSync(join(dataDirectory, 'raft', peersInfoFileName), 'an older record');
    retirePeersFile(dataDirectory);
    assert.ok(!existsSync(peersFilePath(dataDirectory)));
    assert.equal(readFileSync(join(dataDirectory, 'raft', peersInfoFileName), 'utf8'), text);
    assert.equal(readPeersFile(dataDirectory, self), undefined, 'peers.info never triggers a recovery');
  } finally {
    rmSync(dataDirectory, { recursive: true, force: true });
  }
});
