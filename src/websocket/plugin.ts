import { HTTPUpgradeRequired, RococoError } from '../core/errors';
import { readSetting } from '../core/options';
import type { Plugin } from '../core/plugin';
import type { Request } from '../core/request';
import { writeRawResponse } from '../core/response';
import { describeKey } from '../core/plugin';
import { WEBSOCKET, type WebSocketOptions } from '../decorators/websocket';
import type { WebSocketConnection } from './connection';
import { WebSockets } from './server';

/** The `websockets` plugin, as `app.plugin<WebSocketsPlugin>('websockets')` finds it. */
export interface WebSocketsPlugin extends Plugin {
  /** How many of the app's WebSockets are open now (for metrics). */
  readonly open: number;
}

/**
 * WebSockets on `ws` for `@WebSocket` routes, in the app's own router: the handshake is
 * checked (400 malformed, 403 foreign origin, 503 over `MAX_WEBSOCKETS`), the route's
 * middlewares run on the upgrade request (one that throws refuses it), then the handler gets
 * the connection. A plain GET to the route is a 426. `app.close()` sends 1001 to every socket
 * and waits up to 5 s for the handlers.
 *
 * @example
 * createApp({ controllers: [LiveController], plugins: [websockets()] });
 */
export function websockets(): WebSocketsPlugin {
  let current: WebSockets | undefined;
  const refuse = () => {
    throw new HTTPUpgradeRequired('This is a WebSocket endpoint: connect with Upgrade: websocket', {
      headers: { upgrade: 'websocket' },
    });
  };
  return {
    name: 'websockets',
    get open() {
      return current?.size ?? 0;
    },
    setup(app) {
      const sockets = (current = new WebSockets(
        app,
        readSetting(app.settings, 'MAX_WEBSOCKETS', 'number', 10_000),
      ));
      app.on('shutdown', () => sockets.close());
    },
    route(route, app) {
      const sockets = current as WebSockets; // setup() ran first
      const options = route.meta.extras.get(WEBSOCKET) as WebSocketOptions | undefined;
      if (options === undefined) return;
      route.claim(WEBSOCKET);
      for (const key of route.meta.extras.keys()) {
        const other = describeKey(key);
        if (key !== WEBSOCKET && other?.required)
          throw new RococoError(
            'ROCOCO_WEBSOCKET',
            `${route.origin}: @WebSocket routes cannot have ${other.decorator}`,
          );
      }
      if (route.meta.routes.length > 1)
        throw new RococoError(
          'ROCOCO_WEBSOCKET',
          `${route.origin}: a @WebSocket handler cannot have other routes`,
        );
      const ws = sockets.route(
        options,
        (conn: WebSocketConnection, req: Request) => route.action(conn, req),
        route.origin,
      );
      const chain = route.compose((req) => sockets.upgrade(req, ws));
      route.handler = refuse;
      route.upgrade = (req, socket, head) => {
        try {
          sockets.check(req, ws);
        } catch (e) {
          writeRawResponse(socket, app.errorResponse(req, e));
          return;
        }
        sockets.hold(req, socket, head);
        // Once the endpoint handed the socket to ws, whatever the middlewares return or throw
        // afterwards must not be written on it: it is a WebSocket now.
        chain(req).then(
          (res) => {
            sockets.release(req);
            if (!sockets.handedOver(req)) writeRawResponse(socket, res);
          },
          (e) => {
            sockets.release(req);
            const res = app.errorResponse(req, e);
            if (!sockets.handedOver(req)) writeRawResponse(socket, res);
          },
        );
      };
    },
  };
}
