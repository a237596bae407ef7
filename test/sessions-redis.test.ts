import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  createApp,
  Controller,
  Get,
  Post,
  Request,
  RedisStorage,
  sessions,
  getSession,
  newSession,
  flash,
  flashedMessages,
  HTTPSeeOther,
  RococoError,
  type RedisStorageOptions,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { memoryLogger, WARN } from './helpers/memory-logger';
import { RedisServer, redisServerBinary } from './helpers/redis-server';

const COOKIE = 'rococo_session';
const DAY = 24 * 3600;
const ID = /^[A-Za-z0-9_-]{32}$/;
// A prefix of this file's own: suites running in parallel on one Redis never see each other's keys.
const PREFIX = `rococo:test:${randomBytes(6).toString('hex')}:`;

const SHARED_URL = process.env.REDIS_URL || undefined;
const BINARY = redisServerBinary();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Both requests of a test load their session before either saves it. */
function barrier(n: number) {
  let count = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return {
    arrive(): Promise<void> {
      if (++count === n) release();
      return all;
    },
  };
}
let gate = barrier(2);

@Controller('/s')
class RedisSessionController {
  @Get('/untouched')
  untouched() {
    return { ok: true };
  }

  @Get('/get')
  async get(req: Request) {
    const s = await getSession(req);
    return { data: s.toJSON(), isNew: s.isNew, created: s.created };
  }

  @Post('/set')
  async set(req: Request) {
    const body = (await req.json()) as Record<string, unknown>;
    const s = await getSession(req);
    for (const k of Object.keys(body)) s.set(k, body[k]);
    return { data: s.toJSON(), isNew: s.isNew };
  }

  @Post('/delete/<key>')
  async remove(req: Request) {
    (await getSession(req)).delete(req.params.key);
    return { ok: true };
  }

  @Post('/clear')
  async clear(req: Request) {
    (await getSession(req)).clear();
    return { ok: true };
  }

  @Post('/invalidate')
  async invalidate(req: Request) {
    (await getSession(req)).invalidate();
    return { ok: true };
  }

  @Post('/logout')
  async logout(req: Request) {
    (await getSession(req)).invalidate();
    flash(req, 'Bye');
    throw new HTTPSeeOther('/s/flashed');
  }

  @Post('/login/<user>')
  async login(req: Request) {
    await getSession(req);
    (await newSession(req)).set('user', req.params.user);
    return { ok: true };
  }

  @Post('/concurrent/<key>/<value>')
  async concurrent(req: Request) {
    const s = await getSession(req);
    await gate.arrive();
    const delay = Number(req.query.get('delay') ?? 0);
    if (delay > 0) await sleep(delay);
    s.set(req.params.key, req.params.value);
    return { ok: true };
  }

  @Post('/flash')
  flashAndRedirect(req: Request) {
    flash(req, 'Saved', 'success');
    throw new HTTPSeeOther('/s/flashed');
  }

  @Get('/flashed')
  async flashed(req: Request) {
    return { messages: await flashedMessages(req) };
  }
}

function redisApp(storage: RedisStorage, logger = memoryLogger('warn').logger) {
  return createApp({
    controllers: [RedisSessionController],
    middlewares: [sessions(storage)],
    logger,
  });
}

/** The session id the response set in its cookie. */
function cookieId(res: globalThis.Response): string {
  const line = res.headers.getSetCookie().find((l) => l.startsWith(`${COOKIE}=`));
  if (line === undefined) throw new Error('no session cookie set');
  return line.slice(COOKIE.length + 1).split(';')[0];
}

async function view(client: TestClient, id?: string) {
  const res = await client.get(
    '/s/get',
    id === undefined ? {} : { headers: { cookie: `${COOKIE}=${id}` } },
  );
  expect(res.status).toBe(200);
  return {
    ...((await res.json()) as { data: Record<string, unknown>; isNew: boolean; created: number }),
    res,
  };
}

async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out.sort();
}

async function dropKeys(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(redis, prefix);
  if (keys.length > 0) await redis.del(...keys);
}

const canRun = SHARED_URL !== undefined || BINARY !== null;
if (!canRun) {
  console.warn(
    'sessions-redis.test.ts: SKIPPED: REDIS_URL is not set and redis-server is not on PATH (set REDIS_URL=redis://127.0.0.1:6379, or apt-get install redis-server)',
  );
}
const describeRedis = canRun ? describe : describe.skip;

describeRedis('RedisStorage on a running Redis', () => {
  let own: RedisServer | null = null;
  let url: string;
  let redis: Redis;
  let storage: RedisStorage;
  let client: TestClient;

  beforeAll(async () => {
    if (SHARED_URL === undefined) {
      console.warn(
        'sessions-redis.test.ts: REDIS_URL is not set: starting a redis-server of its own',
      );
      own = await RedisServer.start();
    }
    url = SHARED_URL ?? (own as RedisServer).url;
    redis = new Redis(url, { maxRetriesPerRequest: 1 });
    storage = new RedisStorage(url, { prefix: PREFIX });
    client = await testClient(redisApp(storage));
  });

  afterAll(async () => {
    await client?.close();
    if (redis !== undefined) {
      await dropKeys(redis, PREFIX);
      await redis.quit();
    }
    await own?.dispose();
  });

  beforeEach(() => {
    client.cookies.clear();
    gate = barrier(2);
  });

  test('round trip: the cookie holds only a 192-bit id; the data is a Redis hash of JSON fields', async () => {
    const before = Date.now();
    const res = await client.post('/s/set', {
      json: { user: 'ann', cart: [1, 2], prefs: { dark: true } },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    const id = cookieId(res);
    expect(id).toMatch(ID);
    expect(Buffer.from(id, 'base64url')).toHaveLength(24);

    const hash = await redis.hgetall(PREFIX + id);
    expect(Object.keys(hash).sort()).toEqual([':created', 'd:cart', 'd:prefs', 'd:user']);
    expect(JSON.parse(hash['d:user'])).toBe('ann');
    expect(JSON.parse(hash['d:cart'])).toEqual([1, 2]);
    expect(JSON.parse(hash['d:prefs'])).toEqual({ dark: true });
    const created = Number(hash[':created']);
    expect(created).toBeGreaterThanOrEqual(before);

    const got = await view(client);
    expect(got).toMatchObject({
      data: { user: 'ann', cart: [1, 2], prefs: { dark: true } },
      isNew: false,
      created,
    });
    expect(got.res.headers.getSetCookie()).toEqual([]);
  });

  test('TTL: the hash expires maxAge (14 days by default) after each save', async () => {
    const id = cookieId(await client.post('/s/set', { json: { a: 1 } }));
    const pttl = await redis.pttl(PREFIX + id);
    expect(pttl).toBeGreaterThan(14 * DAY * 1000 - 10_000);
    expect(pttl).toBeLessThanOrEqual(14 * DAY * 1000);

    // Shorten it behind the app's back: the next save sets it to maxAge again; a read does not.
    await redis.pexpire(PREFIX + id, 60_000);
    await view(client);
    expect(await redis.pttl(PREFIX + id)).toBeLessThanOrEqual(60_000);
    await client.post('/s/set', { json: { b: 2 } });
    expect(await redis.pttl(PREFIX + id)).toBeGreaterThan(14 * DAY * 1000 - 10_000);
  });

  test('TTL follows a custom maxAge, which is also the cookie Max-Age', async () => {
    const short = await testClient(
      redisApp(new RedisStorage(url, { prefix: PREFIX, maxAge: 120 })),
    );
    try {
      const res = await short.post('/s/set', { json: { a: 1 } });
      expect(res.headers.getSetCookie()[0]).toMatch(/Max-Age=120(;|$)/);
      const pttl = await redis.pttl(PREFIX + cookieId(res));
      expect(pttl).toBeGreaterThan(110_000);
      expect(pttl).toBeLessThanOrEqual(120_000);
    } finally {
      await short.close();
    }
  });

  test('a session that is never changed writes nothing to Redis and sets no cookie', async () => {
    const before = await keysUnder(redis, PREFIX);
    const untouched = await client.get('/s/untouched');
    expect(untouched.headers.getSetCookie()).toEqual([]);
    const read = await view(client);
    expect(read).toMatchObject({ data: {}, isNew: true });
    expect(read.res.headers.getSetCookie()).toEqual([]);
    expect(await keysUnder(redis, PREFIX)).toEqual(before);
  });

  test('delete removes the field, clear leaves only the creation time; the id stays', async () => {
    const id = cookieId(await client.post('/s/set', { json: { a: 1, b: 2, c: 3 } }));
    await client.post('/s/delete/a');
    expect(Object.keys(await redis.hgetall(PREFIX + id)).sort()).toEqual([
      ':created',
      'd:b',
      'd:c',
    ]);
    expect((await view(client)).data).toEqual({ b: 2, c: 3 });

    const cleared = await client.post('/s/clear');
    expect(cookieId(cleared)).toBe(id);
    expect(Object.keys(await redis.hgetall(PREFIX + id))).toEqual([':created']);
    expect(await view(client)).toMatchObject({ data: {}, isNew: false });
  });

  test('save writes only the keys the request changed', async () => {
    const id = cookieId(await client.post('/s/set', { json: { mine: 1 } }));
    // Another writer (another request of the session, in another process) adds a field.
    await redis.hset(PREFIX + id, 'd:theirs', JSON.stringify('kept'));
    await client.post('/s/set', { json: { mine: 2 } });
    expect((await view(client)).data).toEqual({ mine: 2, theirs: 'kept' });
  });

  test('invalidate deletes the key and clears the cookie; the old id is then worth nothing', async () => {
    const id = cookieId(await client.post('/s/set', { json: { user: 'ann' } }));
    expect(await redis.exists(PREFIX + id)).toBe(1);
    const res = await client.post('/s/invalidate');
    expect(res.status).toBe(200);
    const line = res.headers.getSetCookie().find((l) => l.startsWith(`${COOKIE}=`)) as string;
    expect(line).toMatch(new RegExp(`^${COOKIE}=;`));
    expect(line).toMatch(/Max-Age=0/);
    expect(client.cookies.has(COOKIE)).toBe(false);
    expect(await redis.exists(PREFIX + id)).toBe(0);

    expect(await view(client, id)).toMatchObject({ data: {}, isNew: true });
    const again = await client.post('/s/set', {
      json: { x: 1 },
      headers: { cookie: `${COOKIE}=${id}` },
    });
    expect(cookieId(again)).not.toBe(id);
    expect(await redis.exists(PREFIX + id)).toBe(0);
  });

  test('invalidate then flash (a logout that says goodbye): the old id dies, the message lives under a new one', async () => {
    const id = cookieId(await client.post('/s/set', { json: { user: 'ann' } }));
    const res = await client.post('/s/logout');
    expect(res.status).toBe(303);
    const fresh = cookieId(res);
    expect(fresh).toMatch(ID);
    expect(fresh).not.toBe(id);
    expect(await redis.exists(PREFIX + id)).toBe(0);
    expect((await redis.hgetall(PREFIX + fresh))['d:user']).toBeUndefined();
    expect(await (await client.get('/s/flashed')).json()).toEqual({
      messages: [{ message: 'Bye', category: 'info' }],
    });
  });

  test('fixation: newSession gives a new id and deletes the old one', async () => {
    const planted = cookieId(await client.post('/s/set', { json: { cart: [1] } }));
    const res = await client.post('/s/login/ann');
    expect(res.status).toBe(200);
    const fresh = cookieId(res);
    expect(fresh).toMatch(ID);
    expect(fresh).not.toBe(planted);
    expect(await redis.exists(PREFIX + planted)).toBe(0);
    const hash = await redis.hgetall(PREFIX + fresh);
    expect(Object.keys(hash).sort()).toEqual([':created', 'd:user']);

    expect((await view(client)).data).toEqual({ user: 'ann' });
    // Whoever planted the old id gets nothing with it.
    expect(await view(client, planted)).toMatchObject({ data: {}, isNew: true });
  });

  test.each([
    ['a well-formed id that Redis does not know', 'A'.repeat(32)],
    ['a short id', 'abc'],
    ['a long id', 'B'.repeat(33)],
    ['an id with other characters', `${'C'.repeat(30)}.!`],
  ])('%s is never adopted: the session gets an id of its own', async (_what, madeUp) => {
    expect(await view(client, madeUp)).toMatchObject({ data: {}, isNew: true });
    const res = await client.post('/s/set', {
      json: { user: 'victim' },
      headers: { cookie: `${COOKIE}=${madeUp}` },
    });
    const id = cookieId(res);
    expect(id).toMatch(ID);
    expect(id).not.toBe(madeUp);
    expect(await redis.exists(PREFIX + madeUp)).toBe(0);
    expect(await redis.exists(PREFIX + id)).toBe(1);
  });

  test('a key that expired (or was deleted) in Redis gives a new session', async () => {
    const id = cookieId(await client.post('/s/set', { json: { user: 'ann' } }));
    await redis.del(PREFIX + id);
    expect(await view(client)).toMatchObject({ data: {}, isNew: true });
  });

  test('a field that is not JSON (written by something else) is skipped, the rest is read', async () => {
    const id = cookieId(await client.post('/s/set', { json: { good: 1 } }));
    await redis.hset(PREFIX + id, 'd:bad', '{not json', 'other', 'not a data field');
    expect(await view(client)).toMatchObject({ data: { good: 1 }, isNew: false });
  });

  test('two concurrent requests that change different keys both keep their change', async () => {
    await client.post('/s/set', { json: { base: 0 } });
    const [a, b] = await Promise.all([
      client.post('/s/concurrent/a/one'),
      client.post('/s/concurrent/b/two?delay=100'),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect((await view(client)).data).toEqual({ base: 0, a: 'one', b: 'two' });
  });

  test('two concurrent requests that change the same key: the last write wins', async () => {
    await client.post('/s/set', { json: { base: 0 } });
    await Promise.all([
      client.post('/s/concurrent/k/first'),
      client.post('/s/concurrent/k/second?delay=100'),
    ]);
    expect((await view(client)).data).toEqual({ base: 0, k: 'second' });
  });

  test('flash messages survive a redirect and are shown once', async () => {
    const res = await client.post('/s/flash');
    expect(res.status).toBe(303);
    const id = cookieId(res);
    expect(JSON.parse((await redis.hgetall(PREFIX + id))['d:_flashes'])).toEqual([
      { message: 'Saved', category: 'success' },
    ]);
    expect(await (await client.get('/s/flashed')).json()).toEqual({
      messages: [{ message: 'Saved', category: 'success' }],
    });
    expect(await redis.hexists(PREFIX + id, 'd:_flashes')).toBe(0);
    expect(await (await client.get('/s/flashed')).json()).toEqual({ messages: [] });
  });

  test('a client made from a URL is closed with the app; a client passed in is left open', async () => {
    const owned = new RedisStorage(url, { prefix: PREFIX });
    const passedClient = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      const passed = new RedisStorage(passedClient, { prefix: PREFIX });
      expect(passed.client).toBe(passedClient);
      const c1 = await testClient(redisApp(owned));
      const c2 = await testClient(redisApp(passed));
      try {
        expect((await c1.post('/s/set', { json: { a: 1 } })).status).toBe(200);
        expect((await c2.post('/s/set', { json: { a: 1 } })).status).toBe(200);
      } finally {
        await c1.close();
        await c2.close();
      }
      // quit() answers before the socket is closed: give it a moment to end.
      for (let i = 0; i < 50 && owned.client.status !== 'end'; i++) await sleep(20);
      expect(owned.client.status).toBe('end');
      expect(passedClient.status).toBe('ready');
      expect(await passedClient.ping()).toBe('PONG');
    } finally {
      owned.client.disconnect();
      passedClient.disconnect();
    }
  });

  test.each([
    ['an empty URL', () => new RedisStorage(''), /URL is empty/],
    ['a zero timeout', () => new RedisStorage('redis://127.0.0.1:1', { timeout: 0 }), /timeout/],
    [
      'an unknown option',
      () => new RedisStorage('redis://127.0.0.1:1', { prefx: 'x' } as RedisStorageOptions),
      /unknown option 'prefx'/,
    ],
  ])('%s is refused with ROCOCO_OPTIONS', (_what, build, message) => {
    let error: unknown;
    try {
      build();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RococoError);
    expect((error as RococoError).code).toBe('ROCOCO_OPTIONS');
    expect((error as RococoError).message).toMatch(message);
  });
});

if (BINARY === null) {
  console.warn(
    'sessions-redis.test.ts: the outage tests are SKIPPED: they need redis-server on PATH to start, freeze and kill a server of their own (apt-get install redis-server)',
  );
}
const describeOutage = BINARY === null ? describe.skip : describe;

describeOutage(
  'RedisStorage when Redis fails (a redis-server of this suite, never the shared one)',
  () => {
    let server: RedisServer;
    let client: TestClient;
    let records: ReturnType<typeof memoryLogger>['records'];

    beforeAll(async () => {
      server = await RedisServer.start();
      const log = memoryLogger('warn');
      records = log.records;
      client = await testClient(
        redisApp(new RedisStorage(server.url, { prefix: PREFIX }), log.logger),
      );
    });

    afterAll(async () => {
      if (server?.running) server.resume();
      await client?.close();
      await server?.dispose();
    });

    /** The request, its answer and how long it took. */
    async function timed(send: () => Promise<globalThis.Response>) {
      const t0 = Date.now();
      const res = await send();
      return { res, ms: Date.now() - t0 };
    }

    async function expect503(res: globalThis.Response) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({
        title: 'Service Unavailable',
        status: 503,
        detail: expect.stringMatching(/Sessions are unavailable/),
      });
      expect(res.headers.getSetCookie()).toEqual([]);
    }

    test('a Redis that hangs: 503 with Retry-After within the timeout, then sessions come back', async () => {
      expect((await client.post('/s/set', { json: { user: 'ann' } })).status).toBe(200);
      server.pause();
      try {
        const read = await timed(() => client.get('/s/get'));
        await expect503(read.res);
        expect(read.ms).toBeLessThan(3000);
        // Routes that do not use the session do not wait for Redis.
        const untouched = await timed(() => client.get('/s/untouched'));
        expect(untouched.res.status).toBe(200);
        expect(untouched.ms).toBeLessThan(500);
      } finally {
        server.resume();
      }
      expect((await view(client)).data).toEqual({ user: 'ann' });
      expect(records.some((r) => r.level === WARN && r.msg === 'sessions: Redis failed')).toBe(
        true,
      );
    });

    test('a Redis that is down: 503 with Retry-After at once, and sessions work again when it is back', async () => {
      expect((await client.post('/s/set', { json: { user: 'bob' } })).status).toBe(200);
      await server.stop();

      const read = await timed(() => client.get('/s/get'));
      await expect503(read.res);
      expect(read.ms).toBeLessThan(3000);
      const write = await timed(() => client.post('/s/set', { json: { user: 'eve' } }));
      await expect503(write.res);
      expect(write.ms).toBeLessThan(3000);
      // A redirect whose session cannot be saved is a 503 too, not a redirect that lost its data.
      const redirect = await timed(() => client.post('/s/flash'));
      await expect503(redirect.res);
      expect((await client.get('/s/untouched')).status).toBe(200);

      // Stay down for 3 s, long enough for the client's reconnect delay to grow, answering 503 throughout.
      const downUntil = Date.now() + 3000;
      while (Date.now() < downUntil) {
        const during = await timed(() => client.get('/s/get'));
        await expect503(during.res);
        expect(during.ms).toBeLessThan(3000);
        await sleep(250);
      }

      await server.start(); // same port, empty (nothing persisted)
      const back = Date.now();
      let res: globalThis.Response;
      for (;;) {
        res = await client.get('/s/get');
        if (res.status !== 503 || Date.now() - back > 10_000) break;
        await sleep(100);
      }
      expect(res.status).toBe(200);
      expect(Date.now() - back).toBeLessThan(2500); // the client retries at least every 2 s
      expect(await res.json()).toMatchObject({ data: {}, isNew: true }); // the restarted server is empty

      const set = await client.post('/s/set', { json: { user: 'carol' } });
      expect(set.status).toBe(200);
      expect((await view(client)).data).toEqual({ user: 'carol' });
    });
  },
);
