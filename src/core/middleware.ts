import type { Application } from './application';
import type { Request } from './request';
import type { Response } from './response';

/**
 * Wraps everything inside it: `next()` runs the rest of the chain and the handler. A
 * middleware can answer without calling `next()`, change the response it gets back, or catch
 * what the handler threw, HTTP errors included (aiohttp's error-page middleware):
 *
 * @example
 * const errorPages: Middleware = async (req, next) => {
 *   try { return await next(); }
 *   catch (e) { if (e instanceof HTTPNotFound) return html('<h1>Not here</h1>', { status: 404 }); throw e; }
 * };
 */
export interface Middleware {
  (req: Request, next: () => Promise<Response>): Promise<Response>;
  /**
   * Called once by `createApp` with the app and the chain the middleware is in, before the
   * first request: a middleware that needs the app's settings, templates or lifecycle hooks
   * (sessions, CSRF) sets itself up here, and a mistake stops startup instead of a request.
   */
  setup?(app: Application, chain: readonly Middleware[]): void;
}

/** The innermost step of a chain: the handler, its result already a response. */
export type Endpoint = (req: Request) => Promise<Response>;

/**
 * Wraps `endpoint` in `middlewares`, the first outermost. Built once per route at startup;
 * a request only allocates the `next` closure of each layer it goes through.
 */
export function compose(middlewares: readonly Middleware[], endpoint: Endpoint): Endpoint {
  let chain = endpoint;
  for (let i = middlewares.length - 1; i >= 0; i--) {
    const mw = middlewares[i];
    const next = chain;
    chain = (req) => {
      try {
        return mw(req, () => next(req));
      } catch (e) {
        // A middleware that is not async can still throw: make it a rejection like the others.
        return Promise.reject(e);
      }
    };
  }
  return chain;
}
