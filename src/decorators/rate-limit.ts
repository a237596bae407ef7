import type { Settings } from '../core/application';
import { handlerMeta } from '../core/metadata';
import { metaKey, recordOnController } from '../core/plugin';
import type { Request } from '../core/request';
import { checkOptions } from './options';

/** Where `@RateLimit` records, for the `rate-limit` plugin (`rateLimit()`). */
export const RATE_LIMIT = metaKey('@RateLimit', 'rate-limit');

/**
 * Whose budget a request spends: `'ip'`, the client's address (`req.ip`: behind a proxy, set
 * `TRUST_PROXY`); `{ session: 'user_id' }`, the value the session keeps under that key (the
 * address when it has none; the route must go through `sessions()`); or a function of the
 * request, which may read the body (the handler can still read it). A function that returns
 * `undefined`, `null` or `''` leaves the request out of this limit.
 *
 * @example
 * key: 'ip'
 * key: { session: 'user_id' }
 * key: (req) => req.headers['x-api-key'] as string | undefined
 */
export type RateLimitKey =
  | 'ip'
  | { readonly session: string }
  | ((req: Request) => string | null | undefined | Promise<string | null | undefined>);

/**
 * A number, or a function that reads it from the app's settings once, at startup (limits an
 * operator tunes without a release): `(settings) => settings.LOGIN_ATTEMPTS as number`.
 */
export type FromSettings = number | ((settings: Settings) => number);

/**
 * One limit: `points` requests per `duration` seconds for each key.
 *
 * @example
 * { points: 60, duration: 60, key: { session: 'user_id' }, name: 'writes' }
 */
export interface RateLimitOptions {
  /** How many requests (or, with `failures`, failed requests) a key may make per `duration`. */
  points: FromSettings;
  /** The window, in whole seconds. */
  duration: FromSettings;
  /** Whose budget it is; `'ip'` by default. See {@link RateLimitKey}. */
  key?: RateLimitKey;
  /**
   * The policy's name in the `RateLimit` headers and the 429 problem; also part of its Redis
   * keys. `<points>-in-<duration>s` by default; two limits of one route need different names.
   */
  name?: string;
  /**
   * Counts only the requests the route answers with a 4xx (wrong passwords): a key that has
   * failed `points` times in `duration` is refused; successes cost nothing. Brute-force guards.
   */
  failures?: boolean;
  /**
   * With `failures`: a success (not a 4xx) forgets the key's failures, so the limit counts
   * failures in a row (an account's wrong passwords until the right one).
   */
  resetOnSuccess?: boolean;
  /** Once the budget is spent, the key is refused for this many seconds (not only until the window ends). */
  block?: FromSettings;
}

/** The keys {@link RateLimitOptions} knows (the plugin's options add their own). */
export const LIMIT_OPTION_KEYS = [
  'points',
  'duration',
  'key',
  'name',
  'failures',
  'resetOnSuccess',
  'block',
];

/** A limit as a decorator recorded it: its options, and what shares its budget. */
export interface RecordedLimit {
  readonly options: RateLimitOptions;
  /** `AuthController.login` for a method's limit, `AuthController` for a controller's (one budget for all its routes). */
  readonly scope: string;
}

/**
 * Limits how often a route (on a method) or each route of a controller (on the class, one
 * budget shared by its routes) is called, besides the app's `rateLimit()` limit. Several may be
 * stacked: each is checked, and the first spent one answers 429. Needs the `rateLimit()` plugin.
 *
 * @example
 * @Post('/login')
 * @RateLimit({ name: 'account', points: 5, duration: 900, failures: true, key: async (req) => (await req.form()).get('email')?.toString().toLowerCase() })
 * @RateLimit({ name: 'address', points: 50, duration: 3600, failures: true })
 * async login(req: Request) { ... }
 */
export function RateLimit(options: RateLimitOptions): ClassDecorator & MethodDecorator {
  checkOptions('@RateLimit', options, LIMIT_OPTION_KEYS);
  return ((target: object, key?: string | symbol) => {
    if (key === undefined) {
      const cls = target as Function;
      // One object per decorator: the plugin gives each one budget, shared by the class's routes.
      const limit: RecordedLimit = { options, scope: cls.name };
      recordOnController(RATE_LIMIT, limit)(cls);
      return;
    }
    const cls = (target as { constructor: Function }).constructor;
    const meta = handlerMeta(cls, String(key));
    const limits = (meta.extras.get(RATE_LIMIT) as RecordedLimit[] | undefined) ?? [];
    meta.extras.set(RATE_LIMIT, [{ options, scope: `${cls.name}.${String(key)}` }, ...limits]);
  }) as ClassDecorator & MethodDecorator;
}
