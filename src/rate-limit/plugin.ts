import type { Redis } from 'ioredis';
import type { Settings } from '../core/application';
import { HTTPError, RococoError } from '../core/errors';
import { checkOptions, readSetting } from '../core/options';
import type { Plugin, RouteBuild } from '../core/plugin';
import type { Request } from '../core/request';
import { Response, toResponse } from '../core/response';
import {
  LIMIT_OPTION_KEYS,
  RATE_LIMIT,
  type RateLimitOptions,
  type RecordedLimit,
} from '../decorators/rate-limit';
import { isSessionsMiddleware } from '../sessions/middleware';
import { checkRedisDown, Counters, type Counted, type RedisDown } from './counters';
import { limitField, policyField, tooManyRequests } from './headers';
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
  let inRedis = false;
  const compiled = new Map<RecordedLimit, Limit>();

  const limitsOf = (route: RouteBuild, settings: Settings): Limit[] => {
    const own = route.meta.extras.get(RATE_LIMIT) as RecordedLimit[] | undefined;
    // Every class limit of the controller's lineage applies, base first, then the method's.
    const onClasses = route.controllerValues(RATE_LIMIT) as RecordedLimit[];
    if (own !== undefined || onClasses.length > 0) route.claim(RATE_LIMIT);
    const limits = appLimit === null ? [] : [appLimit];
    for (const recorded of [...onClasses, ...(own ?? [])]) {
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
      const where = url === false || url === '' ? null : url;
      inRedis = where !== null;
      counters = new Counters(app.log, {
        redis: where,
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
      route.handler = limited(route.handler, limits, counters, headers);
      route.answers[429] =
        'Too many requests: a rate limit of this route is spent (`Retry-After` says when to try again)';
      if (redisDown === 'refuse' && inRedis)
        route.answers[503] = 'Rate limits cannot be checked for a moment (Redis is down)';
    },
  };
}

/**
 * The route's handler behind its limits. The fields go on the response the handler gives (a
 * plain object becomes its JSON Response here), not through an app-wide send hook: that would
 * cost every route of the app the kernel's plain-object fast path. A limit counted in memory
 * with a synchronous key costs no promise: the handler's own result goes back as it is.
 */
function limited(
  inner: (req: Request) => unknown,
  limits: readonly Limit[],
  counters: Counters,
  headers: boolean,
): (req: Request) => unknown {
  const decide = (req: Request, counted: readonly Counted[]): unknown => {
    let failures = false;
    for (const c of counted) {
      if (c.refused) throw tooManyRequests(counted);
      if (c.limit.failures) failures = true;
    }
    if (failures) return withFailures(req, inner, counted, counters, headers);
    if (!headers || counted.length === 0) return inner(req);
    const policy = policyField(counted);
    const limit = limitField(counted);
    let out: unknown;
    try {
      out = inner(req);
    } catch (e) {
      throw errorWithFields(e, policy, limit);
    }
    if (!(out instanceof Promise)) return withFields(out, policy, limit);
    return out.then(
      (v) => withFields(v, policy, limit),
      (e: unknown) => {
        throw errorWithFields(e, policy, limit);
      },
    );
  };
  if (limits.length === 1) {
    // The common case, one limit: no arrays of answers, no Promise.all.
    const only = limits[0];
    const one = (req: Request, key: string | undefined): unknown => {
      if (key === undefined) return inner(req);
      const answer = counters.check(only, key);
      if (answer instanceof Promise)
        return answer.then((a) => decide(req, a === null ? NONE : [a]));
      return decide(req, answer === null ? NONE : [answer]);
    };
    return (req) => {
      const key = only.keyOf(req);
      return key instanceof Promise ? key.then((k) => one(req, k)) : one(req, key);
    };
  }
  return (req) => {
    let pending = false;
    const answers: (Counted | null | Promise<Counted | null>)[] = [];
    try {
      for (const limit of limits) {
        const key = limit.keyOf(req);
        const answer =
          key instanceof Promise
            ? key.then((k) => (k === undefined ? null : counters.check(limit, k)))
            : key === undefined
              ? null
              : counters.check(limit, key);
        if (answer instanceof Promise) pending = true;
        answers.push(answer);
      }
    } catch (e) {
      // A key function threw: the answers already under way are dropped, not left unhandled.
      for (const a of answers) if (a instanceof Promise) a.catch(() => {});
      throw e;
    }
    const counts = (all: readonly (Counted | null)[]) =>
      decide(
        req,
        all.filter((a): a is Counted => a !== null),
      );
    if (!pending) return counts(answers as (Counted | null)[]);
    return Promise.all(answers).then(counts);
  };
}

const NONE: readonly Counted[] = [];

/**
 * The fields on what the handler returned: a response or an HTTP error; any other value becomes
 * the response the kernel would have made of it.
 */
function withFields(out: unknown, policy: string, limit: string): unknown {
  if (out instanceof HTTPError) return errorWithFields(out, policy, limit);
  const response = toResponse(out);
  response.headers['ratelimit-policy'] = policy;
  response.headers.ratelimit = limit;
  return response;
}

/** The fields on what the handler threw, when it is an HTTP error (a 500 goes as it is). */
function errorWithFields(e: unknown, policy: string, limit: string): unknown {
  if (e instanceof HTTPError) {
    e.headers['ratelimit-policy'] = policy;
    e.headers.ratelimit = limit;
  }
  return e;
}

/**
 * A route with `failures` limits: a 4xx is a failed attempt; a success (a redirect included: a
 * login's) may forget them. The fields then say what the counts are after the request.
 */
async function withFailures(
  req: Request,
  inner: (req: Request) => unknown,
  counted: readonly Counted[],
  counters: Counters,
  headers: boolean,
): Promise<unknown> {
  const failures = counted.filter((c) => c.limit.failures);
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
    throw headers ? errorWithFields(e, policyField(counted), limitField(counted)) : e;
  }
  await settle(out instanceof Response || out instanceof HTTPError ? out.status : 200);
  return headers ? withFields(out, policyField(counted), limitField(counted)) : out;
}

/** A failed attempt: a 4xx of the handler's own. */
function isClientError(status: number): boolean {
  return status >= 400 && status < 500;
}
