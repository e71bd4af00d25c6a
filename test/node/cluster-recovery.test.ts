/**
 * Lost-quorum recovery over the real store and database (the cluster test in
 * test/cluster/lost-quorum.test.ts runs it end to end): every entry in the log is
 * committed and applied, the new membership lands in a snapshot at the last index, and
 * running the recovery again (a crash before peers.json was retired) changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recoverCluster } from '../../src/node/cluster-recovery.js';
import { silentLogger } from '../../src/node/logger.js';
import { encodeMemberContext } from '../../src/node/members.js';
import { PeersFileError, type RecoveryPeer } from '../../src/node/peers-file.js';
import { encodeConfChange } from '../../src/raft/conf-change.js';
import type { Entry } from '../../src/raft/types.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { entry } from '../state-machine/helpers.js';

const config = { nodeId: 'n1', apiAdvertisedAddress: '127.0.0.1:4001' };

function addVoter(index: number, id: string, port: number): Entry {
  const context = encodeMemberContext({ raftAddress: `127.0.0.1:${port}`, apiAddress: `127.0.0.1:${port - 1}` });
  return { index, term: 1, type: 'conf-change', data: encodeConfChange({ type: 'add-voter', nodeId: id, context }) };
}

/** A three-voter log of 12 entries, committed to 8 as this node knows, applied to 6. */
async function openThreeVoterNode(dataDirectory: string): Promise<{ storage: DurableStorage; stateMachine: SqliteStateMachine }> {
  const storage = await DurableStorage.open(join(dataDirectory, 'raft'));
  const stateMachine = new SqliteStateMachine({ path: join(dataDirectory, 'db.sqlite') });
  const entries: Entry[] = [addVoter(1, 'n1', 4002), addVoter(2, 'n2', 5002), addVoter(3, 'n3', 6002)];
  entries.push({ index: 4, term: 2, type: 'normal', data: entry(['CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT)']) });
  for (let index = 5; index <= 12; index += 1) {
    entries.push({ index, term: 2, type: 'normal', data: entry([`INSERT INTO items(payload) VALUES ('row ${index}')`]) });
  }
  await storage.save({ entries, hardState: { term: 2, vote: 'n1', commit: 8 } });
  for (const item of entries.slice(0, 6)) {
    if (item.type === 'conf-change') stateMachine.applyNoop(item.index);
    else stateMachine.applyBatch([item]);
  }
  return { storage, stateMachine };
}

function rowCount(stateMachine: SqliteStateMachine): unknown {
  const [result] = stateMachine.query([{ sql: 'SELECT count(*) FROM items', positional: [], named: {} }]);
  return result?.kind === 'rows' ? result.rows[0]?.[0] : result;
}

test('recovery commits and applies the whole log, puts the new membership in a snapshot at the last index, and repeats harmlessly', async () => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-recovery-'));
  try {
    let { storage, stateMachine } = await openThreeVoterNode(dataDirectory);
    const parts = () => ({ config: { ...config, dataDirectory }, storage, stateMachine, logger: silentLogger });
    const peers: RecoveryPeer[] = [
      { id: 'n1', address: '127.0.0.1:4002', nonVoter: false },
      { id: 'n3', address: '127.0.0.9:6002', nonVoter: true },
      { id: 'n7', address: '127.0.0.7:7002', nonVoter: true },
    ];
    await recoverCluster(parts(), peers);
    const recovered = { voters: ['n1'], learners: ['n3', 'n7'] };
    const check = (): void => {
      assert.equal(stateMachine.appliedIndex, 12, 'every entry applied, committed or not');
      assert.equal(rowCount(stateMachine), 8);
      assert.deepEqual(storage.initialState().confState, recovered);
      assert.equal(storage.initialState().hardState.commit, 12);
      assert.deepEqual({ first: storage.firstIndex(), last: storage.lastIndex() }, { first: 13, last: 12 }, 'the log starts after the snapshot');
      const snapshot = storage.snapshots.latest();
      assert.deepEqual(snapshot?.metadata, { index: 12, term: 2, confState: recovered });
      assert.deepEqual(snapshot?.context, {
        n1: { raftAddress: '127.0.0.1:4002', apiAddress: '127.0.0.1:4001' },
        n3: { raftAddress: '127.0.0.9:6002', apiAddress: '127.0.0.1:6001' },
        n7: { raftAddress: '127.0.0.7:7002', apiAddress: '' },
      });
      assert.deepEqual(JSON.parse(readFileSync(join(dataDirectory, 'members.json'), 'utf8')), snapshot?.context);
    };
    check();

    // A crash before peers.json was retired: the next start runs the recovery again.
    stateMachine.close();
    await storage.close();
    storage = await DurableStorage.open(join(dataDirectory, 'raft'));
    stateMachine = new SqliteStateMachine({ path: join(dataDirectory, 'db.sqlite') });
    check();
    await recoverCluster(parts(), peers);
    check();

    // A second recovery over a snapshot at the last index rewrites that snapshot's membership.
    await recoverCluster(parts(), [peers[0]!, { id: 'n3', address: '127.0.0.9:6002', nonVoter: false }]);
    assert.deepEqual(storage.initialState().confState, { voters: ['n1', 'n3'], learners: [] });
    assert.deepEqual(storage.snapshots.latest()?.metadata.confState, { voters: ['n1', 'n3'], learners: [] });
    assert.equal(stateMachine.appliedIndex, 12);
    stateMachine.close();
    await storage.close();
  } finally {
    rmSync(dataDirectory, { recursive: true, force: true });
  }
});

/** `target` with `method` failing (as a crash there would stop the recovery) when `fails` says so. */
function failingAt<Target extends object>(target: Target, method: string, fails: (argument: unknown) => boolean): Target {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === method && fails(args[0])) throw new Error(`injected crash in ${method}`);
        return (value as (...parameters: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

test('a recovery stopped at any step completes when the next start runs it again', async () => {
  const always = (): boolean => true;
  const injections: [string, (storage: DurableStorage, stateMachine: SqliteStateMachine) => { storage: unknown; stateMachine: unknown }][] = [
    [
      'storing the commit index',
      (storage, stateMachine) => ({
        storage: failingAt(storage, 'save', (request) => (request as { hardState?: unknown }).hardState !== undefined),
        stateMachine,
      }),
    ],
    ['applying', (storage, stateMachine) => ({ storage, stateMachine: failingAt(stateMachine, 'applyBatch', always) })],
    ['copying the database', (storage, stateMachine) => ({ storage, stateMachine: failingAt(stateMachine, 'snapshot', always) })],
    [
      'storing the snapshot',
      (storage, stateMachine) => {
        const snapshots = failingAt(storage.snapshots, 'begin', always);
        const bound = failingAt(storage, 'none', always);
        return {
          storage: new Proxy(bound, { get: (object, property) => (property === 'snapshots' ? snapshots : Reflect.get(object, property)) }),
          stateMachine,
        };
      },
    ],
    [
      'installing the snapshot',
      (storage, stateMachine) => ({
        storage: failingAt(storage, 'save', (request) => (request as { snapshot?: unknown }).snapshot !== undefined),
        stateMachine,
      }),
    ],
  ];
  const peers: RecoveryPeer[] = [{ id: 'n1', address: '127.0.0.1:4002', nonVoter: false }];
  for (const [step, inject] of injections) {
    const dataDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-recovery-'));
    try {
      let { storage, stateMachine } = await openThreeVoterNode(dataDirectory);
      const broken = inject(storage, stateMachine) as { storage: DurableStorage; stateMachine: SqliteStateMachine };
      await assert.rejects(recoverCluster({ config: { ...config, dataDirectory }, ...broken, logger: silentLogger }, peers), /injected crash/, step);
      stateMachine.close();
      await storage.close();
      storage = await DurableStorage.open(join(dataDirectory, 'raft'));
      stateMachine = new SqliteStateMachine({ path: join(dataDirectory, 'db.sqlite') });
      await recoverCluster({ config: { ...config, dataDirectory }, storage, stateMachine, logger: silentLogger }, peers);
      assert.equal(stateMachine.appliedIndex, 12, step);
      assert.equal(rowCount(stateMachine), 8, step);
      assert.deepEqual(storage.initialState().confState, { voters: ['n1'], learners: [] }, step);
      assert.deepEqual(storage.snapshots.latest()?.metadata, { index: 12, term: 2, confState: { voters: ['n1'], learners: [] } }, step);
      assert.equal(storage.firstIndex(), 13, step);
      stateMachine.close();
      await storage.close();
    } finally {
      rmSync(dataDirectory, { recursive: true, force: true });
    }
  }
});

test('a node without Raft state has nothing to recover', async () => {
  const dataDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-recovery-'));
  const storage = await DurableStorage.open(join(dataDirectory, 'raft'));
  const stateMachine = new SqliteStateMachine({ path: join(dataDirectory, 'db.sqlite') });
  try {
    await assert.rejects(
      recoverCluster({ config: { ...config, dataDirectory }, storage, stateMachine, logger: silentLogger }, [
        { id: 'n1', address: '127.0.0.1:4002', nonVoter: false },
      ]),
      (error: unknown) => error instanceof PeersFileError && /no Raft state to recover/.test(error.message),
    );
    assert.ok(storage.isEmpty());
  } finally {
    stateMachine.close();
    await storage.close();
    rmSync(dataDirectory, { recursive: true, force: true });
  }
});
