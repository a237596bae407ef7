import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { sep } from 'node:path';
import { loadApp, type ServableApp } from './load';
import { UserError, type Bind } from './options';

/** The environment variable that carries a worker's {@link WorkerConfig} (JSON). */
export const WORKER_ENV = 'ROCOCO_SERVE_WORKER';

/** What the master tells a worker when it forks it. */
export interface WorkerConfig {
  /** The resolved file of the module, and the module as the user gave it (for messages). */
  file: string;
  spec: string;
  exportName: string | undefined;
  binds: Bind[];
  /** Milliseconds between heartbeats; 0: none. */
  heartbeat: number;
  /** Requests after which to ask to be replaced (jitter included); 0: never. */
  maxRequests: number;
  /** Report the files loaded, for the master to watch them. */
  reload: boolean;
}

/** Messages from a worker to the master. */
export type WorkerMessage =
  | { rococo: 'heartbeat' }
  | { rococo: 'listening'; files?: string[] }
  | { rococo: 'boot-error'; message: string }
  | { rococo: 'recycle'; requests: number };

/** Messages from the master to a worker. */
export type MasterMessage = { rococo: 'stop' };

/**
 * A keep-alive connection idle this long while draining is closed; one a client is using gets
 * `Connection: close` on its next response instead. Closing a connection the moment it becomes
 * idle races the client's next request on it (the client then sees ECONNRESET).
 */
const IDLE_GRACE_MS = 500;
/** Between stopping to accept and asking clients to reconnect: the master's listener closes first. */
const DRAIN_DELAY_MS = 100;
const SWEEP_MS = 50;

interface Connection {
  /** Requests in progress on it (several when pipelined). */
  busy: number;
  idleSince: number;
  ended: boolean;
}

/**
 * The worker's HTTP servers, one a bind, all serving `app.handle` (and `app.handleUpgrade` when
 * the app has WebSocket routes), and their graceful stop: stop accepting, let requests in
 * flight finish, answer further requests on open connections with `Connection: close`, and
 * close connections that stay idle.
 */
export class Servers {
  private readonly servers: Server[] = [];
  private readonly connections = new Map<Socket, Connection>();
  private draining = false;
  private accepting = true;
  private drained: Promise<void> | null = null;
  private onDrained: (() => void) | null = null;
  private sweep: NodeJS.Timeout | null = null;

  constructor(
    private readonly app: ServableApp,
    private readonly binds: readonly Bind[],
    private readonly onRequest: () => void = () => {},
  ) {}

  /** Listens on every bind; an address in use, or not allowed, is a {@link UserError}. */
  async listen(): Promise<void> {
    for (const bind of this.binds) {
      const server = this.createServer();
      server.on('connection', (socket: Socket) => {
        this.connections.set(socket, { busy: 0, idleSince: Date.now(), ended: false });
        socket.once('close', () => {
          this.connections.delete(socket);
          this.checkDrained();
        });
      });
      // Before the app's listeners: count the request, and mark it while draining.
      server.prependListener('request', this.track);
      server.prependListener('checkContinue', this.track);
      if (server.listenerCount('upgrade') > 0) {
        server.prependListener('upgrade', (_req: IncomingMessage, socket: Socket) => {
          this.connections.delete(socket); // a WebSocket now: app.close() says goodbye to it
          this.checkDrained();
        });
      }
      this.servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(bind.port, bind.host, () => {
          server.off('error', reject);
          resolve();
        });
      }).catch((e: NodeJS.ErrnoException) => {
        const why: Record<string, string> = {
          EADDRINUSE: 'the address is in use (another server?)',
          EACCES: 'permission denied (ports below 1024 need privileges)',
          EADDRNOTAVAIL: 'this machine has no such address',
          ENOTFOUND: 'no such host',
        };
        if (e.code !== undefined && e.code in why) throw new UserError(`cannot listen on ${bind.host}:${bind.port}: ${why[e.code]}`);
        throw e;
      });
    }
  }

  /** The app's own server (timeouts, limits, listeners), or a plain one for an app of an older rococo. */
  private createServer(): Server {
    if (typeof this.app.createServer === 'function') return this.app.createServer();
    const server = createServer(this.app.handle);
    if (this.app.router.routes.some((r) => (r.handler as { upgrade?: unknown } | undefined)?.upgrade !== undefined)) server.on('upgrade', this.app.handleUpgrade);
    return server;
  }

  private readonly track = (req: IncomingMessage, res: ServerResponse): void => {
    const c = this.connections.get(req.socket);
    if (c !== undefined) {
      c.busy++;
      res.once('close', () => {
        c.busy--;
        c.idleSince = Date.now();
      });
    }
    if (this.draining) res.setHeader('connection', 'close');
    this.onRequest();
  };

  /** Stops accepting connections (in a cluster worker: the master stops sending any). */
  stopAccepting(): void {
    if (!this.accepting) return;
    this.accepting = false;
    // net's close(), not http's: that one also destroys idle keep-alive connections at once,
    // racing the requests clients are sending on them.
    for (const server of this.servers) if (server.listening) NetServer.prototype.close.call(server);
  }

  /**
   * Stops accepting, then resolves once every connection is closed: requests in flight finish,
   * later ones on open connections are answered with `Connection: close`, and connections
   * idle for {@link IDLE_GRACE_MS} are ended. WebSockets are the app's (`app.close()`).
   */
  drain(): Promise<void> {
    this.stopAccepting();
    return (this.drained ??= new Promise<void>((resolve) => {
      this.onDrained = resolve;
      const start = Date.now();
      this.sweep = setInterval(() => {
        const now = Date.now();
        if (now - start < DRAIN_DELAY_MS) return;
        this.draining = true;
        for (const [socket, c] of this.connections) {
          if (c.busy > 0 || c.ended || now - c.idleSince < IDLE_GRACE_MS) continue;
          c.ended = true;
          socket.end();
          setTimeout(() => socket.destroy(), 1000).unref(); // a peer that never closes its side
        }
      }, SWEEP_MS);
      this.checkDrained();
    }));
  }

  private checkDrained(): void {
    if (this.onDrained === null || this.connections.size > 0) return;
    if (this.sweep !== null) clearInterval(this.sweep);
    this.onDrained();
    this.onDrained = null;
  }
}

/** Sends a message to the master; resolves once it is written (or at once without a master). */
function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** A boot failure as the master prints it: the message of a user's mistake, else the stack. */
export function describeError(e: unknown): string {
  if (e instanceof UserError || (e instanceof Error && e.name === 'RococoError')) return e.message;
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

/**
 * A worker of `rococo serve`: loads the app, runs its startup hooks, serves the binds, sends
 * heartbeats, and stops gracefully when the master says so (or on SIGTERM: the master then
 * starts another).
 */
export async function runWorker(config: WorkerConfig): Promise<void> {
  // The terminal sends Ctrl-C (SIGINT) and hang-ups (SIGHUP) to the whole process group: the
  // master decides what they mean.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  if (config.heartbeat > 0) setInterval(() => void send({ rococo: 'heartbeat' }), config.heartbeat);

  let app: ServableApp | null = null;
  let servers: Servers | null = null;
  let serving = false;
  let stopWanted = false;
  let stopping = false;
  const exit = (code: number) => process.exit(code);
  const stop = () => {
    stopWanted = true;
    if (!serving || stopping || app === null || servers === null) return;
    stopping = true;
    servers.stopAccepting();
    app.close().then(
      () => exit(0),
      (err) => {
        app?.log.error({ err }, 'rococo serve: closing the app failed');
        exit(1);
      },
    );
  };
  process.on('message', (m: MasterMessage) => {
    if (m?.rococo === 'stop') stop();
  });
  process.on('SIGTERM', stop);

  let requests = 0;
  const onRequest = () => {
    if (++requests === config.maxRequests) void send({ rococo: 'recycle', requests });
  };
  try {
    app = await loadApp(config.file, config.spec, config.exportName);
    if (app.server !== null) {
      throw new UserError(`the app of '${config.spec}' is already listening (its module called listen()): export the app, or a function that builds it, and let rococo serve listen`);
    }
    const own = (servers = new Servers(app, config.binds, onRequest));
    // Last of the shutdown hooks: the cleanup hooks (closing pools) wait for the last request.
    app.on('shutdown', () => own.drain());
    await app.startup();
    if (stopWanted) {
      await app.close();
      return exit(0);
    }
    await servers.listen();
  } catch (e) {
    await send({ rococo: 'boot-error', message: describeError(e) });
    return exit(1);
  }
  serving = true;
  const files = config.reload ? Object.keys(require.cache).filter((f) => !f.includes(`${sep}node_modules${sep}`)) : undefined;
  await send({ rococo: 'listening', files });
  if (stopWanted) stop();
}
