/**
 * EtcdPacketFilter on a real 3-member etcd cluster whose members run under group ids of
 * their own: a member cut from the other two commits nothing (a write through it times
 * out, a serializable read through it stays stale) while the other two go on; healing
 * brings every member to the same value; a process
 * cut from one member cannot reach it and still reaches the others; the test process
 * itself (no mark) reaches everyone; close() leaves no chain or jump behind. Needs root and iptables.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { iptables, iptablesUnavailableReason } from '../cluster/packet-filter.js';
import { waitFor } from '../cluster/harness.js';
import { EtcdCluster } from '../etcd/etcd-cluster.js';
import { EtcdPacketFilter, groupIdForBit } from './etcd-packet-filter.js';
import { etcdMemberBit } from './nemesis/etcd-partition.js';

const clientBit = 5;
const requestTimeoutMs = 3_000;

function base64(text: string): string {
  return Buffer.from(text).toString('base64');
}

/** A put through etcd's JSON gateway; 'timeout' when no answer came in time. */
async function put(endpoint: string, key: string, value: string): Promise<'ok' | 'timeout' | string> {
  try {
    const response = await fetch(`${endpoint}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: base64(key), value: base64(value) }),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    return response.status === 200 ? 'ok' : `status ${response.status}: ${await response.text()}`;
  } catch (error) {
    return (error as Error).name === 'TimeoutError' ? 'timeout' : String(error);
  }
}

/** The member's own (serializable) view of `key`. */
async function localValue(endpoint: string, key: string): Promise<string | undefined> {
  const response = await fetch(`${endpoint}/v3/kv/range`, {
    method: 'POST',
    body: JSON.stringify({ key: base64(key), serializable: true }),
    signal: AbortSignal.timeout(requestTimeoutMs),
  });
  const body = (await response.json()) as { kvs?: { value: string }[] };
  const value = body.kvs?.[0]?.value;
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString();
}

/** A put from a separate process running under `groupId` (as a quorumlite node does). */
function putFromProcess(groupId: number, endpoint: string): Promise<string> {
  const request = `{ method: 'POST', body: JSON.stringify({ key: 'Zg==', value: 'Zg==' }), signal: AbortSignal.timeout(${requestTimeoutMs}) }`;
  const script = `fetch(process.argv[1] + '/v3/kv/put', ${request})
    .then((r) => console.log(r.status === 200 ? 'ok' : 'status ' + r.status), (e) => console.log(e.name === 'TimeoutError' ? 'timeout' : String(e)))`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, endpoint], { gid: groupId, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', () => resolve(output.trim()));
  });
}

const unavailable = process.getuid?.() !== 0 ? 'needs root (group ids per process)' : iptablesUnavailableReason();

describe('EtcdPacketFilter', { skip: unavailable }, () => {
  let etcd: EtcdCluster;
  let filter: EtcdPacketFilter;

  before(async () => {
    etcd = await EtcdCluster.start({ size: 3, memberGroupIds: [0, 1, 2].map((index) => groupIdForBit(etcdMemberBit(index))) });
    const processes = [0, 1, 2, clientBit].map((bit) => ({ bit, groupId: groupIdForBit(bit) }));
    filter = EtcdPacketFilter.open(
      etcd.members.map((member) => member.host),
      processes,
    );
  });

  after(async () => {
    filter?.close();
    await etcd?.close();
  });

  test('every rule names an etcd member address and port, never 127.0.0.1', () => {
    const [lone, other] = etcd.members;
    assert.ok(lone !== undefined && other !== undefined);
    filter.cut(etcdMemberBit(1), { host: lone.host, port: lone.peerPort });
    const rules = filter.rules();
    assert.equal(rules.length, 2);
    for (const rule of rules) {
      assert.match(rule, /(-d|-s) 127\.0\.2\.\d+\/32 -p tcp -m tcp --(dport|sport) \d+ -m connmark --mark 0x\w+\/0x\w+ -j DROP/);
      assert.doesNotMatch(rule, /127\.0\.0\./);
    }
    filter.heal();
    assert.deepEqual(filter.rules(), []);
    assert.throws(() => filter.cut(0, { host: '127.0.0.1', port: other.clientPort }), /not an etcd test address/);
  });

  test('a member cut from the other two commits nothing; the majority goes on; healing catches it up', async () => {
    const lone = 0;
    const rest = [1, 2];
    const loneMember = etcd.members[lone];
    assert.ok(loneMember !== undefined);
    assert.equal(await put(etcd.endpoint(lone), 'k', 'before'), 'ok');
    await waitFor('the lone member has the first value', async () => ((await localValue(etcd.endpoint(lone), 'k')) === 'before' ? true : undefined));
    try {
      for (const index of rest) {
        const other = etcd.members[index];
        assert.ok(other !== undefined);
        filter.cut(etcdMemberBit(lone), { host: other.host, port: other.peerPort });
        filter.cut(etcdMemberBit(index), { host: loneMember.host, port: loneMember.peerPort });
      }
      // The lone member may have led: the majority first elects a leader (a put meanwhile may hang).
      await waitFor('the majority to commit a write', async () => ((await put(etcd.endpoint(1), 'k', 'during')) === 'ok' ? true : undefined), 30_000);
      assert.notEqual(await put(etcd.endpoint(lone), 'k', 'lost'), 'ok', 'the lone member cannot commit');
      assert.equal(await localValue(etcd.endpoint(lone), 'k'), 'before', 'the lone member never saw the majority write');
      assert.ok(filter.droppedPacketCount() > 0, 'the rules dropped packets');
    } finally {
      filter.heal();
    }
    // The write through the lone member timed out for its client but may still commit once
    // healed (etcd keeps the proposal): either value, the same on every member.
    await waitFor(
      'the lone member catches up with the others',
      async () => {
        const values = await Promise.all([0, 1, 2].map((index) => localValue(etcd.endpoint(index), 'k')));
        return values.every((value) => value === values[0]) && ['during', 'lost'].includes(values[0] ?? '') ? true : undefined;
      },
      30_000,
    );
  });

  test('a process cut from one member reaches the others; an unmarked process reaches all', async () => {
    const cutMember = etcd.members[2];
    assert.ok(cutMember !== undefined);
    filter.cut(clientBit, { host: cutMember.host, port: cutMember.clientPort });
    try {
      assert.equal(await putFromProcess(groupIdForBit(clientBit), etcd.endpoint(2)), 'timeout');
      assert.equal(await putFromProcess(groupIdForBit(clientBit), etcd.endpoint(0)), 'ok');
      assert.equal(await put(etcd.endpoint(2), 'k', 'unmarked'), 'ok');
    } finally {
      filter.heal();
    }
    assert.equal(await putFromProcess(groupIdForBit(clientBit), etcd.endpoint(2)), 'ok');
  });

  test('close() removes both chains and their jumps', () => {
    filter.close();
    const listing = iptables(['-S']).stdout;
    assert.doesNotMatch(listing, new RegExp(`QLITE_E(PART|MARK)_${process.pid}\\b`));
  });
});
