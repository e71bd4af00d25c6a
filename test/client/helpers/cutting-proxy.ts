/**
 * A TCP proxy on 127.0.0.1 in front of one real node, for "the server applied the
 * write but its answer never reached the client": after `cutNextResponse()`, the first
 * bytes the node sends back are swallowed and both sockets destroyed, so the client
 * sees a cut connection although the node answered. Every other byte passes through.
 * `close()` destroys every socket it holds, so a test leaves no handle behind.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface CutResponse {
  /** The first line the node answered with (e.g. `HTTP/1.1 200 OK`), which the client never saw. */
  readonly statusLine: string;
}

export interface CuttingProxy {
  readonly url: string;
  /** Arms the cut; resolves with what was cut once the node's next answer arrived. */
  cutNextResponse(): Promise<CutResponse>;
  /** Connections accepted so far. */
  connectionCount(): number;
  close(): Promise<void>;
}

/** Bound on the bytes of one cut answer kept for its status line. */
export const cutStatusLineBytesMax = 256;

/** `listenPort`: where it listens on 127.0.0.1; by default a port the system picks. */
export async function startCuttingProxy(targetHost: string, targetPort: number, listenPort = 0): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let armed: ((cut: CutResponse) => void) | undefined;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const server: Server = createServer((client) => {
    accepted += 1;
    track(client);
    const upstream = connect(targetPort, targetHost);
    track(upstream);
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      const cut = armed;
      if (cut === undefined) {
        client.write(chunk);
        return;
      }
      armed = undefined;
      const head = chunk.subarray(0, cutStatusLineBytesMax).toString('latin1');
      client.destroy();
      upstream.destroy();
      cut({ statusLine: head.split('\r\n')[0] ?? '' });
    });
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('assertion: proxy has no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    cutNextResponse: () => {
      if (armed !== undefined) throw new Error('a cut is already armed');
      return new Promise((resolve) => {
        armed = resolve;
      });
    },
    connectionCount: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
