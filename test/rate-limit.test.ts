import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import {
  Controller,
  createApp,
  EncryptedCookieStorage,
  Get,
  getSession,
  HTTPNotFound,
  HTTPSeeOther,
  HTTPUnauthorized,
  openapi,
  Post,
  RateLimit,
  rateLimit,
  Request,
  RococoError,
  sessions,
  type AppOptions,
  type Constructor,
  type RateLimitPluginOptions,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { memoryLogger, WARN } from './helpers/memory-logger';
import { validateOpenAPI } from './helpers/openapi';
import { TcpProxy } from './helpers/tcp-proxy';

const KEY = Buffer.alloc(32, 3).toString('base64');
const REDIS_URL = process.env.REDIS_URL || undefined;
const describeRedis = REDIS_URL ? describe : describe.skip;
// Keys of this run's own: runs and suites sharing one Redis never spend each other's budgets.
const PREFIX = `rococo:test:ratelimit:${randomBytes(6).toString('hex')}:`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

@Controller('')
class OpenController {
  @Get('/a')
  a() {
    return { ok: 'a' };
  }

  @Get('/b')
  b() {
    return { ok: 'b' };
  }
}

@Controller('/route')
class RouteLimitController {
  @Get('/limited')
  @RateLimit({ points: 2, duration: 2 })
  limited() {
    return { ok: true };
  }

  @Get('/free')
  free() {
    return { ok: true };
  }
}

@Controller('/shared')
@RateLimit({ points: 3, duration: 2, name: 'shared' })
class SharedLimitController {
  @Get('/one')
  one() {
    return { ok: 1 };
  }

  @Get('/two')
  two() {
    return { ok: 2 };
  }
}

/** Handlers that answer with other things than a plain object. */
@Controller('/kinds')
class KindsController {
  @Get('/text')
  text() {
    return 'hello';
  }

  @Get('/later')
  async later() {
    await sleep(1);
    return { later: true };
  }

  @Get('/missing')
  missing(): never {
    throw new HTTPNotFound('no such thing');
  }

  @Get('/missing-later')
  async missingLater(): Promise<never> {
    await sleep(1);
    throw new HTTPNotFound('no such thing');
  }

  @Get('/crash')
  crash(): never {
    throw new Error('a bug');
  }
}

const PASSWORD = 'right';

/** A login of a test: the username is posted; the key function reads it before the handler does. */
@Controller('')
class LoginController {
  @Post('/login')
  @RateLimit({
    name: 'account',
    points: 3,
    duration: 60,
    failures: true,
    key: async (req) => (await req.form()).get('username')?.toString().toLowerCase(),
  })
  @RateLimit({ name: 'address', points: 5, duration: 60, failures: true })
  async login(req: Request) {
    const form = await req.form();
    if (form.get('password') !== PASSWORD)
      throw new HTTPUnauthorized(`wrong password for ${String(form.get('username'))}`);
    return { user: form.get('username') };
  }
}

/** Failures in a row: a success (a redirect, as a login's) forgets them. */
@Controller('')
class StreakController {
  @Post('/streak/<outcome>')
  @RateLimit({ points: 2, duration: 60, failures: true, resetOnSuccess: true })
  streak(req: Request) {
    if (req.params.outcome === 'ok') throw new HTTPSeeOther('/');
    throw new HTTPUnauthorized();
  }
}

@Controller('')
class SessionController {
  @Post('/as/<user>')
  async as(req: Request) {
    (await getSession(req)).set('user_id', req.params.user);
    return { ok: true };
  }

  @Post('/write')
  @RateLimit({ points: 2, duration: 60, key: { session: 'user_id' } })
  write() {
    return { written: true };
  }
}

const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** The OpenAPI document of an app with these limits, checked against the OpenAPI 3.1 schema. */
async function documentOf(options: AppOptions, limits: RateLimitPluginOptions): Promise<any> {
  const c = await testClient(
    createApp({
      ...options,
      settings: { ACCESS_LOG: false },
      plugins: [rateLimit(limits), openapi({ title: 'T', version: '1', docs: false })],
    }),
  );
  clients.push(c);
  const doc: unknown = await (await c.get('/openapi.json')).json();
  expect(validateOpenAPI(doc)).toEqual({ valid: true });
  return doc;
}

async function client(
  limits: RateLimitPluginOptions,
  options: AppOptions = {},
): Promise<TestClient> {
  const c = await testClient(
    createApp({
      controllers: [OpenController],
      ...options,
      plugins: [rateLimit({ redis: false, ...limits })],
    }),
  );
  clients.push(c);
  return c;
}

async function statuses(c: TestClient, n: number, path = '/a', headers = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await c.get(path, { headers })).status);
  return out;
}

describe('the app-wide limit, in memory', () => {
  test('points requests go through with what is left; the next is a 429 problem with Retry-After and the RateLimit fields; the window resets', async () => {
    const c = await client({ points: 3, duration: 1 });
    for (const left of [2, 1, 0]) {
      const res = await c.get('/a');
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"default";q=3;w=1');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"default";r=${left};t=1$`));
    }
    const refused = await c.get('/b'); // one budget for the app's routes
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('ratelimit')).toBe('"default";r=0;t=1');
    expect(refused.headers.get('ratelimit-policy')).toBe('"default";q=3;w=1');
    expect(await refused.json()).toEqual({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      title: 'Too Many Requests',
      status: 429,
      detail: 'Too many requests: try again in 1 second.',
      'violated-policies': ['default'],
      'retry-after': 1,
    });
    await sleep(1100);
    const again = await c.get('/a');
    expect(again.status).toBe(200);
    expect(again.headers.get('ratelimit')).toBe('"default";r=2;t=1');
  });

  test('404s and 405s are not counted and carry no RateLimit fields', async () => {
    const c = await client({ points: 2, duration: 60 });
    for (let i = 0; i < 5; i++) {
      const res = await c.get('/nowhere');
      expect(res.status).toBe(404);
      expect(res.headers.get('ratelimit')).toBeNull();
    }
    expect((await c.post('/a')).status).toBe(405);
    expect(await statuses(c, 3)).toEqual([200, 200, 429]);
  });

  test('every answer of a limited route has the fields: text, async JSON, HTTP errors thrown at once or later; a 500 stays a 500', async () => {
    const c = await client({ points: 10, duration: 60 }, { controllers: [KindsController] });
    const text = await c.get('/kinds/text');
    expect(text.status).toBe(200);
    expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await text.text()).toBe('hello');
    expect(text.headers.get('ratelimit')).toBe('"default";r=9;t=60');
    const later = await c.get('/kinds/later');
    expect(await later.json()).toEqual({ later: true });
    expect(later.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(later.headers.get('ratelimit')).toBe('"default";r=8;t=60');
    for (const [path, left] of [
      ['/kinds/missing', 7],
      ['/kinds/missing-later', 6],
    ] as const) {
      const res = await c.get(path);
      expect(res.status).toBe(404);
      expect(res.headers.get('ratelimit-policy')).toBe('"default";q=10;w=60');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"default";r=${left};t=(59|60)$`));
    }
    const crash = await c.get('/kinds/crash');
    expect(crash.status).toBe(500);
    expect(await statuses(c, 6, '/kinds/text')).toEqual([200, 200, 200, 200, 200, 429]);
  });

  test('headers: false leaves the fields off successes; a 429 still has them', async () => {
    const c = await client({ points: 1, duration: 60, headers: false });
    const ok = await c.get('/a');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('ratelimit')).toBeNull();
    expect(ok.headers.get('ratelimit-policy')).toBeNull();
    const refused = await c.get('/a');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit')).toBe('"default";r=0;t=60');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(58);
  });

  test('block: a spent key stays refused for block seconds, past the window', async () => {
    const c = await client({ points: 1, duration: 1, block: 3 });
    expect(await statuses(c, 2)).toEqual([200, 429]);
    await sleep(1200);
    const res = await c.get('/a');
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(2);
  });

  test('points and duration read from the settings at startup', async () => {
    const c = await client(
      { points: (s) => s.TRIES as number, duration: (s) => s.WINDOW as number },
      { settings: { TRIES: 2, WINDOW: 30 } },
    );
    const res = await c.get('/a');
    expect(res.headers.get('ratelimit-policy')).toBe('"default";q=2;w=30');
    expect(await statuses(c, 2)).toEqual([200, 429]);
    expect(() =>
      createApp({
        controllers: [OpenController],
        settings: { TRIES: '2' },
        plugins: [rateLimit({ points: (s) => s.TRIES as number, duration: 1 })],
      }),
    ).toThrow(
      /ROCOCO_RATE_LIMIT: rateLimit: points must be a whole number of requests, 1 or more, got 2/,
    );
  });

  test('each app counts in its own memory', async () => {
    const one = await client({ points: 1, duration: 60 });
    const two = await client({ points: 1, duration: 60 });
    expect(await statuses(one, 2)).toEqual([200, 429]);
    expect(await statuses(two, 1)).toEqual([200]);
  });
});

describe('@RateLimit', () => {
  test('on a method: only that route is limited, and the app-wide limit counts too', async () => {
    const c = await client({}, { controllers: [RouteLimitController] });
    const first = await c.get('/route/limited');
    expect(first.headers.get('ratelimit-policy')).toBe('"2-in-2s";q=2;w=2');
    expect(first.headers.get('ratelimit')).toBe('"2-in-2s";r=1;t=2');
    expect(await statuses(c, 2, '/route/limited')).toEqual([200, 429]);
    const free = await c.get('/route/free');
    expect(free.status).toBe(200);
    expect(free.headers.get('ratelimit')).toBeNull();
    await sleep(2100);
    expect(await statuses(c, 1, '/route/limited')).toEqual([200]);
  });

  test('with an app-wide limit, both policies are in the fields, and the spent one is named', async () => {
    const c = await client({ points: 10, duration: 60 }, { controllers: [RouteLimitController] });
    const res = await c.get('/route/limited');
    expect(res.headers.get('ratelimit-policy')).toBe('"default";q=10;w=60, "2-in-2s";q=2;w=2');
    expect(res.headers.get('ratelimit')).toBe('"default";r=9;t=60, "2-in-2s";r=1;t=2');
    await c.get('/route/limited');
    const refused = await c.get('/route/limited');
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as Record<string, unknown>)['violated-policies']).toEqual([
      '2-in-2s',
    ]);
    expect(refused.headers.get('ratelimit')).toBe('"default";r=7;t=60, "2-in-2s";r=0;t=2');
  });

  test('the OpenAPI document lists the 429 of the limited routes, not of the others', async () => {
    // In memory, 'refuse' refuses nothing: no 503.
    const doc = await documentOf(
      { controllers: [RouteLimitController] },
      { redis: false, redisDown: 'refuse' },
    );
    const limited = doc.paths['/route/limited'].get.responses;
    expect(limited['429']).toMatchObject({
      description: expect.stringMatching(/^Too many requests: a rate limit of this route is spent/),
      content: { 'application/problem+json': expect.anything() },
    });
    expect(limited['503']).toBeUndefined();
    expect(doc.paths['/route/free'].get.responses['429']).toBeUndefined();
    // An app-wide limit: every controller route.
    const all = await documentOf(
      { controllers: [RouteLimitController] },
      { redis: false, points: 10, duration: 60 },
    );
    expect(all.paths['/route/free'].get.responses['429']).toBeDefined();
  });

  test('on a controller: one budget shared by its routes', async () => {
    const c = await client({}, { controllers: [SharedLimitController] });
    expect(await statuses(c, 2, '/shared/one')).toEqual([200, 200]);
    expect(await statuses(c, 2, '/shared/two')).toEqual([200, 429]);
    expect(await statuses(c, 1, '/shared/one')).toEqual([429]);
  });

  test('several limits on a route, counting failures only: per account (the posted username) and per address', async () => {
    const c = await client({}, { controllers: [LoginController] });
    const login = (username: string, password: string) =>
      c.post('/login', { form: { username, password } });
    for (let i = 0; i < 3; i++) expect((await login('ann', 'wrong')).status).toBe(401);
    const refused = await login('Ann', PASSWORD); // the key function lowercases it
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as Record<string, unknown>)['violated-policies']).toEqual([
      'account',
    ]);
    expect(refused.headers.get('ratelimit')).toMatch(
      /^"account";r=0;t=(59|60), "address";r=2;t=(59|60)$/,
    );
    // Another account from the same address: its own budget, and the handler still reads the body.
    const bob = await login('bob', PASSWORD);
    expect(bob.status).toBe(200);
    expect(await bob.json()).toEqual({ user: 'bob' });
    expect(bob.headers.get('ratelimit')).toMatch(/^"account";r=3, "address";r=2;t=(59|60)$/);
    // Successes cost nothing; two more failures spend the address's five.
    expect((await login('cid', 'wrong')).status).toBe(401);
    expect((await login('dan', 'wrong')).status).toBe(401);
    const address = await login('eve', PASSWORD);
    expect(address.status).toBe(429);
    expect(((await address.json()) as Record<string, unknown>)['violated-policies']).toEqual([
      'address',
    ]);
  });

  test('resetOnSuccess: failures in a row; a success (a redirect) forgets them', async () => {
    const c = await client({}, { controllers: [StreakController] });
    const go = async (outcome: string) => (await c.post(`/streak/${outcome}`)).status;
    expect([await go('no'), await go('ok'), await go('no'), await go('no')]).toEqual([
      401, 303, 401, 401,
    ]);
    const refused = await c.post('/streak/ok');
    expect(refused.status).toBe(429);
    expect(() => RateLimit({ points: 1, duration: 1, resetOnSuccess: true })).not.toThrow();
    @Controller('')
    class Bad {
      @Get('/x')
      @RateLimit({ points: 1, duration: 1, resetOnSuccess: true })
      x() {}
    }
    expect(() => createApp({ controllers: [Bad], plugins: [rateLimit()] })).toThrow(
      /resetOnSuccess counts failures in a row: it needs failures: true/,
    );
  });

  test('a key function that finds no key leaves the request out of that limit', async () => {
    const c = await client({}, { controllers: [LoginController] });
    for (let i = 0; i < 5; i++)
      expect((await c.post('/login', { form: { password: 'x' } })).status).toBe(401);
    const res = await c.post('/login', { form: { password: 'x' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('ratelimit-policy')).toBe('"address";q=5;w=60');
  });

  test("keyed by the session's user: a budget per user; a visitor spends the address's", async () => {
    const c = await client(
      {},
      {
        controllers: [SessionController],
        middlewares: [sessions(new EncryptedCookieStorage(KEY))],
      },
    );
    const write = async () => (await c.post('/write')).status;
    expect([await write(), await write(), await write()]).toEqual([200, 200, 429]);
    await c.post('/as/1');
    expect([await write(), await write(), await write()]).toEqual([200, 200, 429]);
    await c.post('/as/2');
    expect([await write(), await write(), await write()]).toEqual([200, 200, 429]);
  });
});

describe('TRUST_PROXY and the address', () => {
  const forwarded = (ip: string) => ({ 'x-forwarded-for': ip });

  test('X-Forwarded-For from a peer that is not trusted does not change the key', async () => {
    const c = await client(
      { points: 2, duration: 60 },
      { settings: { TRUST_PROXY: '10.0.0.0/8' } },
    );
    expect((await c.get('/a', { headers: forwarded('203.0.113.1') })).status).toBe(200);
    expect((await c.get('/a', { headers: forwarded('203.0.113.2') })).status).toBe(200);
    expect((await c.get('/a', { headers: forwarded('203.0.113.3') })).status).toBe(429);
    expect((await c.get('/a')).status).toBe(429);
  });

  test('behind a trusted proxy, each client address has its own budget', async () => {
    const c = await client({ points: 1, duration: 60 }, { settings: { TRUST_PROXY: 'loopback' } });
    expect(await statuses(c, 2, '/a', forwarded('203.0.113.1'))).toEqual([200, 429]);
    expect(await statuses(c, 2, '/a', forwarded('203.0.113.2'))).toEqual([200, 429]);
  });
});

describe('mistakes stop startup', () => {
  const build =
    (limits: RateLimitPluginOptions, options: AppOptions = {}) =>
    () =>
      createApp({ controllers: [OpenController], ...options, plugins: [rateLimit(limits)] });

  test.each([
    [{ points: 0, duration: 1 }, /points must be a whole number/],
    [{ points: 1.5, duration: 1 }, /points must be a whole number/],
    [{ points: 5, duration: 0.5 }, /duration must be a whole number of seconds/],
    [{ points: 5, duration: -1 }, /duration must be a whole number of seconds/],
    [{ points: 5 }, /both points and duration/],
    [{ points: 5, duration: 1, block: 0 }, /block must be/],
    [{ redisDown: 'maybe' as 'allow' }, /redisDown must be 'allow', 'memory' or 'refuse'/],
    [{ timeout: 0 }, /timeout must be a positive number/],
    [{ points: 1, duration: 1, key: 'user' as 'ip' }, /key must be 'ip'/],
  ])('%p', (limits, message) => {
    let err: unknown;
    try {
      build(limits)();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RococoError);
    expect((err as RococoError).code).toBe('ROCOCO_RATE_LIMIT');
    expect((err as Error).message).toMatch(message);
  });

  test('an unknown option is ROCOCO_OPTIONS; in @RateLimit, a TypeError where it is written', () => {
    expect(() => rateLimit({ point: 5 } as RateLimitPluginOptions)).toThrow(
      /ROCOCO_OPTIONS: rateLimit: unknown option 'point'/,
    );
    expect(() => RateLimit({ points: 1, duration: 1, keys: 'ip' } as never)).toThrow(
      /@RateLimit: unknown option 'keys'/,
    );
  });

  test('bad points on a route name the route', () => {
    @Controller('')
    class Bad {
      @Get('/x')
      @RateLimit({ points: -1, duration: 1 })
      x() {}
    }
    expect(() => createApp({ controllers: [Bad], plugins: [rateLimit()] })).toThrow(
      /ROCOCO_RATE_LIMIT: @RateLimit on Bad\.x: points must be/,
    );
  });

  test('@RateLimit without the plugin names it', () => {
    expect(() => createApp({ controllers: [RouteLimitController] })).toThrow(
      /ROCOCO_PLUGIN: RouteLimitController\.limited: @RateLimit needs the 'rate-limit' plugin/,
    );
    expect(() => createApp({ controllers: [SharedLimitController] })).toThrow(
      /ROCOCO_PLUGIN: SharedLimitController\.one: @RateLimit needs the 'rate-limit' plugin/,
    );
    // A route of a subclass is under its base's class limit too (the base needs no routes).
    @RateLimit({ points: 3, duration: 2 })
    class LimitedBase {}
    @Controller('/more')
    class MoreLimited extends LimitedBase {
      @Get('/three')
      three() {}
    }
    expect(() => createApp({ controllers: [MoreLimited] })).toThrow(
      /ROCOCO_PLUGIN: MoreLimited\.three: @RateLimit needs the 'rate-limit' plugin/,
    );
  });

  test("a subclass's own routes share its base's class limit", async () => {
    @Controller('/more-shared')
    class MoreShared extends SharedLimitController {
      @Get('/three')
      three() {
        return { ok: 3 };
      }
    }
    const c = await client({}, { controllers: [MoreShared] });
    expect(await statuses(c, 2, '/more-shared/three')).toEqual([200, 200]);
    expect(await statuses(c, 2, '/more-shared/one')).toEqual([200, 429]);
  });

  test('two limits of one name on a route', () => {
    @Controller('')
    class Twice {
      @Get('/x')
      @RateLimit({ points: 1, duration: 1 })
      @RateLimit({ points: 1, duration: 1, key: () => 'k' })
      x() {}
    }
    expect(() => createApp({ controllers: [Twice], plugins: [rateLimit()] })).toThrow(
      /Twice\.x: two rate limits are named '1-in-1s'/,
    );
  });

  test('a session key on a route without sessions()', () => {
    expect(() => createApp({ controllers: [SessionController], plugins: [rateLimit()] })).toThrow(
      /SessionController\.write: @RateLimit on SessionController\.write keys by the session's 'user_id', but the route has no sessions\(\) middleware/,
    );
  });
});

/** A port nothing listens on: connections are refused at once. */
async function closedPort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('Redis down', () => {
  const downApp = async (limits: RateLimitPluginOptions) => {
    const { logger, records } = memoryLogger('info');
    const c = await testClient(
      createApp({
        controllers: [OpenController],
        logger,
        settings: { ACCESS_LOG: false },
        plugins: [
          rateLimit({
            points: 2,
            duration: 60,
            redis: `redis://127.0.0.1:${await closedPort()}`,
            timeout: 300,
            ...limits,
          }),
        ],
      }),
    );
    clients.push(c);
    return { c, records };
  };

  test('by default requests go through, at once, and one warning says so', async () => {
    const { c, records } = await downApp({});
    const start = Date.now();
    const res = await Promise.all(Array.from({ length: 20 }, () => c.get('/a')));
    expect(res.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(res[0].headers.get('ratelimit')).toBeNull();
    expect(Date.now() - start).toBeLessThan(1000);
    const warnings = records.filter((r) => r.level === WARN);
    expect(warnings.map((r) => r.msg)).toContain(
      'rate limits: Redis failed; requests go through unlimited until it is back',
    );
    expect(warnings.length).toBeLessThanOrEqual(3); // the first failure in full; the rest counted
  });

  test("redisDown: 'refuse' answers 503 with Retry-After", async () => {
    const { c } = await downApp({ redisDown: 'refuse' });
    const start = Date.now();
    const res = await c.get('/a');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as { detail: string }).detail).toBe(
      'Rate limits cannot be checked for a moment; try again',
    );
    expect(Date.now() - start).toBeLessThan(1000);
  });

  test("redisDown: 'refuse': the OpenAPI document lists the 503 beside the 429", async () => {
    const doc = await documentOf(
      { controllers: [OpenController] },
      {
        points: 2,
        duration: 60,
        redis: `redis://127.0.0.1:${await closedPort()}`,
        timeout: 300,
        redisDown: 'refuse',
      },
    );
    const { responses } = doc.paths['/a'].get;
    expect(Object.keys(responses)).toEqual(['200', '429', '503', 'default']);
    expect(responses['503'].description).toBe(
      'Rate limits cannot be checked for a moment (Redis is down)',
    );
  });

  test("redisDown: 'memory' limits in this process meanwhile", async () => {
    const { c, records } = await downApp({ redisDown: 'memory' });
    expect(await statuses(c, 3)).toEqual([200, 200, 429]);
    expect(records.map((r) => r.msg)).toContain(
      'rate limits: Redis failed; requests are limited in each process until it is back',
    );
  });
});

describeRedis('in Redis', () => {
  const redisClient = async (
    limits: RateLimitPluginOptions,
    controllers: Constructor[] = [OpenController],
  ) => {
    const c = await testClient(
      createApp({
        controllers,
        settings: { REDIS_URL },
        plugins: [rateLimit({ prefix: PREFIX, ...limits })],
      }),
    );
    clients.push(c);
    return c;
  };

  test('two apps on one Redis (REDIS_URL) share one budget', async () => {
    const name = `shared-${randomBytes(3).toString('hex')}`;
    const one = await redisClient({ points: 4, duration: 2, name });
    const two = await redisClient({ points: 4, duration: 2, name });
    const seen: number[] = [];
    for (const c of [one, two, one, two]) seen.push((await c.get('/a')).status);
    expect(seen).toEqual([200, 200, 200, 200]);
    const refused = await two.get('/b');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit')).toMatch(new RegExp(`^"${name}";r=0;t=[12]$`));
    expect((await one.get('/a')).status).toBe(429);
    await sleep(2100);
    expect((await two.get('/a')).status).toBe(200);
  });

  test('Redis that goes away and comes back: requests pass meanwhile, at once; then the count goes on', async () => {
    const target = new URL(REDIS_URL as string);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
    const port = await proxy.start();
    const { logger, records } = memoryLogger('info');
    const c = await testClient(
      createApp({
        controllers: [OpenController],
        logger,
        settings: { ACCESS_LOG: false },
        plugins: [
          rateLimit({
            points: 3,
            duration: 60,
            name: `flaky-${randomBytes(3).toString('hex')}`,
            prefix: PREFIX,
            redis: `redis://127.0.0.1:${port}`,
            timeout: 300,
          }),
        ],
      }),
    );
    clients.push(c);
    try {
      expect((await c.get('/a')).headers.get('ratelimit')).toMatch(/;r=2;t=60$/);
      await proxy.stop();
      const start = Date.now();
      for (let i = 0; i < 5; i++) {
        const res = await c.get('/a');
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit')).toBeNull();
      }
      expect(Date.now() - start).toBeLessThan(1500);
      await proxy.start();
      // ioredis reconnects within its retry delay (at most 2 s here).
      let res = await c.get('/a');
      for (let i = 0; i < 40 && res.headers.get('ratelimit') === null; i++) {
        await sleep(100);
        res = await c.get('/a');
      }
      expect(res.headers.get('ratelimit')).toMatch(/;r=1;t=\d+$/); // the count kept in Redis
      expect((await c.get('/a')).status).toBe(200);
      expect((await c.get('/a')).status).toBe(429);
      await sleep(1200);
      const msgs = records.map((r) => r.msg);
      expect(msgs).toContain(
        'rate limits: Redis failed; requests go through unlimited until it is back',
      );
      expect(msgs.some((m) => /^rate limits: Redis is back after/.test(String(m)))).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  test('a Redis that stops answering: requests wait at most the timeout, then pass', async () => {
    const target = new URL(REDIS_URL as string);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 6379));
    const port = await proxy.start();
    const { logger } = memoryLogger('warn');
    const c = await testClient(
      createApp({
        controllers: [OpenController],
        logger,
        plugins: [
          rateLimit({
            points: 3,
            duration: 60,
            prefix: PREFIX,
            redis: `redis://127.0.0.1:${port}`,
            timeout: 300,
          }),
        ],
      }),
    );
    clients.push(c);
    try {
      expect((await c.get('/a')).status).toBe(200);
      proxy.freeze();
      const start = Date.now();
      const res = await c.get('/a');
      expect(res.status).toBe(200);
      expect(Date.now() - start).toBeLessThan(1000);
    } finally {
      await proxy.stop();
    }
  });

  test('failures only, and a route limit, counted in Redis across apps', async () => {
    const one = await redisClient({}, [LoginController]);
    const two = await redisClient({}, [LoginController]);
    const user = `u${randomBytes(4).toString('hex')}`;
    const login = (c: TestClient, password: string) =>
      c.post('/login', { form: { username: user, password } });
    expect((await login(one, 'x')).status).toBe(401);
    expect((await login(two, 'x')).status).toBe(401);
    expect((await login(one, PASSWORD)).status).toBe(200);
    expect((await login(two, 'x')).status).toBe(401);
    expect((await login(one, PASSWORD)).status).toBe(429);
  });
});
