import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer, WebSocket as WsSocket } from 'ws';
import type { Application } from '../core/application';
import { HTTPBadRequest, HTTPForbidden, HTTPServiceUnavailable, RococoError } from '../core/errors';
import type { Request } from '../core/request';
import { Response } from '../core/response';
import type { WebSocketOptions } from '../decorators/websocket';
import { WebSocketConnection } from './connection';

/** What a `@WebSocket` handler is: it gets the connection and the upgrade request. */
export type WebSocketHandler = (ws: WebSocketConnection, req: Request) => unknown;

/** A compiled `@WebSocket` route: its own `ws` server (options are per route) and handler. */
export interface UpgradeRoute {
  server: WebSocketServer;
  handler: WebSocketHandler;
  heartbeat: number;
  allowedOrigins: ReadonlySet<string>;
  origin: string;
}

/**
 * What the upgrade endpoint resolves to once the socket is handed to `ws`: nothing to write.
 * A new one each time: middlewares may change (or replace) the response they get back.
 */
function upgraded(): Response {
  return new Response(null, { status: 101 });
}

const KEY = /^[+/0-9A-Za-z]{21}[AQgw]==$/;
const UPGRADE_SOCKET = Symbol('rococo.upgradeSocket');
const HANDED_OVER = Symbol('rococo.upgradeHandedOver');
const CLOSE_WAIT_MS = 5000;

/**
 * The app's WebSockets: handshake checks, upgrades, the open connections and their handlers,
 * and closing them all when the app closes. Loads `ws` only when the app declares a route.
 */
export class WebSockets {
  private readonly connections = new Set<WebSocketConnection>();
  private readonly handlers = new Set<Promise<void>>();
  private upgrading = 0;
  private closing = false;
  private readonly app: Application;
  private readonly max: number;

  constructor(app: Application, max: number) {
    this.app = app;
    this.max = max;
  }

  /** How many sockets are open. */
  get size(): number {
    return this.connections.size;
  }

  /** Compiles a route's options into its own `ws` server. */
  route(options: WebSocketOptions, handler: WebSocketHandler, origin: string): UpgradeRoute {
    const maxPayload = options.maxPayload ?? 1024 * 1024;
    const heartbeat = options.heartbeat ?? 30_000;
    if (!Number.isInteger(maxPayload) || maxPayload <= 0)
      throw new RococoError(
        'ROCOCO_WEBSOCKET',
        `${origin}: maxPayload must be a positive whole number of bytes`,
      );
    if (!Number.isInteger(heartbeat) || heartbeat < 0)
      throw new RococoError(
        'ROCOCO_WEBSOCKET',
        `${origin}: heartbeat must be a whole number of ms (0 for none)`,
      );
    const protocols = [...(options.protocols ?? [])];
    const { WebSocketServer: Server } = require('ws') as typeof import('ws');
    const server = new Server({
      noServer: true,
      clientTracking: false,
      maxPayload,
      perMessageDeflate: options.perMessageDeflate === true,
      handleProtocols: (offered: Set<string>) => protocols.find((p) => offered.has(p)) ?? false,
    });
    return {
      server,
      handler,
      heartbeat,
      allowedOrigins: new Set(options.allowedOrigins ?? []),
      origin,
    };
  }

  /**
   * Refuses a handshake before any middleware runs: malformed (400), from a foreign browser
   * origin (403), over the socket cap or while closing (503).
   */
  check(req: Request, route: UpgradeRoute): void {
    const h = req.headers;
    if (
      req.method !== 'GET' ||
      (h.upgrade ?? '').toLowerCase() !== 'websocket' ||
      !KEY.test(h['sec-websocket-key'] ?? '') ||
      h['sec-websocket-version'] !== '13'
    ) {
      throw new HTTPBadRequest(
        'Malformed WebSocket handshake: GET with Upgrade: websocket, a 16-byte Sec-WebSocket-Key and Sec-WebSocket-Version: 13',
        {
          headers: { 'sec-websocket-version': '13' },
        },
      );
    }
    const origin = h.origin;
    if (
      origin !== undefined &&
      !route.allowedOrigins.has('*') &&
      !route.allowedOrigins.has(origin) &&
      origin !== `${req.protocol}://${req.host}` &&
      !req.app.origins.trusts(origin, req)
    ) {
      throw new HTTPForbidden(`WebSocket connections from ${origin} are not allowed`);
    }
    if (this.closing) throw new HTTPServiceUnavailable('The server is shutting down');
    if (this.connections.size + this.upgrading >= this.max) {
      throw new HTTPServiceUnavailable('Too many WebSocket connections; try again later', {
        headers: { 'retry-after': '5' },
      });
    }
  }

  /** Remembers the raw socket of an upgrade request until the endpoint takes it. */
  hold(req: Request, socket: Duplex, head: Buffer): void {
    req.state[UPGRADE_SOCKET] = { socket, head };
    this.upgrading++;
  }

  /** Lets go of a held upgrade that did not reach the endpoint (a middleware refused it). */
  release(req: Request): void {
    if (req.state[UPGRADE_SOCKET] !== undefined) {
      req.state[UPGRADE_SOCKET] = undefined;
      this.upgrading--;
    }
  }

  /** The endpoint at the end of the middleware chain: completes the handshake, starts the handler. */
  upgrade(req: Request, route: UpgradeRoute): Promise<Response> {
    const held = req.state[UPGRADE_SOCKET] as { socket: Duplex; head: Buffer } | undefined;
    if (held === undefined)
      return Promise.reject(
        new RococoError('ROCOCO_WEBSOCKET', `${route.origin}: no upgrade in progress`),
      );
    this.release(req);
    if (this.closing)
      return Promise.reject(new HTTPServiceUnavailable('The server is shutting down'));
    req.state[HANDED_OVER] = true;
    // The peer went away while the middlewares ran: its 'close' is past, nothing to wait for.
    if (held.socket.destroyed) return Promise.resolve(upgraded());
    return new Promise((resolve) => {
      route.server.handleUpgrade(
        req.raw as IncomingMessage,
        held.socket,
        held.head,
        (ws: WsSocket) => {
          this.start(ws, req, route);
          resolve(upgraded());
        },
      );
      // ws destroys a socket that died meanwhile without calling back: nothing more to do.
      held.socket.once('close', () => resolve(upgraded()));
    });
  }

  /** Whether the request's socket went to `ws`: from then on nothing may be written on it over HTTP. */
  handedOver(req: Request): boolean {
    return req.state[HANDED_OVER] === true;
  }

  /**
   * Closes every socket with 1001 Going Away, waits (at most 5 s) for their handlers to
   * finish, then cuts off what is left.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const c of this.connections) c.close(1001, 'server shutting down');
    const all = Promise.allSettled([...this.handlers]);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([all, late]);
    clearTimeout(timer);
    for (const c of this.connections) c.terminate();
  }

  private start(ws: WsSocket, req: Request, route: UpgradeRoute): void {
    const conn = new WebSocketConnection(ws, req);
    this.connections.add(conn);
    let timer: NodeJS.Timeout | undefined;
    if (route.heartbeat > 0) {
      let alive = true;
      ws.on('pong', () => (alive = true));
      timer = setInterval(() => {
        if (!alive) return conn.terminate();
        alive = false;
        ws.ping();
      }, route.heartbeat);
      timer.unref();
    }
    void conn.closed.then(() => {
      clearInterval(timer);
      this.connections.delete(conn);
    });
    const log = this.app.log;
    const run = (async () => {
      try {
        await route.handler(conn, req);
        conn.close(1000);
      } catch (err) {
        log.error({ err, url: req.url, route: route.origin }, 'WebSocket handler failed');
        conn.close(1011, 'internal error');
      }
    })();
    this.handlers.add(run);
    void run.then(() => this.handlers.delete(run));
  }
}
