import type { Redis } from 'ioredis';
import { RococoError } from '../core/errors';
import { checkMs, type HealthCheck } from './health';

/**
 * Options of {@link redisCheck}.
 *
 * @example
 * redisCheck(settings.REDIS_URL, { timeout: 500 })
 */
export interface RedisCheckOptions {
  /** Ms the `PING` may take; the plugin's `timeout` by default. */
  timeout?: number;
}

/**
 * A readiness check that sends Redis a `PING`. Give it a URL (`settings.REDIS_URL`) and it opens
 * a connection of its own on the first probe, without an offline queue (while Redis is down a
 * probe fails at once; the client reconnects at most every 2 s) and closes it with the app; or
 * give it an ioredis client of yours (the one your `RedisStorage` or `rateLimit()` uses: then
 * the probe says whether *that* client works), which stays yours to close.
 *
 * @example
 * health({ checks: { redis: redisCheck(settings.REDIS_URL) } })
 * health({ checks: { sessions: redisCheck(storage.client, { timeout: 500 }) } })
 */
export function redisCheck(redis: string | Redis, options: RedisCheckOptions = {}): HealthCheck {
  for (const key of Object.keys(options))
    if (key !== 'timeout')
      throw new RococoError(
        'ROCOCO_HEALTH',
        `redisCheck: unknown option '${key}' (known: timeout)`,
      );
  const timeout =
    options.timeout === undefined ? undefined : checkMs('redisCheck: timeout', options.timeout);
  if (typeof redis === 'string') {
    if (redis === '')
      throw new RococoError('ROCOCO_HEALTH', 'redisCheck: the Redis URL is empty (REDIS_URL)');
    return ownClient(redis, timeout);
  }
  if (redis === null || typeof redis !== 'object' || typeof redis.ping !== 'function')
    throw new RococoError('ROCOCO_HEALTH', 'redisCheck: give a Redis URL or an ioredis client');
  return { run: () => ping(redis), ...(timeout === undefined ? {} : { timeout }) };
}

function ownClient(url: string, timeout: number | undefined): HealthCheck {
  let client: Redis | null = null;
  return {
    ...(timeout === undefined ? {} : { timeout }),
    run: async () => {
      if (client === null) {
        // Required here: an app without Redis never loads ioredis.
        const { Redis: Client } = require('ioredis') as typeof import('ioredis');
        const options = {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          retryStrategy: (times: number) => Math.min(times * 100, 2000),
          // ioredis waits this long for the socket of a failed attempt, long closed, when the
          // app closes during an outage: 2 s by default, which keep the process from exiting.
          disconnectTimeout: 100,
        };
        client = new Client(url, options);
        // Each failure reaches the probe as a failed PING, logged there once an outage.
        client.on('error', () => {});
      }
      if (client.status === 'wait') await client.connect();
      await ping(client);
    },
    close: async () => {
      const c = client;
      if (c === null) return;
      if (c.status === 'wait' || c.status === 'end') return c.disconnect();
      await c.quit().then(
        () => undefined,
        () => c.disconnect(),
      );
    },
  };
}

async function ping(client: Redis): Promise<void> {
  const answer = await client.ping();
  if (answer !== 'PONG') throw new Error(`Redis answered PING with ${String(answer)}`);
}
