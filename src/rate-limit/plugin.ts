import type { Redis } from 'ioredis';
import type { Application, Settings } from '../core/application';
import { HTTPError, RococoError } from '../core/errors';
import { checkOptions, readSetting } from '../core/options';
import type { Plugin, RouteBuild } from '../core/plugin';
import type { Request } from '../core/request';
import { Response } from '../core/response';
import {
  controllerRateLimits,
  LIMIT_OPTION_KEYS,
  RATE_LIMIT,
  type RateLimitOptions,
  type RecordedLimit,
} from '../decorators/rate-limit';
import { isSessionsMiddleware } from '../sessions/middleware';
import { checkRedisDown, Counters, type Counted, type RedisDown } from './counters';
import { rateLimitFields, tooManyRequests } from './headers';
import { Limit } from './limit';

/**
 * What {@link rateLimit} takes: the app's own limit (optional), and where limits count.
 *
 * @example
 * rateLimit({ points: 300, duration: 60, redis: settings.REDIS_URL, redisDown: 'memory', prefix: 'tracker:ratelimit:' })
 */
export interface RateLimitPluginOptions extends Partial<RateLimitOptions> {
  /**
   * Where limits count: a Redis URL or an ioredis client (shared by every worker and host), or
   * `false` for this process's memory. By default the `REDIS_URL` setting, when it is set.
   */
  redis?: string | Redis | false;
  /** Prefix of the Redis keys; `rococo:ratelimit:` by default. */
  prefix?: string;
  /** What requests meet while Redis is down: `'allow'` (the default), `'memory'` or `'refuse'` (503). See {@link RedisDown}. */
  redisDown?: RedisDown;
  /** How long a Redis command may take, in ms; 1000 by default. */
  timeout?: number;
  /** While Redis fails, at most one log line per kind of failure in this many ms (10000). */
  outageLogInterval?: number;
  /**
   * The `RateLimit` and `RateLimit-Policy` fields on every response of a limited route (true by
   * default); a 429 has them whatever this says.
   */
  headers?: boolean;
}

const PLUGIN_KEYS = [
  ...LIMIT_OPTION_KEYS,
  'redis',
  'prefix',
  'redisDown',
  'timeout',
  'outageLogInterval',
  'headers',
];

const VERDICTS = Symbol('rococo.rateLimits');

/**
 * Rate limits (rate-limiter-flexible): the app's own limit, `rateLimit({ points, duration })`,
 * on every controller route, and the limits of `@RateLimit` routes and controllers. Counted in
 * memory, or in Redis when the app has `REDIS_URL` (every worker and host then shares one
 * budget). A spent limit is a 429 problem with `Retry-After` and the IETF `RateLimit` fields.
 *
 * Limits wrap the route's handler inside its middlewares (the session is loaded when the key is
 * the session's user), after the plugins listed before this one: list it last, so that a refused
 * request costs no validation. Requests that match no route (404, 405) and the routes of
 * plugins (static files) are not counted.
 *
 * @example
 * createApp({ controllers, plugins: [schemas(), rateLimit({ points: 300, duration: 60 })] });
 */
export function rateLimit(options: RateLimitPluginOptions = {}): Plugin {
  checkOptions('rateLimit', options, PLUGIN_KEYS);
  const { points, duration, redis, prefix = 'rococo:ratelimit:', timeout = 1000 } = options;
  if ((points === undefined) !== (duration === undefined))
    throw new RococoError(
      'ROCOCO_RATE_LIMIT',
      'rateLimit: give both points and duration for the app-wide limit, or neither',
    );
  if (!(typeof timeout === 'number' && timeout > 0 && Number.isFinite(timeout)))
    throw new RococoError(
      'ROCOCO_RATE_LIMIT',
      `rateLimit: timeout must be a positive number of ms, got ${String(timeout)}`,
    );
  if (typeof prefix !== 'string')
    throw new RococoError('ROCOCO_RATE_LIMIT', 'rateLimit: prefix must be a string');
  const redisDown = checkRedisDown(options.redisDown ?? 'allow');
  const headers = options.headers ?? true;
  let appLimit: Limit | null = null;
  let counters: Counters;
  const compiled = new Map<RecordedLimit, Limit>();
  let hooked = false;

  const limitsOf = (route: RouteBuild, settings: Settings): Limit[] => {
    const own = route.meta.extras.get(RATE_LIMIT) as RecordedLimit[] | undefined;
    if (own !== undefined) route.claim(RATE_LIMIT);
    const limits = appLimit === null ? [] : [appLimit];
    for (const recorded of [...controllerRateLimits(route.controller), ...(own ?? [])]) {
      let limit = compiled.get(recorded);
      if (limit === undefined) {
        limit = new Limit(recorded.options, `@RateLimit on ${recorded.scope}`, settings);
        counters.attach(limit, recorded.scope);
        compiled.set(recorded, limit);
      }
      limits.push(limit);
    }
    const names = new Set<string>();
    for (const limit of limits) {
      if (names.has(limit.name))
        throw new RococoError(
          'ROCOCO_RATE_LIMIT',
          `${route.origin}: two rate limits are named '${limit.name}': give them names of their own (name: '...')`,
        );
      names.add(limit.name);
      if (limit.sessionKey !== undefined && !route.middlewares.some(isSessionsMiddleware))
        throw new RococoError(
          'ROCOCO_RATE_LIMIT',
          `${route.origin}: ${limit.where} keys by the session's '${limit.sessionKey}', but the route has no sessions() middleware`,
        );
    }
    return limits;
  };

  return {
    name: 'rate-limit',
    setup(app) {
      const url = redis ?? readSetting(app.settings, 'REDIS_URL', 'string', '');
      counters = new Counters(app.log, {
        redis: url === false || url === '' ? null : url,
        prefix,
        timeout,
        redisDown,
        outageLogInterval: options.outageLogInterval,
      });
      if (points !== undefined) {
        appLimit = new Limit(
          {
            points,
            duration: duration as number,
            key: options.key,
            name: options.name ?? 'default',
            failures: options.failures,
            resetOnSuccess: options.resetOnSuccess,
            block: options.block,
          },
          'rateLimit',
          app.settings,
        );
        counters.attach(appLimit, 'app');
      }
      app.on('startup', () => counters.ready());
      app.on('cleanup', () => counters.close());
    },
    route(route, app) {
      const limits = limitsOf(route, app.settings);
      if (limits.length === 0) return;
      if (headers && !hooked) {
        hooked = true;
        addHeaders(app);
      }
      route.handler = limited(route.handler, limits, counters, headers);
    },
  };
}

/** Puts the `RateLimit` fields of what the limits said on the response (success or error). */
function addHeaders(app: Application): void {
  app.onSend((req, response) => {
    if (req.route === null) return;
    const verdicts = req.state[VERDICTS] as Counted[] | undefined;
    if (verdicts === undefined || verdicts.length === 0) return;
    const fields = rateLimitFields(verdicts);
    response.headers['ratelimit-policy'] = fields['ratelimit-policy'];
    response.headers.ratelimit = fields.ratelimit;
  });
}

/** The route's handler behind its limits. */
function limited(
  inner: (req: Request) => unknown,
  limits: readonly Limit[],
  counters: Counters,
  headers: boolean,
): (req: Request) => Promise<unknown> {
  const check = async (limit: Limit, req: Request): Promise<Counted | null> => {
    const key = await limit.keyOf(req);
    return key === undefined ? null : counters.check(limit, key);
  };
  return async (req) => {
    const counted: Counted[] = [];
    const answers =
      limits.length === 1
        ? [await check(limits[0], req)]
        : await Promise.all(limits.map((l) => check(l, req)));
    for (const a of answers) if (a !== null) counted.push(a);
    if (headers) req.state[VERDICTS] = counted;
    if (counted.some((c) => c.refused)) throw tooManyRequests(counted);
    const failures = counted.filter((c) => c.limit.failures);
    if (failures.length === 0) return inner(req);
    // A 4xx is a failed attempt; a success (a redirect included: a login's) may forget them.
    const settle = (status: number) =>
      isClientError(status)
        ? Promise.all(failures.map((c) => counters.failed(c)))
        : status < 400
          ? Promise.all(
              failures.filter((c) => c.limit.resetOnSuccess).map((c) => counters.succeeded(c)),
            )
          : undefined;
    let out: unknown;
    try {
      out = await inner(req);
    } catch (e) {
      if (e instanceof HTTPError) await settle(e.status);
      throw e;
    }
    await settle(out instanceof Response || out instanceof HTTPError ? out.status : 200);
    return out;
  };
}

/** A failed attempt: a 4xx of the handler's own. */
function isClientError(status: number): boolean {
  return status >= 400 && status < 500;
}
