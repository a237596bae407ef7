import { handlerMeta } from '../core/metadata';
import { WEBSOCKET, WEBSOCKET_OPTION_KEYS, type WebSocketOptions } from '../websocket/server';
import { checkOptions } from './options';

/**
 * Declares a WebSocket handler on a path of the same router as HTTP (regex parameters, names,
 * `app.url`). App, controller and method middlewares run on the upgrade request, and nothing is
 * upgraded before they all pass; a plain GET gets 426. The handler gets the connection and the
 * request; returning closes the socket with 1000, throwing closes it with 1011 (and is logged).
 *
 * @example
 * @WebSocket('/<project_id:\\d+>/live', { name: 'live' })
 * async live(ws: WebSocketConnection, req: Request) {
 *   for await (const msg of ws) await ws.sendJson({ echo: msg.json() });
 * }
 */
export function WebSocket(path = '', options?: WebSocketOptions): MethodDecorator {
  checkOptions(`@WebSocket('${path}')`, options, WEBSOCKET_OPTION_KEYS);
  return (target, key) => {
    if (typeof key === 'symbol') throw new TypeError('WebSocket handlers must have string names');
    const meta = handlerMeta(target.constructor, key);
    meta.routes.push({ methods: ['GET'], path, name: options?.name });
    meta.extras.set(WEBSOCKET, { ...options });
  };
}
