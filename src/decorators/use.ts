import { addClassMiddlewares, handlerMeta } from '../core/metadata';
import type { Middleware } from '../core/middleware';

/**
 * Wraps a controller's handlers (on the class) or one handler (on a method) in middlewares.
 * App middlewares run first, then the controller's, then the method's; within one `@Use`,
 * and across stacked ones, top to bottom.
 *
 * @example
 * @Use(requireLogin)
 * @Controller('/admin') class AdminController { @Use(audit) @Post('/purge') purge() {} }
 */
export function Use(...middlewares: Middleware[]): ClassDecorator & MethodDecorator {
  for (const mw of middlewares) {
    if (typeof mw !== 'function')
      throw new TypeError(`@Use: ${String(mw)} is not a middleware function`);
  }
  return ((target: object, key?: string | symbol) => {
    if (key === undefined) {
      addClassMiddlewares(target as Function, middlewares);
    } else {
      const meta = handlerMeta((target as { constructor: Function }).constructor, String(key));
      meta.middlewares.unshift(...middlewares);
    }
  }) as ClassDecorator & MethodDecorator;
}
