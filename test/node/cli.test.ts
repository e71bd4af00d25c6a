import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../src/cli/main.js';

function capture(): { io: { stdout: (t: string) => void; stderr: (t: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) }, out, err };
}

test('the CLI exits 2 with a clear message on bad flags, and 0 on version/help', async () => {
  const bad = capture();
  assert.equal(await runCli(['serve', '--http-addr', 'nope'], bad.io), 2);
  assert.match(bad.err.join(''), /quorumlite serve: --http-addr: invalid address "nope"/);
  const unknown = capture();
  assert.equal(await runCli(['frobnicate'], unknown.io), 2);
  assert.match(unknown.err.join(''), /unknown command "frobnicate"/);
  const version = capture();
  assert.equal(await runCli(['version'], version.io), 0);
  assert.match(version.out.join(''), /^quorumlite \d+\.\d+\.\d+/);
  const help = capture();
  assert.equal(await runCli(['serve', '--help'], help.io), 0);
  assert.match(help.out.join(''), /--bootstrap-expect N/);
  const statusBad = capture();
  assert.equal(await runCli(['status', '--bogus', 'x'], statusBad.io), 2);
  const statusBad2 = capture();
  assert.equal(await runCli(['status', '--http-addr', 'nowhere'], statusBad2.io), 2);
});

test('the shell subcommand is wired to the shell module', async () => {
  const io = capture();
  assert.equal(await runCli(['shell', '--help'], io.io), 0);
  assert.equal(await runCli(['shell', '--no-such-flag'], io.io), 2);
});
