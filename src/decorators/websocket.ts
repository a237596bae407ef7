import { handlerMeta } from '../core/metadata';
import { metaKey } from '../core/plugin';
import { checkOptions } from './options';

/** Where `@WebSocket` records, for the `websockets` plugin. */
export const WEBSOCKET = metaKey('@WebSocket', 'websockets');

/** Options of `@WebSocket`. */
export interface WebSocketOptions {
  /** The route's name for `app.url()`, prefixed with the controller's name. */
  name?: string;
  /** Subprotocols the route speaks, preferred first; the first one the client offers is chosen. */
  protocols?: readonly string[];
  /** Largest message in bytes; a larger one closes the socket with 1009. 1 MiB by default. */
  maxPayload?: number;
  /** Ms between pings; a peer that has not answered the previous one is cut off. 30000 by default, 0 for none. */
  heartbeat?: number;
  /**
   * Origins (`https://app.example.com`) allowed besides the app's own host and those the app's
   * plugins trust (`app.origins`: the CORS plugin's credentialed ones); `'*'` allows any.
   * A browser's handshake from any other origin gets a 403 (cross-site WebSocket hijacking).
   */
  allowedOrigins?: readonly string[];
  /** permessage-deflate compression; off by default (it costs memory per socket, and CRIME-like leaks). */
  perMessageDeflate?: boolean;
}

/** The keys {@link WebSocketOptions} accepts. */
export const WEBSOCKET_OPTION_KEYS = [
  'name',
  'protocols',
  'maxPayload',
  'heartbeat',
  'allowedOrigins',
  'perMessageDeflate',
];

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
