import type { RouteConditions } from '../core/conditions';
import { handlerMeta, type ExpectHandler } from '../core/metadata';
import { checkOptions } from './options';

/** Options of the route decorators. */
export interface RouteOptions {
  /** The route's name for `app.url()`, prefixed with the controller's name. */
  name?: string;
  /**
   * Runs when a request says `Expect: 100-continue`, before its body is sent: throw an HTTP
   * error (`HTTPUnauthorized`) to refuse a large upload before a byte of it arrives
   * (aiohttp's `expect_handler`).
   */
  expect?: ExpectHandler;
  /**
   * What else a request must have for this route: a `host`, `headers` values, or your own
   * `match(req)`. Routes with the same method and path may differ by conditions; responses of
   * header-conditioned paths carry `Vary`.
   */
  conditions?: RouteConditions;
}

/**
 * Declares a handler for some methods and a path (joined to the controller's prefix).
 * `<name>` matches one path segment, `<name:regex>` what the regex matches.
 *
 * @example
 * @Route(['GET', 'POST'], '/search', { name: 'search' })
 * search(req: Request) { ... }
 */
export function Route(
  methods: string | readonly string[],
  path = '',
  options?: RouteOptions,
): MethodDecorator {
  const list = typeof methods === 'string' ? [methods] : [...methods];
  checkOptions(`@Route(${list.join(', ')} '${path}')`, options, ['name', 'expect', 'conditions']);
  if (options?.expect !== undefined && typeof options.expect !== 'function')
    throw new TypeError(`@Route(${list.join(', ')} '${path}'): expect must be a function`);
  return (target, key) => {
    if (typeof key === 'symbol') throw new TypeError('route handlers must have string names');
    handlerMeta(target.constructor, key).routes.push({
      methods: list,
      path,
      name: options?.name,
      expect: options?.expect,
      conditions: options?.conditions,
    });
  };
}

/** Declares a GET handler (which also answers HEAD). @see Route */
export const Get = (path = '', options?: RouteOptions): MethodDecorator =>
  Route('GET', path, options);
/** Declares a POST handler. @see Route */
export const Post = (path = '', options?: RouteOptions): MethodDecorator =>
  Route('POST', path, options);
/** Declares a PUT handler. @see Route */
export const Put = (path = '', options?: RouteOptions): MethodDecorator =>
  Route('PUT', path, options);
/** Declares a PATCH handler. @see Route */
export const Patch = (path = '', options?: RouteOptions): MethodDecorator =>
  Route('PATCH', path, options);
/** Declares a DELETE handler. @see Route */
export const Delete = (path = '', options?: RouteOptions): MethodDecorator =>
  Route('DELETE', path, options);
/** Declares a HEAD handler (GET handlers answer HEAD without one). @see Route */
export const Head = (path = '', options?: RouteOptions): MethodDecorator =>
  Route('HEAD', path, options);
/** Declares an OPTIONS handler. @see Route */
export const Options = (path = '', options?: RouteOptions): MethodDecorator =>
  Route('OPTIONS', path, options);
