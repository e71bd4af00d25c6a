/**
 * The data-directory lock is a kernel lock (flock): released the moment its owner dies,
 * even while the dead process is still an unreaped zombie, and never won by two racers.
 * Children run the built storage (dist/), as `npm test` builds before testing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { makeTemporaryDirectory, removeDirectory } from './helpers.js';

const storageModule = new URL('../../dist/storage/durable-storage.js', import.meta.url).pathname;
const childTimeoutMs = 30_000;
const killRestartRounds = 50;
const raceRounds = 10;

/** A child that opens the store, says `open` (or `LOCKED`), and holds it until killed unless `exitAfterOpen`. */
function childScript(directory: string, exitAfterOpen: boolean): string {
  return `import(${JSON.stringify(storageModule)}).then((m) => m.DurableStorage.open(${JSON.stringify(directory)})).then(
    async (store) => { process.stdout.write('open\\n'); if (${exitAfterOpen}) { await store.close(); process.exit(0); } setInterval(() => {}, 1000); },
    (error) => { process.stdout.write(String(error.code) + ': ' + error.message + '\\n'); process.exit(3); })`;
}

function spawnHolder(directory: string): { child: ChildProcess; firstLine: Promise<string> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', childScript(directory, false)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const firstLine = new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('child said nothing in time')), childTimeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(text.slice(0, text.indexOf('\n')));
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(text.split('\n')[0] ?? '');
    });
  });
  return { child, firstLine };
}

/** The state letter of /proc/<pid>/stat ('Z' for a zombie), or undefined once reaped. */
function processState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

function killQuietly(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
}

test(`restarting right after kill -9 takes the lock, ${killRestartRounds} times (the dead owner still a zombie)`, { timeout: 240_000 }, async () => {
  assert.ok(fs.existsSync(storageModule), `${storageModule} is missing: run npm run build`);
  const directory = makeTemporaryDirectory('kill-restart');
  const children: ChildProcess[] = [];
  try {
    let zombiesSeen = 0;
    for (let round = 0; round < killRestartRounds; round += 1) {
      const holder = spawnHolder(directory);
      children.push(holder.child);
      assert.equal(await holder.firstLine, 'open', `round ${round}: the holder opened the store`);
      const pid = holder.child.pid!;
      process.kill(pid, 'SIGKILL');
      // Synchronously from here on: this process's event loop does not run, so it cannot
      // reap the killed child, which stays a zombie while the next one starts.
      const deadlineMs = Date.now() + childTimeoutMs;
      while (processState(pid) !== 'Z' && processState(pid) !== undefined && Date.now() < deadlineMs) {
        /* wait for the kernel to finish the kill */
      }
      if (processState(pid) === 'Z') zombiesSeen += 1;
      const next = spawnSync(process.execPath, ['--input-type=module', '-e', childScript(directory, true)], { encoding: 'utf8', timeout: childTimeoutMs });
      assert.equal(next.stdout.trim(), 'open', `round ${round}: restart after kill -9 was refused: ${next.stdout}${next.stderr}`);
      assert.equal(next.status, 0);
    }
    assert.ok(zombiesSeen >= killRestartRounds / 2, `the old owner was still a zombie in ${zombiesSeen} rounds`);
  } finally {
    for (const child of children) killQuietly(child);
    removeDirectory(directory);
  }
});

test(`two processes starting together: exactly one gets the lock, ${raceRounds} times`, { timeout: 240_000 }, async () => {
  const directory = makeTemporaryDirectory('race');
  const children: ChildProcess[] = [];
  try {
    for (let round = 0; round < raceRounds; round += 1) {
      const racers = [spawnHolder(directory), spawnHolder(directory)];
      children.push(...racers.map((racer) => racer.child));
      const lines = await Promise.all(racers.map((racer) => racer.firstLine));
      assert.equal(lines.filter((line) => line === 'open').length, 1, `round ${round}: ${JSON.stringify(lines)}`);
      const refused = lines.find((line) => line !== 'open') ?? '';
      assert.match(refused, /^LOCKED: data directory .* is locked by running process \d+/);
      const winner = racers.find((_, position) => lines[position] === 'open')!;
      assert.match(refused, new RegExp(`running process ${winner.child.pid}\\b`), 'the message names the owner');
      for (const racer of racers) killQuietly(racer.child);
      await Promise.all(
        racers.map(
          (racer) =>
            new Promise((resolve) => {
              if (racer.child.exitCode !== null || racer.child.signalCode !== null) resolve(undefined);
              else racer.child.once('exit', resolve);
            }),
        ),
      );
    }
  } finally {
    for (const child of children) killQuietly(child);
    removeDirectory(directory);
  }
});

test('a LOCK file left by an older version (a pid file) is no obstacle, and the file stays after close', async () => {
  const directory = makeTemporaryDirectory('legacy-lock');
  try {
    fs.mkdirSync(directory, { recursive: true });
    fs.writeFileSync(join(directory, 'LOCK'), JSON.stringify({ pid: process.pid, startTime: '1' }));
    const holder = spawnHolder(directory);
    try {
      assert.equal(await holder.firstLine, 'open');
      const second = spawnSync(process.execPath, ['--input-type=module', '-e', childScript(directory, true)], { encoding: 'utf8', timeout: childTimeoutMs });
      assert.equal(second.status, 3, second.stderr);
      assert.match(second.stdout, new RegExp(`^LOCKED: .*running process ${holder.child.pid}\\b`));
    } finally {
      killQuietly(holder.child);
    }
    await new Promise((resolve) =>
      holder.child.exitCode !== null || holder.child.signalCode !== null ? resolve(undefined) : holder.child.once('exit', resolve),
    );
    const after = spawnSync(process.execPath, ['--input-type=module', '-e', childScript(directory, true)], { encoding: 'utf8', timeout: childTimeoutMs });
    assert.equal(after.stdout.trim(), 'open', after.stderr);
    assert.ok(fs.existsSync(join(directory, 'LOCK')), 'LOCK is never deleted: unlinking a lock file races with a waiter');
  } finally {
    removeDirectory(directory);
  }
});
