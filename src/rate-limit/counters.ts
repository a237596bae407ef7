import type { Redis } from 'ioredis';
import {
  RateLimiterMemory,
  RateLimiterRedis,
  type RateLimiterAbstract,
  type RateLimiterRes,
} from 'rate-limiter-flexible';
import type { Logger } from 'pino';
import { HTTPServiceUnavailable, RococoError } from '../core/errors';
import { OutageLog } from '../core/outage-log';
import { isSpent, type Limit, type MemoryStorage, type Verdict } from './limit';

/**
 * What a request meets while Redis is down: `'allow'`, no limit (and a warning, once an
 * outage); `'memory'`, the limits counted in this process alone; `'refuse'`, a 503.
 *
 * @example
 * rateLimit({ redisDown: 'refuse' }) // a paid API behind the route: no request unlimited
 */
export type RedisDown = 'allow' | 'memory' | 'refuse';

/** What {@link Counters} takes. */
export interface CountersOptions {
  /** A Redis URL or an ioredis client; null: in this process's memory. */
  redis: string | Redis | null;
  prefix: string;
  /** Ms a Redis command may take. */
  timeout: number;
  redisDown: RedisDown;
  outageLogInterval: number | undefined;
}

/** The verdict of a request with what it was counted in, for counting its failure afterwards. */
export interface Counted extends Verdict {
  readonly key: string;
  readonly store: RateLimiterAbstract;
}

/**
 * One request counted in Redis in one round trip (`EVALSHA`, defined on the client once): the
 * key's count after it and the ms left in its window. The same keys and values as
 * rate-limiter-flexible's `consume` (which `failures` and `block` limits still use), with one
 * promise per request instead of its four.
 */
const INCR_SCRIPT = `
local n = redis.call('incr', KEYS[1])
if n == 1 then
  redis.call('expire', KEYS[1], ARGV[1])
  return {n, ARGV[1] * 1000}
end
local ttl = redis.call('pttl', KEYS[1])
if ttl < 0 then
  redis.call('expire', KEYS[1], ARGV[1])
  ttl = ARGV[1] * 1000
end
return {n, ttl}
`;

/** An ioredis client with the script above as a command. */
interface ScriptedClient extends Redis {
  rococoRateLimit(key: string, seconds: number): Promise<[number, number]>;
}

const DOWN_MESSAGES: Record<RedisDown, string> = {
  allow: 'rate limits: Redis failed; requests go through unlimited until it is back',
  memory: 'rate limits: Redis failed; requests are limited in each process until it is back',
  refuse: 'rate limits: Redis failed; requests are refused (503) until it is back',
};

/**
 * Where the limits count: in this process (rate-limiter-flexible's `RateLimiterMemory`), or in
 * Redis (`RateLimiterRedis`), shared by every worker and host that uses it. A Redis command
 * never waits for a Redis that is down: the client has no offline queue and a command timeout,
 * and the limiter refuses at once when the connection is not ready. Failures are logged through
 * an {@link OutageLog}: the first with its stack, then counted.
 *
 * @example
 * const counters = new Counters(app.log, { redis: url, prefix, timeout: 1000, redisDown: 'allow', outageLogInterval: undefined });
 * counters.attach(limit, 'AuthController.login');
 * const verdict = await counters.check(limit, req.ip); // null: Redis is down, let it through
 */
export class Counters {
  readonly client: Redis | null;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly timeout: number;
  private readonly redisDown: RedisDown;
  private readonly outages: OutageLog;

  constructor(log: Logger, options: CountersOptions) {
    this.prefix = options.prefix;
    this.timeout = options.timeout;
    this.redisDown = options.redisDown;
    this.outages = new OutageLog(log, 'rate limits: Redis', {
      interval: options.outageLogInterval,
    });
    const redis = options.redis;
    this.owned = typeof redis === 'string';
    if (typeof redis === 'string') {
      const { Redis: Client } = require('ioredis') as typeof import('ioredis'); // only apps with Redis limits load it
      this.client = new Client(redis, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: this.timeout,
        commandTimeout: this.timeout,
        lazyConnect: true,
        // Keep trying to reconnect, at most every 2 s, so limits come back with Redis.
        retryStrategy: (times) => Math.min(times * 100, 2000),
      });
      // A reconnecting client fails every attempt while Redis is down: one outage, as requests' failures.
      this.client.on('error', (err) => this.outages.failed(err, DOWN_MESSAGES[this.redisDown]));
    } else {
      this.client = redis;
    }
    if (this.client !== null && !('rococoRateLimit' in this.client))
      this.client.defineCommand('rococoRateLimit', { numberOfKeys: 1, lua: INCR_SCRIPT });
  }

  /** Gives `limit` its counters, under a prefix of its own (`scope`: what shares its budget). */
  attach(limit: Limit, scope: string): void {
    const memory = () =>
      new RateLimiterMemory({
        points: limit.points,
        duration: limit.duration,
        blockDuration: limit.failures ? 0 : limit.block,
        // Each limit has a store of its own: a prefix would only cost a string per request.
        keyPrefix: '',
      });
    if (this.client === null) {
      limit.store = memory();
      limit.memory = memoryStorage(limit.store);
      return;
    }
    limit.store = new RateLimiterRedis({
      storeClient: this.client,
      keyPrefix: `${this.prefix}${scope}:${limit.name}`,
      points: limit.points,
      duration: limit.duration,
      blockDuration: limit.failures ? 0 : limit.block,
      rejectIfRedisNotReady: true,
    });
    if (this.redisDown === 'memory') limit.fallback = memory();
  }

  /**
   * Counts a request against `limit` (or, for a `failures` limit, reads its count): its verdict,
   * or null when Redis is down and requests go through. In this process's memory, at once.
   */
  check(limit: Limit, key: string): Counted | null | Promise<Counted | null> {
    const memory = limit.memory;
    if (memory !== null && !limit.failures) return countInMemory(limit, memory, key);
    const down = (err: unknown) => this.down(err, limit, key);
    const client = this.client as ScriptedClient | null;
    if (client === null || limit.failures || limit.block > 0)
      return this.count(limit, limit.store, key).then((c) => this.up(c), down);
    // As rate-limiter-flexible's limiter: no waiting for a connection that is not there.
    if (client.status !== 'ready') return down(new Error('Redis connection is not ready'));
    return client
      .rococoRateLimit(limit.store.getKey(key), limit.duration)
      .then(
        ([consumed, ms]) =>
          this.up(counted(limit, limit.store, key, consumed, ms, consumed > limit.points)),
        down,
      );
  }

  /** A count from Redis: an outage, if there was one, is over. */
  private up(c: Counted): Counted {
    if (this.outages.failing) this.outages.ok();
    return c;
  }

  /** What a request meets when Redis failed: let through (null), counted in memory, or a 503. */
  private down(err: unknown, limit: Limit, key: string): Promise<Counted | null> {
    this.outages.failed(err, DOWN_MESSAGES[this.redisDown]);
    if (this.redisDown === 'refuse')
      return Promise.reject(
        new HTTPServiceUnavailable('Rate limits cannot be checked for a moment; try again', {
          headers: { 'retry-after': '5' },
        }),
      );
    if (limit.fallback === null) return Promise.resolve(null);
    return this.count(limit, limit.fallback, key);
  }

  /** Counts a failed request of a `failures` limit; a Redis failure is logged, never thrown. */
  async failed(counted: Counted): Promise<void> {
    const { limit, store, key } = counted;
    try {
      let res: RateLimiterRes;
      try {
        res = await store.consume(key);
      } catch (e) {
        if (!isSpent(e)) throw e;
        res = e;
      }
      if (limit.block > 0 && res.consumedPoints >= limit.points)
        res = await store.block(key, limit.block);
      counted.consumed = res.consumedPoints;
      counted.msBeforeNext = res.msBeforeNext;
    } catch (err) {
      this.outages.failed(err, DOWN_MESSAGES[this.redisDown]);
    }
  }

  /** A success of a `resetOnSuccess` limit: the key's failures are forgotten. */
  async succeeded(counted: Counted): Promise<void> {
    try {
      await counted.store.delete(counted.key);
      counted.consumed = 0;
      counted.msBeforeNext = 0;
    } catch (err) {
      this.outages.failed(err, DOWN_MESSAGES[this.redisDown]);
    }
  }

  private async count(limit: Limit, store: RateLimiterAbstract, key: string): Promise<Counted> {
    if (limit.failures) {
      const res = await store.get(key);
      const consumed = res?.consumedPoints ?? 0;
      return counted(limit, store, key, consumed, res?.msBeforeNext ?? 0, consumed >= limit.points);
    }
    let res: RateLimiterRes;
    let refused = false;
    try {
      res = await store.consume(key);
    } catch (e) {
      if (!isSpent(e)) throw e;
      res = e;
      refused = true;
    }
    return counted(limit, store, key, res.consumedPoints, res.msBeforeNext, refused);
  }

  /**
   * Startup connects to Redis and waits, at most `timeout`, for the connection or its first
   * error: the first requests are counted rather than let through. A Redis that cannot be
   * reached does not stop the app: its requests meet `redisDown`.
   */
  async ready(): Promise<void> {
    const client = this.client;
    if (client === null || client.status === 'ready') return;
    if (client.status === 'wait') client.connect().catch(() => {}); // the error is heard below
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off('ready', done).off('error', done);
        resolve();
      };
      const timer = setTimeout(done, this.timeout);
      client.once('ready', done).once('error', done);
    });
  }

  /** Writes the outage counts and closes a client made from a URL (the app's cleanup). */
  async close(): Promise<void> {
    this.outages.close();
    const c = this.client;
    if (c === null || !this.owned) return;
    if (c.status === 'wait' || c.status === 'end') return c.disconnect();
    await c.quit().then(
      () => undefined,
      () => c.disconnect(),
    );
  }
}

/** Checks the plugin's Redis options at startup. */
export function checkRedisDown(value: unknown): RedisDown {
  if (value === 'allow' || value === 'memory' || value === 'refuse') return value;
  throw new RococoError(
    'ROCOCO_RATE_LIMIT',
    `rateLimit: redisDown must be 'allow', 'memory' or 'refuse', got ${JSON.stringify(value)}`,
  );
}

function counted(
  limit: Limit,
  store: RateLimiterAbstract,
  key: string,
  consumed: number,
  msBeforeNext: number,
  refused: boolean,
): Counted {
  return { limit, consumed, msBeforeNext, refused, key, store };
}

/**
 * What `RateLimiterMemory.consume` does, without its promise: count, and block a key that has
 * just spent its budget for `block` seconds.
 */
function countInMemory(limit: Limit, memory: MemoryStorage, key: string): Counted {
  const store = limit.store;
  const rlKey = store.getKey(key);
  let res = memory.incrby(rlKey, 1, limit.duration);
  const refused = res.consumedPoints > limit.points;
  if (refused && limit.block > 0 && res.consumedPoints === limit.points + 1)
    res = memory.set(rlKey, res.consumedPoints, limit.block);
  return counted(limit, store, key, res.consumedPoints, res.msBeforeNext, refused);
}

/**
 * The synchronous storage of a `RateLimiterMemory` (a field of its own, not its documented
 * API: null, and the limit counts through `consume`, if a release renames it).
 */
function memoryStorage(store: RateLimiterAbstract): MemoryStorage | null {
  const storage = (store as unknown as { _memoryStorage?: Partial<MemoryStorage> })._memoryStorage;
  return typeof storage?.incrby === 'function' && typeof storage.set === 'function'
    ? (storage as MemoryStorage)
    : null;
}
