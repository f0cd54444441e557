import { type Server, type Socket, createConnection, createServer } from 'node:net';

// Round trips, not commands: a client that pipelines ten commands in one write
// waits once; one that sends EVALSHA, reads NOSCRIPT and sends EVAL waits
// twice, although a command log would show whatever the client library
// chooses to report. So this counts at the wire, with a TCP proxy on
// 127.0.0.1 between the client and Redis.
//
// A round trip is a burst of client→server data followed by a reply: each
// time the client sends after the server has answered (or for the first
// time), a new round trip starts. Chunks the kernel splits one write into,
// and commands pipelined before any reply arrives, stay in one burst.
// Counting is exact for calls made one at a time; concurrent calls on one
// connection share bursts, and should not be measured this way.

/** A proxy in front of one Redis server that counts round trips per connection. */
export interface RoundTripProxy {
  /** Where clients connect instead of the server: `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Round trips on every connection through the proxy since the last `reset`. */
  readonly roundTrips: number;
  /** Start counting from zero (after a client's connection handshake, say). */
  reset(): void;
  /** Stop listening and cut every proxied connection. */
  close(): Promise<void>;
}

/** Start a proxy on a free port of 127.0.0.1 forwarding to `target` (`redis://host:port`). */
export async function roundTripProxy(target: string): Promise<RoundTripProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let roundTrips = 0;

  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    sockets.add(client).add(upstream);
    // True between the client's first byte of a burst and the server's next reply.
    let sending = false;
    client.on('data', (chunk: Buffer) => {
      if (!sending) {
        sending = true;
        roundTrips += 1;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      sending = false;
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the round-trip proxy has no TCP address');

  return {
    url: `redis://127.0.0.1:${address.port}`,
    get roundTrips() {
      return roundTrips;
    },
    reset: () => {
      roundTrips = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
