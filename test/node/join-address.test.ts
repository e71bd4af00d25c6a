/**
 * An http(s):// --join address is turned into the member's Raft address through its
 * GET /status (`store.addr`), with HTTP Basic for --join-as (the user and the password the
 * -auth file gives it, read at each request); anything else is a failed
 * attempt (retried by the joiner), never a crash.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpAddressResolver } from '../../src/server/join-address.js';
import { ServiceError } from '../../src/service/service.js';

const servers: Server[] = [];

after(() => {
  for (const server of servers) server.close();
});

/** A fake member's HTTP API answering /status with `body`; records each request's path and headers. */
async function fakeMember(status: number, body: string): Promise<{ url: string; seen: { path: string; headers: IncomingHttpHeaders }[] }> {
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((request, response) => {
    seen.push({ path: request.url ?? '', headers: request.headers });
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('the Raft address comes from GET /status store.addr; anonymous without --join-as', async () => {
  const member = await fakeMember(200, JSON.stringify({ store: { addr: '127.0.0.7:4002', node_id: 'n7' } }));
  assert.equal(await createHttpAddressResolver({ credentials: () => null })(member.url), '127.0.0.7:4002');
  assert.equal(member.seen[0]?.path, '/status');
  assert.equal(member.seen[0]?.headers.authorization, undefined);
});

test('--join-as sends HTTP Basic with that user and its password, as the auth file says at each request', async () => {
  const member = await fakeMember(200, JSON.stringify({ store: { addr: '127.0.0.7:4002' } }));
  let password = 'first secret';
  const resolve = createHttpAddressResolver({ credentials: () => ({ username: 'alice', password }) });
  await resolve(member.url);
  password = 'reloaded: secret';
  await resolve(member.url);
  const sent = member.seen.map((request) => request.headers.authorization ?? '');
  for (const header of sent) assert.match(header, /^Basic /);
  assert.deepEqual(
    sent.map((header) => Buffer.from(header.slice('Basic '.length), 'base64').toString()),
    ['alice:first secret', 'alice:reloaded: secret'],
  );
});

test('an answer that is not a member status, an error status, or no answer at all: UNAVAILABLE naming the address', async () => {
  const resolve = createHttpAddressResolver({ credentials: () => null });
  const notStatus = await fakeMember(200, '{"hello":"world"}');
  const failing = await fakeMember(401, '{"error":"unauthorized"}');
  const nowhere = await fakeMember(200, '{}');
  await new Promise<void>((done) => (servers.pop() as Server).close(() => done()));
  for (const [url, pattern] of [
    [notStatus.url, /has no store\.addr/],
    [failing.url, /answered 401/],
    [nowhere.url, /fetch failed: .*ECONNREFUSED/],
  ] as const) {
    await assert.rejects(resolve(url), (error: unknown) => {
      assert.ok(error instanceof ServiceError);
      assert.equal(error.code, 'UNAVAILABLE');
      assert.ok(error.message.startsWith(url), error.message);
      assert.match(error.message, pattern);
      return true;
    });
  }
});
