import { createHash } from 'node:crypto';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Settings } from '../core/application';
import { RococoError } from '../core/errors';
import type { Request } from '../core/request';
import type { FromSettings, RateLimitKey, RateLimitOptions } from '../decorators/rate-limit';
import { getSession } from '../sessions/middleware';
import { sfString } from './headers';

/**
 * rate-limiter-flexible's in-process storage (`RateLimiterMemory`'s `_memoryStorage`): what
 * its `consume` counts with, synchronously.
 */
export interface MemoryStorage {
  incrby(key: string, value: number, durationSec: number): RateLimiterRes;
  set(key: string, value: number, durationSec: number): RateLimiterRes;
}

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
  /**
   * The storage of `store` when it is rate-limiter-flexible's memory: read synchronously (its
   * `consume` wraps a synchronous count in a promise), so a request costs no promise.
   */
  memory: MemoryStorage | null = null;
  /** Its `RateLimit-Policy` member: `"name";q=5;w=60`. */
  readonly policyField: string;
  /** The start of its `RateLimit` member, up to what is left: `"name";r=`. */
  readonly remainingField: string;
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
    this.policyField = `${sfString(this.name)};q=${points};w=${duration}`;
    this.remainingField = `${sfString(this.name)};r=`;
    const key = options.key ?? 'ip';
    this.sessionKey = typeof key === 'object' && key !== null ? key.session : undefined;
    this.keyFn = compileKey(key, where);
  }

  /**
   * The request's key for this limit, or undefined when the limit does not apply to it: at
   * once when the key is (the address, a function that returns a string), or a promise.
   */
  keyOf(req: Request): string | undefined | Promise<string | undefined> {
    const key = this.keyFn(req);
    return key instanceof Promise ? key.then(keyString) : keyString(key);
  }
}

/** A key function's answer as a key: undefined for none, long ones hashed. */
function keyString(key: unknown): string | undefined {
  if (key === undefined || key === null || key === '') return undefined;
  const s = typeof key === 'string' ? key : String(key);
  // A posted value may be long: its Redis key stays short.
  return s.length <= 200 ? s : 'sha256:' + createHash('sha256').update(s).digest('base64url');
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
