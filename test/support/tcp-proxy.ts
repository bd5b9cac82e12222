/** A TCP proxy a test can cut: an outage of the broker or backend without touching the shared service. */
import { createServer, connect as netConnect } from 'node:net';
import type { Server, Socket } from 'node:net';

export class TcpProxy {
  readonly #sockets = new Set<Socket>();
  #paused = false;
  private constructor(
    readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    let proxy: TcpProxy | null = null;
    const server = createServer((client) => proxy?.accept(client, targetPort, targetHost));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    proxy = new TcpProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  accept(client: Socket, targetPort: number, targetHost: string): void {
    if (this.#paused) {
      client.destroy();
      return;
    }
    const upstream = netConnect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Cut every connection and refuse new ones. */
  pause(): void {
    this.#paused = true;
    for (const s of this.#sockets) s.destroy();
  }

  resume(): void {
    this.#paused = false;
  }

  async close(): Promise<void> {
    this.pause();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A local port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
