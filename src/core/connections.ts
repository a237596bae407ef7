import cluster from 'node:cluster';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

/**
 * A keep-alive connection idle this long while draining is ended; one a client is using gets
 * `Connection: close` on its next response instead. Ending a connection the moment it becomes
 * idle races the client's next request on it (the client then sees ECONNRESET).
 */
const IDLE_GRACE_MS = 500;
/**
 * In a cluster worker, between closing the listener and asking clients to reconnect: the master
 * may still hand over a connection it accepted before it heard of the close.
 */
const CLUSTER_DRAIN_DELAY_MS = 100;
const SWEEP_MS = 50;
/** After end(), a peer that never closes its side is cut off. */
const END_TIMEOUT_MS = 1000;

interface Connection {
  /** Responses in progress on it (several when pipelined). */
  busy: Set<ServerResponse>;
  idleSince: number;
  ended: boolean;
}

/**
 * The connections of an app's HTTP servers, and their graceful stop: stop accepting, let
 * requests in flight finish, answer further requests on open connections with
 * `Connection: close`, and end connections once they stay idle. Upgraded (WebSocket) sockets
 * leave the count: the app says goodbye to them itself.
 */
export class Connections {
  private readonly servers: Server[] = [];
  private readonly open = new Map<Socket, Connection>();
  private draining = false;
  private drained: Promise<void> | null = null;
  private onDrained: (() => void) | null = null;
  private sweep: NodeJS.Timeout | null = null;

  /** Follows a server's connections; call it once its own listeners are on. */
  track(server: Server): void {
    this.servers.push(server);
    server.on('connection', (socket: Socket) => {
      this.open.set(socket, { busy: new Set(), idleSince: Date.now(), ended: false });
      socket.once('close', () => this.forget(socket));
    });
    // First of the listeners, so that the response to a request that arrives while draining
    // is marked before the app writes its head.
    server.prependListener('request', this.onRequest);
    server.prependListener('checkContinue', this.onRequest);
    // Only where the app listens for upgrades: without a listener node serves them as requests.
    if (server.listenerCount('upgrade') > 0) server.prependListener('upgrade', (_req: IncomingMessage, socket: Socket) => this.forget(socket));
  }

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const c = this.open.get(req.socket);
    if (c !== undefined) {
      c.busy.add(res);
      res.once('close', () => {
        c.busy.delete(res);
        c.idleSince = Date.now();
      });
    }
    if (this.draining) res.shouldKeepAlive = false;
  };

  private forget(socket: Socket): void {
    this.open.delete(socket);
    if (this.onDrained !== null && this.open.size === 0) this.finish();
  }

  /**
   * Stops accepting, then resolves once every connection is closed: requests in flight finish,
   * later ones on open connections are answered with `Connection: close`, and connections
   * idle for {@link IDLE_GRACE_MS} are ended.
   */
  drain(): Promise<void> {
    // net's close(), not http's: that one also destroys idle keep-alive connections at once,
    // racing the requests clients are sending on them.
    for (const server of this.servers) if (server.listening) NetServer.prototype.close.call(server);
    return (this.drained ??= new Promise<void>((resolve) => {
      this.onDrained = resolve;
      if (this.open.size === 0) return this.finish();
      const start = Date.now();
      const delay = cluster.isWorker ? CLUSTER_DRAIN_DELAY_MS : 0;
      const sweep = () => {
        const now = Date.now();
        if (now - start < delay) return;
        if (!this.draining) {
          this.draining = true;
          // Responses in progress whose head is not written yet close their connection too.
          for (const c of this.open.values()) for (const res of c.busy) if (!res.headersSent) res.shouldKeepAlive = false;
        }
        for (const [socket, c] of this.open) {
          if (c.busy.size > 0 || c.ended || now - c.idleSince < IDLE_GRACE_MS) continue;
          c.ended = true;
          socket.end();
          setTimeout(() => socket.destroy(), END_TIMEOUT_MS).unref();
        }
      };
      this.sweep = setInterval(sweep, SWEEP_MS);
      sweep();
    }));
  }

  private finish(): void {
    if (this.sweep !== null) clearInterval(this.sweep);
    this.onDrained?.();
    this.onDrained = null;
  }
}
