/**
 * A node that would apply entries differently (another -fk, other extensions, another
 * SQLite version) is refused before anything changes: when it joins (directly or through
 * a follower), when it notifies for --bootstrap-expect, and when it restarts with other
 * settings than its data was written with (apply-settings.json). Each refusal names the
 * difference, comes at once (no retry rounds), and loses nothing already stored.
 */
import { after, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applySettingsLimits, checkApplySettings, parseApplySettings, type ApplySettings } from '../../src/node/apply-settings.js';
import { silentLogger, type NodeLogger } from '../../src/node/logger.js';
import { discoveredNodeCountMax, rememberRefusal } from '../../src/node/membership.js';
import type { QuorumNode, QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { SettingsFileError, settingsFileBytesMax, settingsFileName } from '../../src/server/settings-file.js';
import { ServiceError } from '../../src/service/service.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, queryRequest, statement } from './requests.js';
import { buildHalfExtension, compilerMissing } from './sqlite-extension-fixture.js';
import { allocateTestNodeAddress, startNodeAt, type TestNodeAddress } from './start-node.js';

const context = { signal: new AbortController().signal };
const digest = (character: string): string => character.repeat(64);
const base: ApplySettings = { sqliteVersion: '3.46.1', foreignKeys: false, extensions: [{ name: 'half.so', sha256: digest('a') }] };
const holders = { self: 'the leader n1', peer: 'n3' };

function refusal(run: () => unknown, pattern: RegExp, code = 'SETTINGS_MISMATCH'): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof ServiceError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('the settings check', () => {
  it('admits equal settings silently, and a node that sends none with a warning', () => {
    assert.equal(checkApplySettings(base, { ...base }, holders, { hasState: false }), undefined);
    assert.match(checkApplySettings(base, undefined, holders, { hasState: false }) ?? '', /n3 sent no settings .* differently from the leader n1/);
  });

  it('refuses another -fk or other extensions, with or without state, naming both sides', () => {
    for (const hasState of [false, true]) {
      refusal(
        () => checkApplySettings(base, { ...base, foreignKeys: true }, holders, { hasState }),
        /foreign keys \(-fk\) are enforced on n3, not on the leader n1/,
      );
      refusal(() => checkApplySettings(base, { ...base, extensions: [] }, holders, { hasState }), /extension half\.so is loaded on the leader n1, not on n3/);
      const another = { ...base, extensions: [{ name: 'half.so', sha256: digest('b') }] };
      refusal(
        () => checkApplySettings(base, another, holders, { hasState }),
        /extension half\.so is another file on the leader n1 \(SHA-256 aaaaaaaaaaaa…\) than on n3 \(bbbbbbbbbbbb…\)/,
      );
      const extra = { ...base, extensions: [...base.extensions, { name: 'more.so', sha256: digest('c') }] };
      refusal(() => checkApplySettings(base, extra, holders, { hasState }), /extension more\.so is loaded on n3, not on the leader n1/);
    }
    // Every difference at once.
    refusal(
      () => checkApplySettings(base, { sqliteVersion: '3.45.0', foreignKeys: true, extensions: [] }, holders, { hasState: false }),
      /enforced on n3.*; extension half\.so .*; SQLite 3\.46\.1 on the leader n1, 3\.45\.0 on n3/,
    );
  });

  it('refuses another SQLite version for a new node, and admits a member rejoining with it (a rolling upgrade) with a warning', () => {
    const upgraded = { ...base, sqliteVersion: '3.47.0' };
    refusal(() => checkApplySettings(base, upgraded, holders, { hasState: false }), /SQLite 3\.46\.1 on the leader n1, 3\.47\.0 on n3/);
    assert.match(checkApplySettings(base, upgraded, holders, { hasState: true }) ?? '', /SQLite 3\.46\.1 on the leader n1, 3\.47\.0 on n3: a rolling upgrade/);
  });

  it("reads a peer's settings within their bounds, and refuses malformed ones as BAD_REQUEST", () => {
    const { versionLengthMax, extensionCountMax, extensionNameLengthMax } = applySettingsLimits;
    assert.equal(parseApplySettings(undefined), undefined);
    assert.equal(parseApplySettings(null), undefined);
    const many = Array.from({ length: extensionCountMax }, (_, index) => ({ name: `e${String(index).padStart(3, '0')}.so`, sha256: digest('d') }));
    assert.equal(parseApplySettings({ ...base, extensions: many })?.extensions.length, extensionCountMax);
    const longName = 'n'.repeat(extensionNameLengthMax);
    assert.equal(parseApplySettings({ ...base, extensions: [{ name: longName, sha256: digest('e') }] })?.extensions[0]?.name, longName);
    assert.equal(parseApplySettings({ ...base, sqliteVersion: '3'.repeat(versionLengthMax) })?.sqliteVersion.length, versionLengthMax);
    // Sorted by name, whatever order they came in.
    const unsorted = [
      { name: 'z.so', sha256: digest('1') },
      { name: 'a.so', sha256: digest('2') },
    ];
    assert.deepEqual(
      parseApplySettings({ ...base, extensions: unsorted })?.extensions.map((extension) => extension.name),
      ['a.so', 'z.so'],
    );
    for (const [value, pattern] of [
      ['fk', /must be an object/],
      [{ ...base, sqliteVersion: '' }, /sqliteVersion must be a string of 1-64/],
      [{ ...base, sqliteVersion: '3'.repeat(versionLengthMax + 1) }, /sqliteVersion must be a string of 1-64/],
      [{ ...base, foreignKeys: 'on' }, /foreignKeys must be a boolean/],
      [{ ...base, extensions: 'half.so' }, /extensions must be a list of at most 256/],
      [{ ...base, extensions: [...many, { name: 'one-more.so', sha256: digest('f') }] }, /extensions must be a list of at most 256/],
      [{ ...base, extensions: [{ name: 'n'.repeat(extensionNameLengthMax + 1), sha256: digest('e') }] }, /name must be a string of 1-255/],
      [{ ...base, extensions: [{ name: 'half.so', sha256: 'abc' }] }, /extension half\.so: sha256 must be 64 hex digits/],
      [{ ...base, extensions: [null] }, /name must be a string/],
      [{ ...base, extensions: [...base.extensions, { name: 'half.so', sha256: digest('b') }] }, /an extension name is listed twice/],
    ] as const) {
      refusal(() => parseApplySettings(value), pattern, 'BAD_REQUEST');
    }
  });
});

test('--bootstrap-expect keeps the last refusal of at most discoveredNodeCountMax peers, and tells a new one from a repeat', () => {
  const refusals = new Map<string, string>();
  for (let peer = 0; peer < discoveredNodeCountMax; peer++) assert.equal(rememberRefusal(refusals, `n${peer}`, 'fk'), true);
  assert.equal(rememberRefusal(refusals, 'n0', 'fk'), false, 'a repeat is not logged again');
  assert.equal(rememberRefusal(refusals, 'n0', 'extensions'), true, 'another reason is');
  assert.equal(rememberRefusal(refusals, 'one-more', 'fk'), true);
  assert.equal(refusals.size, discoveredNodeCountMax, 'a peer past the bound is not kept');
  assert.equal(refusals.get('n0'), 'extensions');
});

// ---------------------------------------------------------------------------
// Real nodes in this process
// ---------------------------------------------------------------------------

const directories: string[] = [];
const nodes: QuorumNode[] = [];

after(async () => {
  await Promise.all(nodes.map((node) => node.stop({ transferLeadership: false }).catch(() => undefined)));
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

function temporaryDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-apply-settings-'));
  directories.push(directory);
  return directory;
}

/** Joins retry 5 rounds 3 s apart by default: a refusal must not wait for them. */
const retrying: Partial<QuorumNodeOptions> = { joinAttemptCountMax: 5, joinIntervalMs: 3_000 };

async function startNode(address: TestNodeAddress, dataDirectory: string, overrides: Partial<QuorumNodeOptions> = {}): Promise<QuorumNode> {
  const node = await startNodeAt(address, dataDirectory, { ...retrying, ...overrides });
  nodes.push(node);
  return node;
}

async function stop(node: QuorumNode): Promise<void> {
  await node.stop({ transferLeadership: false });
  nodes.splice(nodes.indexOf(node), 1);
}

/** Rejects with a SETTINGS_MISMATCH matching `pattern` within `withinMs` (no retry rounds). */
async function refusedStart(starting: Promise<unknown>, pattern: RegExp, withinMs = 2_500): Promise<void> {
  const startedAt = performance.now();
  await assert.rejects(starting, (error: unknown) => {
    assert.ok(error instanceof ServiceError, String(error));
    assert.equal(error.code, 'SETTINGS_MISMATCH');
    assert.match(error.message, pattern);
    return true;
  });
  const tookMs = performance.now() - startedAt;
  assert.ok(tookMs < withinMs, `refused after ${Math.round(tookMs)} ms`);
}

function recordingLogger(events: Record<string, unknown>[]): NodeLogger {
  return { ...silentLogger, error: (fields) => events.push(fields), warn: (fields) => events.push(fields) };
}

test('a node with another -fk is refused when it joins, directly or through a follower; the cluster is unchanged and it joins once it matches', async () => {
  const events: Record<string, unknown>[] = [];
  const leaderAddress = await allocateTestNodeAddress();
  const leader = await startNode(leaderAddress, temporaryDirectory(), { logger: recordingLogger(events) });
  await waitFor('leadership', () => (leader.runtime.isLeader ? true : undefined));
  await leader.service.execute(executeRequest([statement('CREATE TABLE t (v TEXT)')]), context);
  await leader.service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', 'kept')]), context);
  const follower = await startNode(await allocateTestNodeAddress(), temporaryDirectory(), { joinAddresses: [leaderAddress.raft] });
  await waitFor('two voters', () => (leader.runtime.confState().voters.length === 2 ? true : undefined));
  const before = leader.runtime.confState();

  const joinerAddress = await allocateTestNodeAddress();
  const joinerDirectory = temporaryDirectory();
  await refusedStart(
    startNode(joinerAddress, joinerDirectory, { joinAddresses: [leaderAddress.raft], foreignKeys: true }),
    new RegExp(
      `failed to join cluster through ${leaderAddress.raft}: ${joinerAddress.raft} would apply entries differently from the leader ${leaderAddress.raft}: ` +
        `foreign keys \\(-fk\\) are enforced on ${joinerAddress.raft}, not on the leader`,
    ),
  );
  // Through the follower: it forwards, the leader refuses, the same answer comes back.
  await refusedStart(
    startNode(joinerAddress, joinerDirectory, { joinAddresses: [follower.config.raftAdvertisedAddress], foreignKeys: true }),
    /would apply entries differently from the leader .*foreign keys \(-fk\) are enforced on/,
  );
  assert.deepEqual(leader.runtime.confState(), before, 'no learner or voter was added');
  assert.deepEqual(
    events.filter((event) => event.event === 'join-refused').map((event) => event.node),
    [joinerAddress.raft, joinerAddress.raft],
  );

  // The same directory, with the cluster's settings: it joins and holds the data.
  const joiner = await startNode(joinerAddress, joinerDirectory, { joinAddresses: [leaderAddress.raft] });
  await waitFor('three voters', () => (leader.runtime.confState().voters.length === 3 ? true : undefined));
  await waitFor('the row on the new node', () => (joiner.runtime.stateMachine.appliedIndex >= leader.runtime.stateMachine.appliedIndex ? true : undefined));
  const read = await joiner.service.query(queryRequest('SELECT v FROM t', { level: 'none' }), context);
  assert.deepEqual(read.results, [{ kind: 'rows', columns: ['v'], types: ['text'], rows: [['kept']] }]);
});

test('--bootstrap-expect: nodes whose settings differ refuse each other, log it once, name it on timing out, and form once they match', async () => {
  const [first, second] = [await allocateTestNodeAddress(), await allocateTestNodeAddress()];
  const directories = [temporaryDirectory(), temporaryDirectory()];
  const formation = (foreignKeys: boolean, logger: NodeLogger = silentLogger): Partial<QuorumNodeOptions> => ({
    bootstrapExpect: 2,
    joinAddresses: [first.raft, second.raft],
    discoveryIntervalMs: 50,
    bootstrapExpectTimeoutMs: 2_000,
    foreignKeys,
    logger,
  });
  const events: Record<string, unknown>[] = [];
  const outcomes = await Promise.allSettled([
    startNode(first, directories[0] as string, formation(false, recordingLogger(events))),
    startNode(second, directories[1] as string, formation(true)),
  ]);
  for (const [index, outcome] of outcomes.entries()) {
    assert.equal(outcome.status, 'rejected');
    const error = (outcome as PromiseRejectedResult).reason as unknown;
    assert.ok(error instanceof ServiceError, String(error));
    assert.equal(error.code, 'SETTINGS_MISMATCH');
    const other = index === 0 ? second.raft : first.raft;
    assert.match(
      error.message,
      new RegExp(`^--bootstrap-expect 2: found only 1 node\\(s\\) within 2000ms; ${other} refused this node: .*foreign keys \\(-fk\\) are enforced on`),
    );
  }
  // Each way logged once, though the nodes notified each other every 50 ms for 2 s.
  assert.equal(events.filter((event) => event.event === 'notify-refused').length, 1);
  assert.equal(events.filter((event) => event.event === 'notify-refused-by').length, 1);

  // Started again with the same settings, the same directories form a cluster.
  const formed = await Promise.all([
    startNode(first, directories[0] as string, { ...formation(false), bootstrapExpectTimeoutMs: 20_000 }),
    startNode(second, directories[1] as string, { ...formation(false), bootstrapExpectTimeoutMs: 20_000 }),
  ]);
  await waitFor('a leader of two voters', () =>
    formed.some((node) => node.runtime.isLeader && node.runtime.confState().voters.length === 2) ? true : undefined,
  );
});

test('a restart with another -fk than the data was written with is refused before it applies anything; the old settings start it again', async () => {
  const address = await allocateTestNodeAddress();
  const directory = temporaryDirectory();
  let node = await startNode(address, directory);
  await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
  await node.service.execute(executeRequest([statement('CREATE TABLE t (v TEXT)')]), context);
  await node.service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', 'kept')]), context);
  const recorded = JSON.parse(readFileSync(join(directory, settingsFileName), 'utf8')) as ApplySettings;
  assert.equal(recorded.foreignKeys, false);
  assert.equal(recorded.sqliteVersion, node.runtime.stateMachine.sqliteVersion);
  await stop(node);

  await assert.rejects(startNode(address, directory, { foreignKeys: true }), (error: unknown) => {
    assert.ok(error instanceof SettingsFileError, String(error));
    assert.match(
      (error as Error).message,
      /this node's data was written with other settings than it starts with: foreign keys \(-fk\) are enforced on this start, not on its data/,
    );
    assert.match((error as Error).message, /back it up and restore the backup into a new cluster/);
    return true;
  });
  // An upgrade of SQLite is recorded with a warning; nothing else changes.
  writeFileSync(join(directory, settingsFileName), JSON.stringify({ ...recorded, sqliteVersion: '3.0.0' }));
  const events: Record<string, unknown>[] = [];
  node = await startNode(address, directory, { logger: recordingLogger(events) });
  assert.ok(events.some((event) => event.event === 'settings-upgraded'));
  assert.equal((JSON.parse(readFileSync(join(directory, settingsFileName), 'utf8')) as ApplySettings).sqliteVersion, recorded.sqliteVersion);
  await waitFor('leadership again', () => (node.runtime.isLeader ? true : undefined));
  const read = await node.service.query(queryRequest('SELECT v FROM t', { level: 'linearizable' }), context);
  assert.deepEqual(read.results, [{ kind: 'rows', columns: ['v'], types: ['text'], rows: [['kept']] }]);
  await stop(node);

  // A record that cannot be read refuses the start, and is left as it was.
  for (const [content, pattern] of [
    ['{"sqliteVersion":', /apply-settings\.json: not JSON/],
    [
      '{"sqliteVersion":"3.46.1","foreignKeys":"no","extensions":[]}',
      /apply-settings\.json: not a settings record \(settings: foreignKeys must be a boolean\)/,
    ],
    [' '.repeat(settingsFileBytesMax + 1), /apply-settings\.json: 131073 bytes, over the 131072-byte bound/],
  ] as const) {
    writeFileSync(join(directory, settingsFileName), content);
    await assert.rejects(startNode(address, directory), pattern);
    assert.equal(readFileSync(join(directory, settingsFileName), 'utf8'), content);
  }
  // A record of exactly the bound is read (padded with spaces, which JSON allows).
  const recordText = JSON.stringify(recorded);
  writeFileSync(join(directory, settingsFileName), recordText + ' '.repeat(settingsFileBytesMax - recordText.length));
  node = await startNode(address, directory);
  await stop(node);
  // A record removed: data from before the file is recorded as it starts now.
  rmSync(join(directory, settingsFileName));
  node = await startNode(address, directory);
  assert.equal((JSON.parse(readFileSync(join(directory, settingsFileName), 'utf8')) as ApplySettings).foreignKeys, false);
  await stop(node);
});

test('a node with an extension the cluster does not load is refused when it joins', { skip: compilerMissing() }, async () => {
  const build = temporaryDirectory();
  mkdirSync(join(build, 'out'));
  const library = buildHalfExtension(join(build, 'out'));
  const leaderAddress = await allocateTestNodeAddress();
  const leader = await startNode(leaderAddress, temporaryDirectory());
  await waitFor('leadership', () => (leader.runtime.isLeader ? true : undefined));
  const joinerAddress = await allocateTestNodeAddress();
  await refusedStart(
    startNode(joinerAddress, temporaryDirectory(), { joinAddresses: [leaderAddress.raft], extensionPaths: [library] }),
    new RegExp(`extension half\\.so is loaded on ${joinerAddress.raft}, not on the leader`),
  );
  assert.equal(leader.runtime.confState().voters.length, 1);
  assert.equal(leader.runtime.confState().learners.length, 0);
});
