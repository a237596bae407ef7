import type { Application } from '../core/application';
import { RococoError } from '../core/errors';
import type { HandlerMeta } from '../core/metadata';
import type { Plugin } from '../core/plugin';
import type { Request } from '../core/request';
import { Response } from '../core/response';
import { appendVary } from '../core/vary';
import { CORS, type CorsOptions } from '../decorators/cors';
import { compileCors, type CorsConfig } from './config';

/** A preflight's answer: the send hook leaves it as it is. */
class Preflight extends Response {}

/** A list of header names, as `Access-Control-Request-Headers` may carry (reflected only then). */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

/**
 * Cross-origin resource sharing, so that pages of other origins may call the app from a
 * browser (Fastify's `@fastify/cors`, Express's `cors`, NestJS's `enableCors()`). Preflights
 * (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) are answered before any
 * middleware, for any path with a route for the method asked about (204); other responses,
 * errors included, get `Access-Control-Allow-Origin` when their origin is allowed, and
 * `Vary: Origin` whenever the answer depends on it. `@Cors(...)` on a controller or method
 * changes the options there, key by key. Origins allowed with credentials are trusted by
 * `csrf()` and the WebSocket handshake too (`app.origins`).
 *
 * @example
 * createApp({
 *   controllers,
 *   plugins: [cors({ origins: ['https://app.example.com'], credentials: true, maxAge: 600 })],
 * });
 */
export function cors(options: CorsOptions = {}): Plugin {
  const appWide = compileCors(options, 'cors()');
  /** Each route's own config when @Cors changed it (null: turned off), by its handler's metadata. */
  const routes = new WeakMap<HandlerMeta, CorsConfig | null>();
  /** What a handler's config was built from, to catch one inherited method under two @Cors. */
  const sources = new Map<HandlerMeta, { controller: unknown; method: unknown; where: string }>();
  let perRoute = false;

  const configOf = (meta: HandlerMeta | null | undefined): CorsConfig | null => {
    if (!perRoute || meta == null) return appWide;
    const own = routes.get(meta);
    return own === undefined ? appWide : own;
  };

  return {
    name: 'cors',
    setup(app) {
      app.onRequest((req) => preflight(app, req, configOf));
      app.onSend((req, response) => {
        if (response instanceof Preflight) return;
        const config = configOf(req.route?.handler.meta);
        if (config !== null) addHeaders(config, req, response);
      });
      // Origins allowed with credentials are the app's friends: their JSON posts pass CSRF and
      // their WebSockets open. '*' and origins without credentials only read public answers.
      app.origins.add((origin, req) => {
        const config = configOf(req.route?.handler.meta);
        return config !== null && config.credentials && config.allows(origin, req);
      });
    },
    route(route) {
      const method = route.meta.extras.get(CORS) as CorsOptions | false | undefined;
      // A subclass's @Cors replaces its base's, whole.
      const controller = route.controllerValues(CORS).at(-1) as CorsOptions | false | undefined;
      if (method !== undefined) route.claim(CORS);
      if (controller !== undefined) route.claim(CORS);
      const prior = sources.get(route.meta);
      if (prior !== undefined && (prior.controller !== controller || prior.method !== method))
        throw new RococoError(
          'ROCOCO_CORS',
          `${route.origin}: the method is also a route of ${prior.where} under another @Cors; put @Cors on the method in each controller`,
        );
      sources.set(route.meta, { controller, method, where: route.origin });
      if (method === undefined && controller === undefined) return;
      perRoute = true;
      if (method === false || (method === undefined && controller === false)) {
        routes.set(route.meta, null);
        return;
      }
      routes.set(
        route.meta,
        compileCors({ ...options, ...(controller || {}), ...(method || {}) }, route.origin),
      );
    },
    ready() {
      sources.clear();
    },
  };
}

/**
 * Answers a preflight for a route of the path (the one the browser asks about decides the
 * options), before the middlewares: a login check must not refuse it. Anything else, or a
 * preflight for a method the path has no route for, goes on (404, 405 with `Allow`).
 */
function preflight(
  app: Application,
  req: Request,
  configOf: (meta: HandlerMeta | null | undefined) => CorsConfig | null,
): Response | undefined {
  if (req.method !== 'OPTIONS') return undefined;
  const h = req.headers;
  const origin = h.origin;
  const wanted = h['access-control-request-method'];
  if (origin === undefined || wanted === undefined) return undefined;
  const match = app.router.match(wanted, req.path, req.raw);
  if (match === null) return undefined;
  const config = configOf(match.route.handler.meta);
  if (config === null) return undefined;
  const res = new Preflight(null, { status: 204 });
  const headers = res.headers;
  if (!config.any) headers.vary = 'Origin';
  if (!config.allows(origin, req)) return res; // no CORS headers: the browser refuses the call
  headers['access-control-allow-origin'] = config.any ? '*' : origin;
  if (config.credentials) headers['access-control-allow-credentials'] = 'true';
  const methods = config.methods ?? app.router.allowed(req.path).join(', ');
  if (methods !== '') headers['access-control-allow-methods'] = methods;
  const asked = h['access-control-request-headers'];
  if (config.headers !== null) {
    if (config.headers !== '') headers['access-control-allow-headers'] = config.headers;
  } else {
    headers.vary = appendVary(headers.vary, 'Access-Control-Request-Headers');
    if (asked !== undefined && HEADER_LIST.test(asked))
      headers['access-control-allow-headers'] = asked;
  }
  if (config.maxAge !== null) headers['access-control-max-age'] = config.maxAge;
  return res;
}

/** The CORS headers of an actual response (not a preflight), errors included. */
function addHeaders(config: CorsConfig, req: Request, response: Response): void {
  const headers = response.headers;
  if (config.any) {
    // The same for every origin, and for none: no Vary, and caches may share it.
    headers['access-control-allow-origin'] = '*';
    if (config.exposeHeaders !== null)
      headers['access-control-expose-headers'] = config.exposeHeaders;
    return;
  }
  const vary = headers.vary;
  headers.vary = vary === undefined ? 'Origin' : appendVary(vary, 'Origin');
  const origin = req.headers.origin;
  if (origin === undefined || !config.allows(origin, req)) return;
  headers['access-control-allow-origin'] = origin;
  if (config.credentials) headers['access-control-allow-credentials'] = 'true';
  if (config.exposeHeaders !== null)
    headers['access-control-expose-headers'] = config.exposeHeaders;
}
