import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Application } from './application';
import type { Constructor } from './container';
import { addControllerExtra, handlerMeta, type HandlerMeta } from './metadata';
import type { Endpoint, Middleware } from './middleware';
import type { Request } from './request';
import type { RouteParam } from './params';

/**
 * A feature of an application, plugged in through `createApp({ plugins })`: the database,
 * templates, static files, schemas, OpenAPI, WebSockets, and yours. The kernel knows none of
 * them; each is written against this interface alone (aiohttp's `setup(app)`, Fastify's
 * `register`). Every method is optional and runs at startup: a plugin that wraps no route
 * costs nothing per request.
 *
 * @example
 * const timing: Plugin = {
 *   name: 'timing',
 *   route(route) {
 *     if (!route.meta.extras.has(TIMED)) return;
 *     const inner = route.handler;
 *     route.handler = async (req) => { const t = Date.now(); try { return await inner(req); } finally { req.log.info({ ms: Date.now() - t }); } };
 *   },
 * };
 */
export interface Plugin {
  /** Unique in an app: dependencies and errors name it. */
  readonly name: string;
  /** Plugins it needs, by name; set up before it. A missing one stops startup, naming it. */
  readonly dependencies?: readonly string[];
  /**
   * Once, in dependency order, before any controller route is built: read settings, register
   * in the container, add lifecycle hooks and routes (`app.addRoute`), publish what it
   * provides (`app.decorate`), add render context for view plugins.
   */
  setup?(app: Application): void;
  /**
   * Each controller route as it is built, in declaration order, after the plugins before it
   * in setup order: wrap `route.handler`, set `route.upgrade`, or throw a `RococoError` to
   * refuse the route. Claims the metadata keys it builds with `route.claim(key)`.
   */
  route?(route: RouteBuild, app: Application): void;
  /** Once every route is in the table (`app.router.routes`): read it (an OpenAPI document). */
  ready?(app: Application): void;
  /** Each node server the app makes (`listen()`, `createServer()`): listen to its events. */
  server?(server: Server, app: Application): void;
}

/** A controller route while the plugins build it. */
export interface RouteBuild {
  /** Where it was declared: `ProjectsController.show`. */
  readonly origin: string;
  readonly name: string | undefined;
  readonly methods: readonly string[];
  /** Its full pattern: `/projects/<project_id:id>`. */
  readonly pattern: string;
  /** What the decorators recorded on the handler method. */
  readonly meta: HandlerMeta;
  /**
   * What class decorators recorded under `key` on its controller and the controller's ancestors
   * (`recordOnController`): the base class's values first, each class's in the order its
   * decorators are written; empty if none. A plugin picks its rule: the last value (the
   * subclass's) wins, the values are layered in order, or all apply.
   *
   * @example
   * const layers = route.controllerValues(TIMED) as TimedOptions[];
   * const nearest = layers.at(-1);
   */
  controllerValues(key: symbol): readonly unknown[];
  readonly controller: Constructor;
  /** The controller instance the handler is bound to. */
  readonly instance: object;
  /** The controller's method, bound to the instance, with whatever arguments a plugin gives it (a WebSocket handler's `(ws, req)`). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a controller method takes what its plugin gives it
  readonly action: (...args: any[]) => unknown;
  /** App, controller and method middlewares, outermost first. */
  readonly middlewares: readonly Middleware[];
  /**
   * What the route does with a request: the controller method at first, then each plugin's
   * wrapper around the one before. Its result becomes the response (JSON, a Response...).
   */
  handler: (req: Request) => unknown;
  /**
   * Statuses the plugins' wrappers may answer on this route instead of the handler, and why (a
   * spent rate limit's 429): the route table keeps them (`RouteInfo.answers`), and the OpenAPI
   * document lists them. A plugin adds to it.
   *
   * @example
   * route.answers[429] = 'Too many requests: a rate limit of the route is spent';
   */
  readonly answers: Record<number, string>;
  /**
   * What the route does with an HTTP `Upgrade` request (WebSockets): `listen()` servers then
   * pass such requests here, with the socket, instead of answering them.
   */
  upgrade?: UpgradeHandler;
  /**
   * The route's own JSON writer (Fastify's per-route serializer): for a value the handler
   * returned that is an object but not a plain one or an array (those go to `JSON.stringify`
   * at once), it gives that value's JSON, exactly the string `JSON.stringify` would give, or
   * `undefined` for "not mine": the value then goes out as before (`toResponse`). Wherever the
   * value becomes the response: written at once on the kernel's fast path, or as the JSON body
   * of the `Response` that the route's middlewares and the send hooks see. A plugin that writes
   * the classes its route returns sets it in `route()`; a later plugin may wrap it.
   *
   * @example
   * route(route) {
   *   route.serialize = (value) => (value instanceof Point ? `[${value.x},${value.y}]` : undefined);
   * }
   */
  serialize?: RouteSerializer;
  /** Says that this plugin builds what `key` recorded: a key no plugin claims stops startup. */
  claim(key: symbol): void;
  /**
   * The handler's decorated parameters (`@Param`, `@Body`...; empty for a `(req)` handler). A
   * plugin that handles one (a `@Body()` of a schema class) sets its `resolve`.
   */
  readonly params: readonly RouteParam[];
  /** Wraps an endpoint in the route's middlewares (as the kernel does for `handler`). */
  compose(endpoint: Endpoint): Endpoint;
}

/** A route's JSON writer: see {@link RouteBuild.serialize}. */
export type RouteSerializer = (value: object) => string | undefined;

/** A route's answer to an `Upgrade` request: the request, the raw socket and the first bytes. */
export type UpgradeHandler = (req: Request, socket: Duplex, head: Buffer) => void;

/**
 * A decorator's metadata key: the decorator's name and the plugin that builds what it
 * records, so that a route decorated for a plugin that is not installed stops startup
 * with a message that names both.
 *
 * @example
 * export const TIMED = metaKey('@Timed', 'timing');
 */
export function metaKey(
  decorator: string,
  plugin: string,
  options: { required?: boolean } = {},
): symbol {
  const key = Symbol(`${plugin}:${decorator}`);
  KEYS.set(key, { decorator, plugin, required: options.required ?? true });
  return key;
}

/**
 * A method decorator that records `value` under `key` on the handler, and does nothing else:
 * what a plugin's own decorator is (its plugin reads it in `route()`).
 *
 * @example
 * export const Timed = (label: string) => recordOnHandler(TIMED, { label });
 */
export function recordOnHandler(key: symbol, value: unknown): MethodDecorator {
  return (target, method) => {
    handlerMeta(target.constructor, String(method)).extras.set(key, value);
  };
}

/**
 * A class decorator that records `value` under `key` on the controller, for all its routes and
 * those of its subclasses (`route.controllerValues(key)` in a plugin's `route()`), and does
 * nothing else; a key no installed plugin claims stops startup as a method's does. Stacked
 * decorators of one key all record (read top to bottom). The class-wide form of
 * {@link recordOnHandler}.
 *
 * @example
 * export const Timed = (label: string) => recordOnController(TIMED, { label });
 * @Timed('admin') @Controller('/admin') class AdminController { ... }
 */
export function recordOnController(key: symbol, value: unknown): ClassDecorator {
  return (target) => {
    addControllerExtra(target, key, value);
  };
}

/** What {@link metaKey} said of a key, if it made it. */
export function describeKey(
  key: symbol,
): { decorator: string; plugin: string; required: boolean } | undefined {
  return KEYS.get(key);
}

const KEYS = new Map<symbol, { decorator: string; plugin: string; required: boolean }>();

/** Whether a value looks like a plugin, for the checks of `createApp({ plugins })`. */
export function isPlugin(value: unknown): value is Plugin {
  return value !== null && typeof value === 'object' && typeof (value as Plugin).name === 'string';
}
