import type { TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { RedisServer } from './helpers/redis-server';
import { sampleClient } from './helpers/sample';

/**
 * The sample's probes: its database (migrated by the app), and Redis when REDIS_URL is set: a
 * redis-server of this suite's own, stopped and started again under the running app.
 */

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let db: TestDatabase;
let redis: RedisServer;

beforeAll(async () => {
  db = await createTestDatabase();
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis?.dispose();
  await db?.drop();
});

/** /readyz until it says `status`, for at most `ms`. */
async function readyzUntil(client: TestClient, status: number, ms = 6000): Promise<Response> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await client.get('/readyz');
    if (res.status === status || Date.now() > deadline) return res;
    await sleep(200);
  }
}

test('with REDIS_URL: the database and Redis; Redis down is a 503 naming it while /healthz stays 200', async () => {
  const client = await sampleClient(db.url, { REDIS_URL: redis.url });
  try {
    const ready = await client.get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'up', redis: 'up' } });
    // Probes make no session (no cookie for the kubelet to ignore) and are not cached.
    expect(ready.headers.get('set-cookie')).toBeNull();
    expect(ready.headers.get('cache-control')).toBe('no-store');

    await redis.stop();
    const down = await readyzUntil(client, 503);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({
      detail: 'Not ready: redis',
      checks: { database: 'up', redis: 'down' },
    });
    const live = await client.get('/healthz');
    expect(live.status).toBe(200); // a Redis outage must not get the pod killed

    await redis.start();
    expect((await readyzUntil(client, 200)).status).toBe(200);
  } finally {
    await client.close();
  }
}, 30_000);

test('without REDIS_URL: the database alone', async () => {
  const client = await sampleClient(db.url, { REDIS_URL: '' });
  try {
    const ready = await client.get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'up' } });
  } finally {
    await client.close();
  }
});
