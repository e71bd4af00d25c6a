/**
 * One process of the write floor (write-floor.ts): the least a replicated durable write
 * can cost in Node on this machine, with no SQLite, no Raft, no routing. Run as
 *
 *   node --import tsx write-floor-node.ts follower HOST PORT LOGPATH
 *   node --import tsx write-floor-node.ts leader HOST PORT LOGPATH FOLLOWER_HOST:PORT...
 *
 * The leader takes a POST body over `node:http`, sends it to every follower over one TCP
 * connection each, appends it to its own log at the same time, and answers once its own
 * copy and one follower's are durable (a quorum of three). Each log is a preallocated file
 * written and fdatasynced on libuv's thread pool, with group commit: records that arrive
 * while a sync runs share the next one. Frames: [u32 length][u32 sequence][body] to a
 * follower, [u32 sequence] back once the record is durable.
 *
 * With `--sqlite DBPATH` (anywhere on the line) each process also applies every write to
 * a SQLite database as quorumlite's state machine does at the least: one transaction per
 * request in WAL mode with synchronous=NORMAL (the log is the durable copy), prepared
 * statements, each statement's row count and rowid in the reply. The leader applies a
 * write once it is durable on a quorum, in order, and answers with its results; a follower
 * applies each record once its own copy is durable. No Raft, no determinism, no dedup.
 */
import { createServer as createHttpServer } from 'node:http';
import { open, type FileHandle } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { FloorDatabase, statementsOf, type StatementArray } from './floor-database.js';

const preallocatedBytes = 64 * 1024 * 1024;
const bodyBytesMax = 1024 * 1024;
const pendingWritesMax = 100_000;
class GroupLog {
  readonly #handle: FileHandle;
  #position = 0;
  #queue: { readonly bytes: Buffer; readonly done: () => void }[] = [];
  #syncing = false;

  private constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  static async open(path: string): Promise<GroupLog> {
    const handle = await open(path, 'w+');
    const zeros = Buffer.alloc(1024 * 1024);
    for (let offset = 0; offset < preallocatedBytes; offset += zeros.length) await handle.write(zeros, 0, zeros.length, offset);
    await handle.sync();
    return new GroupLog(handle);
  }

  append(bytes: Buffer): Promise<void> {
    if (this.#queue.length >= pendingWritesMax) return Promise.reject(new Error('too many pending writes'));
    return new Promise((resolve) => {
      this.#queue.push({ bytes, done: resolve });
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#syncing || this.#queue.length === 0) return;
    this.#syncing = true;
    const batch = this.#queue.splice(0);
    const bytes = Buffer.concat(batch.map((item) => item.bytes));
    await this.#handle.write(bytes, 0, bytes.length, this.#position);
    this.#position += bytes.length;
    await this.#handle.datasync();
    this.#syncing = false;
    for (const item of batch) item.done();
    void this.#flush();
  }
}

/** Calls `onFrame` for each whole frame of [u32 length][payload] on `socket`. */
function readFrames(socket: Socket, headerBytes: number, onFrame: (frame: Buffer) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < headerBytes) return;
      const frameBytes = headerBytes === 4 ? 4 : 8 + pending.readUInt32BE(0);
      if (frameBytes > bodyBytesMax + 8) {
        socket.destroy();
        return;
      }
      if (pending.length < frameBytes) return;
      onFrame(pending.subarray(0, frameBytes));
      pending = pending.subarray(frameBytes);
    }
  });
}

async function follower(host: string, port: number, logPath: string, database: FloorDatabase | undefined): Promise<void> {
  const log = await GroupLog.open(logPath);
  createServer((socket) => {
    socket.setNoDelay(true);
    readFrames(socket, 8, (frame) => {
      const sequence = frame.readUInt32BE(4);
      const record = Buffer.from(frame.subarray(8));
      void log.append(record).then(() => {
        database?.apply(statementsOf(record));
        const ack = Buffer.alloc(4);
        ack.writeUInt32BE(sequence);
        socket.write(ack);
      });
    });
  }).listen(port, host);
}

async function leader(host: string, port: number, logPath: string, followers: readonly string[], database: FloorDatabase | undefined): Promise<void> {
  const log = await GroupLog.open(logPath);
  /** Writes durable on a quorum, applied and answered in sequence order. */
  const durable: { readonly done: Promise<unknown>; ready: boolean; readonly answer: () => void }[] = [];
  const answerInOrder = (): void => {
    while (durable.length > 0 && (durable[0]?.ready ?? false)) durable.shift()?.answer();
  };
  /** Per sequence number: resolves the write's wait at the first follower's acknowledgement (with the leader's copy, a quorum of three). */
  const waiting = new Map<number, () => void>();
  const sockets = followers.map((address) => {
    const [followerHost, followerPort] = address.split(':');
    const socket = connect(Number(followerPort), followerHost);
    socket.setNoDelay(true);
    readFrames(socket, 4, (frame) => {
      const sequence = frame.readUInt32BE(0);
      const acknowledge = waiting.get(sequence);
      waiting.delete(sequence);
      acknowledge?.();
    });
    return socket;
  });
  let sequence = 0;
  const server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    let byteCount = 0;
    request.on('data', (chunk: Buffer) => {
      byteCount += chunk.length;
      if (byteCount > bodyBytesMax) request.destroy();
      else chunks.push(chunk);
    });
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      // Parsed as the cluster parses a request: the floor pays for the JSON too.
      let statements: StatementArray[];
      try {
        statements = statementsOf(body);
      } catch (error) {
        response.writeHead(400).end(String(error));
        return;
      }
      if (durable.length >= pendingWritesMax) {
        response.writeHead(503).end('too many writes in flight');
        return;
      }
      sequence = (sequence + 1) >>> 0;
      const header = Buffer.alloc(8);
      header.writeUInt32BE(body.length, 0);
      header.writeUInt32BE(sequence, 4);
      const followerDurable = new Promise<void>((resolve) => waiting.set(sequence, resolve));
      for (const socket of sockets) socket.write(Buffer.concat([header, body]));
      const written = sequence;
      const answer = (): void => {
        const results = database === undefined ? statements.map(() => ({ last_insert_id: written, rows_affected: 1 })) : database.apply(statements);
        const reply = JSON.stringify({ results });
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) });
        response.end(reply);
      };
      const entry = { done: Promise.all([log.append(body), followerDurable]), ready: false, answer };
      durable.push(entry);
      void entry.done.then(() => {
        entry.ready = true;
        answerInOrder();
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, host);
}

const commandLine = process.argv.slice(2);
const sqliteAt = commandLine.indexOf('--sqlite');
const databasePath = sqliteAt < 0 ? undefined : commandLine.splice(sqliteAt, 2)[1];
const [role, host, port, logPath, ...followers] = commandLine;
if (host === undefined || port === undefined || logPath === undefined)
  throw new Error('usage: leader|follower HOST PORT LOGPATH [FOLLOWER...] [--sqlite DBPATH]');
const database = databasePath === undefined ? undefined : new FloorDatabase(databasePath);
if (role === 'leader') await leader(host, Number(port), logPath, followers, database);
else if (role === 'follower') await follower(host, Number(port), logPath, database);
else throw new Error(`unknown role ${String(role)}`);
