import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy between the app and PostgreSQL, to cut the network under a live pool.
 * `stop()` closes the listener and destroys every connection (the server is "gone");
 * `start()` listens again on the same port. In `blackhole` mode it accepts connections
 * and never answers (a server that hangs).
 */
export class TcpProxy {
  port = 0;
  blackhole = false;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly targetHost: string,
    readonly targetPort: number,
  ) {}

  /** Connections currently open through the proxy (client side). */
  get connections(): number {
    let n = 0;
    for (const s of this.sockets) if ((s as Socket & { _proxyClient?: boolean })._proxyClient) n++;
    return n;
  }

  async start(): Promise<number> {
    if (this.server !== null) throw new Error('proxy already listening');
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  /** Closes the listener and destroys every open connection. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Freezes every open connection: bytes stop flowing both ways, nothing is closed (a partition). */
  freeze(): void {
    for (const s of this.sockets) {
      s.unpipe();
      s.pause();
    }
  }

  /** Destroys the open connections but keeps listening. */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private accept(client: Socket): void {
    (client as Socket & { _proxyClient?: boolean })._proxyClient = true;
    this.track(client);
    client.on('error', () => {});
    if (this.blackhole) {
      client.pause(); // read nothing, answer nothing
      return;
    }
    const upstream = createConnection(this.targetPort, this.targetHost);
    this.track(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }
}
