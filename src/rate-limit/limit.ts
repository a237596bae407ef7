import { createHash } from 'node:crypto';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Settings } from '../core/application';
import { RococoError } from '../core/errors';
import type { Request } from '../core/request';
import type { FromSettings, RateLimitKey, RateLimitOptions } from '../decorators/rate-limit';
import { getSession } from '../sessions/middleware';

/** What one limit said of one request: its counter after the request, or that it refused it. */
export interface Verdict {
  readonly limit: Limit;
  /** Points spent in the window (0: no window yet). */
  consumed: number;
  /** Ms until the window ends (or the block does); 0 when there is no window yet. */
  msBeforeNext: number;
  /** Whether this limit refuses the request. */
  readonly refused: boolean;
}

/**
 * A limit as checked per request: its options, compiled once at startup (numbers read from the
 * settings and checked, the key made a function).
 *
 * @example
 * const limit = new Limit({ points: 5, duration: 900, failures: true }, '@RateLimit on AuthController.login', app.settings);
 * const key = await limit.keyOf(req); // undefined: the limit leaves this request alone
 */
export class Limit {
  readonly name: string;
  readonly points: number;
  /** Seconds. */
  readonly duration: number;
  readonly failures: boolean;
  /** With `failures`: a success forgets the key's failures. */
  readonly resetOnSuccess: boolean;
  /** Seconds a spent key stays refused (`block`); 0: until its window ends. */
  readonly block: number;
  /** The session key its budget is kept by, when `key` is `{ session }`. */
  readonly sessionKey: string | undefined;
  /** Where it was declared, for errors: `rateLimit()`, `@RateLimit on AuthController.login`. */
  readonly where: string;
  /** Its counters: in Redis or in memory. Set by the store. */
  store!: RateLimiterAbstract;
  /** Its counters in this process, for `redisDown: 'memory'`. */
  fallback: RateLimiterAbstract | null = null;
  private readonly keyFn: (req: Request) => unknown;

  constructor(options: RateLimitOptions, where: string, settings: Settings) {
    this.where = where;
    const whole = (field: 'points' | 'duration' | 'block', unit: string): number | undefined => {
      const given: FromSettings | undefined = options[field];
      const v: unknown = typeof given === 'function' ? given(settings) : given;
      if (v === undefined && field === 'block') return undefined;
      if (typeof v === 'number' && Number.isInteger(v) && v >= 1) return v;
      throw new RococoError(
        'ROCOCO_RATE_LIMIT',
        `${where}: ${field} must be a whole number of ${unit}, 1 or more, got ${String(v)}`,
      );
    };
    const points = whole('points', 'requests') as number;
    const duration = whole('duration', 'seconds') as number;
    const block = whole('block', 'seconds');
    this.points = points;
    this.duration = duration;
    this.failures = options.failures === true;
    this.resetOnSuccess = options.resetOnSuccess === true;
    if (this.resetOnSuccess && !this.failures)
      throw new RococoError(
        'ROCOCO_RATE_LIMIT',
        `${where}: resetOnSuccess counts failures in a row: it needs failures: true`,
      );
    this.block = block ?? 0;
    this.name = options.name ?? `${points}-in-${duration}s`;
    // The name goes into a header as a structured-field string: printable ASCII only.
    if (typeof this.name !== 'string' || !/^[\x20-\x7e]+$/.test(this.name))
      throw new RococoError(
        'ROCOCO_RATE_LIMIT',
        `${where}: name must be printable ASCII, got ${JSON.stringify(this.name)}`,
      );
    const key = options.key ?? 'ip';
    this.sessionKey = typeof key === 'object' && key !== null ? key.session : undefined;
    this.keyFn = compileKey(key, where);
  }

  /** The request's key for this limit, or undefined when the limit does not apply to it. */
  async keyOf(req: Request): Promise<string | undefined> {
    const key = await this.keyFn(req);
    if (key === undefined || key === null || key === '') return undefined;
    const s = String(key);
    // A posted value may be long: its Redis key stays short.
    return s.length <= 200 ? s : 'sha256:' + createHash('sha256').update(s).digest('base64url');
  }

  /** A verdict from what the counters answered (`RateLimiterRes`), or null when there is no window yet. */
  verdict(res: RateLimiterRes | null, refused: boolean): Verdict {
    return {
      limit: this,
      consumed: res?.consumedPoints ?? 0,
      msBeforeNext: res?.msBeforeNext ?? 0,
      refused,
    };
  }
}

function compileKey(key: RateLimitKey, where: string): (req: Request) => unknown {
  if (key === 'ip') return (req) => req.ip;
  if (typeof key === 'function') return key;
  if (typeof key === 'object' && key !== null && typeof key.session === 'string') {
    const field = key.session;
    return async (req) => {
      const value = (await getSession(req)).get(field);
      // No user in the session: the address's budget, kept apart from users'.
      if (value === undefined || value === null || value === '') return 'ip:' + req.ip;
      return 'session:' + (typeof value === 'string' ? value : JSON.stringify(value));
    };
  }
  throw new RococoError(
    'ROCOCO_RATE_LIMIT',
    `${where}: key must be 'ip', { session: '<key>' } or a function of the request, got ${String(key)}`,
  );
}

/** Whether what a limiter rejected with is a spent budget (not a store failure). */
export function isSpent(err: unknown): err is RateLimiterRes {
  return err instanceof RateLimiterRes;
}
