import type { Middleware } from './middleware';
import type { Request } from './request';
import type { RouteConditions } from './conditions';

/**
 * What the decorators record. Decorators only write here; the scanner reads it once, at
 * `createApp`. Keyed by class, so nothing is registered globally by name.
 */

/** Recorded by `@Controller`. */
export interface ControllerMeta {
  prefix: string;
  name: string | undefined;
}

/** One route declared on a method by `@Get`, `@Route`... */
export interface RouteMeta {
  methods: string[];
  path: string;
  name: string | undefined;
  /** The check an `Expect: 100-continue` request passes before its body is asked for. */
  expect?: ExpectHandler;
  /** What else a request must have for this route. */
  conditions?: RouteConditions;
}

/** A route's check of a request that waits for `100 Continue`: throw an HTTP error to refuse it. */
export type ExpectHandler = (req: Request) => void | Promise<void>;

/** Where a handler parameter's value comes from (`@Param`, `@Query`, `@Body`...). */
export type ParamSource = 'param' | 'query' | 'body' | 'header' | 'req' | 'custom';

/** One handler parameter, as its decorator recorded it. */
export interface ParamMeta {
  source: ParamSource;
  /** The path parameter, query key or header it reads; undefined for the whole query or body. */
  name: string | undefined;
  /** A missing value is `undefined` (or `default`) instead of a 400. */
  optional: boolean;
  /** The value when the request has none. */
  default?: unknown;
  /** A custom decorator's resolver (`createParamDecorator`). */
  resolve?: (req: Request) => unknown;
  /** The decorator as written, for messages: `@Query('page')`. */
  label: string;
}

/** Everything recorded on one handler method. */
export interface HandlerMeta {
  routes: RouteMeta[];
  middlewares: Middleware[];
  /** The decorated parameters, by position; empty for a `(req)` handler. */
  params: ParamMeta[];
  /** Later features (templates, schemas) keep their own data here, by key. */
  extras: Map<symbol, unknown>;
}

const controllers = new WeakMap<Function, ControllerMeta>();
const classMiddlewares = new WeakMap<Function, Middleware[]>();
const handlers = new WeakMap<Function, Map<string, HandlerMeta>>();
const controllerExtras = new WeakMap<Function, Map<symbol, unknown[]>>();

/** Records `@Controller` options on a class. */
export function setControllerMeta(target: Function, meta: ControllerMeta): void {
  controllers.set(target, meta);
}

/** The `@Controller` options of a class, if it has the decorator. */
export function getControllerMeta(target: Function): ControllerMeta | undefined {
  return controllers.get(target);
}

/** Adds class-level middlewares (`@Use` on a class); the first listed runs outermost. */
export function addClassMiddlewares(target: Function, mws: Middleware[]): void {
  // Decorators apply bottom-up: prepend, so `@Use(a) @Use(b)` runs a then b.
  classMiddlewares.set(target, [...mws, ...(classMiddlewares.get(target) ?? [])]);
}

/** Class-level middlewares of a class and its ancestors, the base's first. */
export function getClassMiddlewares(target: Function): Middleware[] {
  const chain: Middleware[] = [];
  for (const cls of lineage(target)) chain.push(...(classMiddlewares.get(cls) ?? []));
  return chain;
}

/**
 * Records `value` under `key` on a class itself, after what it has: class decorators apply
 * bottom-up, so each is put before the ones applied earlier and the values read top to bottom.
 */
export function addControllerExtra(target: Function, key: symbol, value: unknown): void {
  let map = controllerExtras.get(target);
  if (map === undefined) controllerExtras.set(target, (map = new Map()));
  map.set(key, [value, ...(map.get(key) ?? [])]);
}

/**
 * What class decorators recorded on a class and its ancestors, by key: the base's values first,
 * each class's in the order its decorators are written.
 */
export function getControllerExtras(target: Function): Map<symbol, readonly unknown[]> {
  const out = new Map<symbol, unknown[]>();
  for (const cls of lineage(target))
    for (const [k, vs] of controllerExtras.get(cls) ?? [])
      out.set(k, [...(out.get(k) ?? []), ...vs]);
  return out;
}

/** The metadata of a method, created on first use. */
export function handlerMeta(target: Function, method: string): HandlerMeta {
  let map = handlers.get(target);
  if (map === undefined) handlers.set(target, (map = new Map()));
  let meta = map.get(method);
  if (meta === undefined)
    map.set(method, (meta = { routes: [], middlewares: [], params: [], extras: new Map() }));
  return meta;
}

/** Every decorated method of a class, inherited ones included (a subclass's own win). */
export function getHandlerMetas(target: Function): Map<string, HandlerMeta> {
  const out = new Map<string, HandlerMeta>();
  for (const cls of lineage(target)) for (const [k, v] of handlers.get(cls) ?? []) out.set(k, v);
  return out;
}

/** The class and its ancestors, base first. */
function lineage(target: Function): Function[] {
  const chain: Function[] = [];
  for (let c: Function | null = target; c && c !== Function.prototype; c = Object.getPrototypeOf(c))
    chain.unshift(c);
  return chain;
}
