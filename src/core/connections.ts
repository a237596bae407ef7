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
  /** Bytes read and written when last looked at: a change means the connection is in use. */
  bytes: number;
  idleSince: number;
  ended: boolean;
}

/**
 * The response a connection is writing (node's own bookkeeping, also for pipelined requests),
 * or none between requests. Read only while draining or refusing a client: no per-request cost.
 */
export const responseOf = (socket: Socket): ServerResponse | null =>
  (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? null;

/**
 * The connections of an app's HTTP servers, and their graceful stop: stop accepting, let
 * requests in flight finish, answer further requests on open connections with
 * `Connection: close`, and end connections once they stay idle. Upgraded (WebSocket) sockets
 * leave the count: the app says goodbye to them itself. Serving costs one listener call per
 * connection, none per request.
 */
export class Connections {
  private readonly servers: Server[] = [];
  private readonly open = new Map<Socket, Connection>();
  private drained: Promise<void> | null = null;
  private onDrained: (() => void) | null = null;
  private sweep: NodeJS.Timeout | null = null;
  /** Not done before this time, even without connections (see CLUSTER_DRAIN_DELAY_MS). */
  private notBefore = 0;

  /** Follows a server's connections; call it once its own listeners are on. */
  track(server: Server): void {
    this.servers.push(server);
    server.on('connection', (socket: Socket) => {
      this.open.set(socket, { bytes: 0, idleSince: 0, ended: false });
      socket.once('close', () => this.forget(socket));
    });
    // Only where the app listens for upgrades: without a listener node serves them as requests.
    if (server.listenerCount('upgrade') > 0)
      server.prependListener('upgrade', (_req: IncomingMessage, socket: Socket) =>
        this.forget(socket),
      );
  }

  private forget(socket: Socket): void {
    this.open.delete(socket);
    if (this.onDrained !== null && this.open.size === 0 && Date.now() >= this.notBefore)
      this.finish();
  }

  /**
   * Stops accepting, then resolves once every connection is closed: requests in flight finish,
   * responses not started yet and later ones on open connections say `Connection: close`, and
   * connections that stay idle for {@link IDLE_GRACE_MS} are ended.
   */
  drain(): Promise<void> {
    // net's close(), not http's: that one also destroys idle keep-alive connections at once,
    // racing the requests clients are sending on them.
    for (const server of this.servers) if (server.listening) NetServer.prototype.close.call(server);
    return (this.drained ??= new Promise<void>((resolve) => {
      this.onDrained = resolve;
      // A worker that exits while the master hands it a connection loses that connection
      // (its client waits for an answer that never comes): stay until the master has heard.
      this.notBefore = Date.now() + (cluster.isWorker ? CLUSTER_DRAIN_DELAY_MS : 0);
      if (this.open.size === 0 && this.notBefore <= Date.now()) return this.finish();
      let draining = false;
      const sweep = () => {
        const now = Date.now();
        if (now < this.notBefore) return;
        if (this.open.size === 0) return this.finish();
        if (!draining) {
          draining = true;
          // First of the listeners, so that the app writes its head with Connection: close.
          for (const server of this.servers) {
            server.prependListener('request', closeAfter);
            server.prependListener('checkContinue', closeAfter);
          }
          for (const socket of this.open.keys()) {
            const res = responseOf(socket);
            if (res !== null && !res.headersSent) res.shouldKeepAlive = false;
          }
        }
        for (const [socket, c] of this.open) {
          if (c.ended) continue;
          // How long a connection has been idle is only known from the start of the drain:
          // serving does not pay for a timestamp a request.
          const bytes = socket.bytesRead + socket.bytesWritten;
          if (responseOf(socket) !== null || bytes !== c.bytes || c.idleSince === 0) {
            c.bytes = bytes;
            c.idleSince = now;
            continue;
          }
          if (now - c.idleSince < IDLE_GRACE_MS) continue;
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

/** While draining: the response closes its connection. */
function closeAfter(_req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
}
