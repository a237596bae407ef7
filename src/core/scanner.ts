import type { Constructor } from './container';
import { RococoError } from './errors';
import {
  getClassMiddlewares,
  getControllerExtras,
  getControllerMeta,
  getHandlerMetas,
  type ExpectHandler,
  type HandlerMeta,
} from './metadata';
import type { Middleware } from './middleware';
import type { RouteConditions } from './conditions';

/** One route read off a controller's decorators, before the router compiles it. */
export interface ScannedRoute {
  controller: Constructor;
  /** Name of the handler method on the controller. */
  handler: string;
  methods: string[];
  path: string;
  /** Full route name: `<controller name>.<route name>`, or the route name alone. */
  name: string | undefined;
  /** Controller then method middlewares (the app's are added by the application). */
  middlewares: Middleware[];
  meta: HandlerMeta;
  /** What class decorators recorded on the controller (and its ancestors), by key. */
  controllerExtras: ReadonlyMap<symbol, readonly unknown[]>;
  /** `ProjectsController.show`, for error messages. */
  origin: string;
  /** The route's `expect` check, if any. */
  expect: ExpectHandler | undefined;
  /** The route's conditions, if any. */
  conditions: RouteConditions | undefined;
}

/** Reads the decorators of the given controllers once, at startup, into plain route data. */
export function scanControllers(controllers: readonly Constructor[]): ScannedRoute[] {
  const out: ScannedRoute[] = [];
  const seen = new Set<Constructor>();
  for (const cls of controllers) {
    if (typeof cls !== 'function')
      throw new RococoError('ROCOCO_CONTROLLER', `controllers: ${String(cls)} is not a class`);
    if (seen.has(cls))
      throw new RococoError('ROCOCO_CONTROLLER', `controllers: ${cls.name} is listed twice`);
    seen.add(cls);
    const meta = getControllerMeta(cls);
    if (meta === undefined) {
      throw new RococoError(
        'ROCOCO_CONTROLLER',
        `controllers: ${cls.name} has no @Controller() decorator`,
      );
    }
    const classMws = getClassMiddlewares(cls);
    const controllerExtras = getControllerExtras(cls);
    let routes = 0;
    for (const [method, hmeta] of getHandlerMetas(cls)) {
      const origin = `${cls.name}.${method}`;
      if (hmeta.routes.length === 0) continue;
      if (typeof (cls.prototype as Record<string, unknown>)[method] !== 'function') {
        throw new RococoError(
          'ROCOCO_CONTROLLER',
          `${origin} is decorated as a route but is not a method`,
        );
      }
      for (const r of hmeta.routes) {
        if (r.path !== '' && !r.path.startsWith('/')) {
          throw new RococoError(
            'ROCOCO_ROUTE_PATTERN',
            `${origin}: the path '${r.path}' must start with '/' (or be empty for the prefix itself)`,
          );
        }
        const name =
          r.name === undefined ? undefined : meta.name ? `${meta.name}.${r.name}` : r.name;
        out.push({
          controller: cls,
          handler: method,
          methods: r.methods,
          path: joinPath(meta.prefix, r.path),
          name,
          middlewares: [...classMws, ...hmeta.middlewares],
          meta: hmeta,
          controllerExtras,
          origin,
          expect: r.expect,
          conditions: r.conditions,
        });
        routes++;
      }
    }
    if (routes === 0)
      throw new RococoError(
        'ROCOCO_CONTROLLER',
        `${cls.name} declares no routes (@Get, @Post, @Route...)`,
      );
  }
  return out;
}

/** Joins a prefix and a path without doubling the slash between them. */
export function joinPath(prefix: string, path: string): string {
  if (path === '') return prefix === '' ? '/' : prefix;
  const head = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return head + (path.startsWith('/') ? path : '/' + path);
}
