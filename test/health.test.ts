import 'reflect-metadata';
import {
  Controller,
  createApp,
  database,
  Get,
  health,
  redisCheck,
  type Application,
  type HealthOptions,
  type Plugin,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { KeptConnection } from './helpers/kept-connection';
import { memoryLogger, WARN, type LogRecord } from './helpers/memory-logger';
import { freePort, RedisServer, redisServerBinary } from './helpers/redis-server';
import { TcpProxy } from './helpers/tcp-proxy';

/**
 * The health() plugin through HTTP: liveness, readiness with real PostgreSQL (through a TCP
 * proxy the test cuts) and real Redis, checks of the app's own, their timeouts, the shared and
 * cached runs, the drain, the access log, and the mistakes that stop startup.
 */

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const PROBLEM = 'application/problem+json';

@Controller()
class SlowController {
  @Get('/slow')
  async slow(req: Request) {
    await sleep(Number(req.query.get('ms') ?? 500));
    return { slow: true };
  }

  @Get('/other')
  other() {
    return { other: true };
  }
}

const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function serve(
  options: HealthOptions = {},
  extra: { plugins?: Plugin[]; logger?: ReturnType<typeof memoryLogger>['logger'] } = {},
): Promise<TestClient & { app: Application }> {
  const app = createApp({
    controllers: [SlowController],
    plugins: [...(extra.plugins ?? []), health(options)],
    logger: extra.logger,
  });
  const client = await testClient(app);
  clients.push(client);
  return Object.assign(client, { app });
}

/** A check that counts its calls, answering after `ms`. */
function counted(ms = 0, fail = false) {
  const check = Object.assign(
    async () => {
      check.calls++;
      if (ms > 0) await sleep(ms);
      if (fail) throw new Error('payments at 10.0.0.7:8443 refused: token s3cr3t expired');
    },
    { calls: 0 },
  );
  return check;
}

describe('probes', () => {
  test('/healthz is 200; /readyz lists its checks, 200 when all are up; no-store on both', async () => {
    const client = await serve({ checks: { payments: counted(), cache: () => 'anything' } });
    const live = await client.get('/healthz');
    expect(live.status).toBe(200);
    expect(live.headers.get('cache-control')).toBe('no-store');
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await client.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.headers.get('cache-control')).toBe('no-store');
    expect(await ready.json()).toEqual({ status: 'ok', checks: { payments: 'up', cache: 'up' } });
  });

  test('a failing check: a 503 problem naming it, never its error; the reason is logged at warn once an outage', async () => {
    const log = memoryLogger('warn');
    const payments = counted(0, true);
    const client = await serve(
      { checks: { payments, search: counted() }, cache: 0 },
      { logger: log.logger },
    );
    for (let i = 0; i < 5; i++) {
      const res = await client.get('/readyz');
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe(PROBLEM);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        detail: 'Not ready: payments',
        checks: { payments: 'down', search: 'up' },
      });
      expect(text).not.toMatch(/10\.0\.0\.7|s3cr3t|refused/);
    }
    expect(payments.calls).toBe(5);
    const warned = log.records.filter((r) => r.level === WARN);
    expect(warned).toHaveLength(1); // the other four are counted, not logged one by one
    expect(warned[0].msg).toBe("readiness check 'payments' failed");
    expect(warned[0].err?.message).toMatch(/token s3cr3t expired/);
    expect((await client.get('/healthz')).status).toBe(200); // liveness does not run checks
  });

  test('a check that hangs is cut by its timeout: a 503 naming it in about the timeout, its signal aborted', async () => {
    let signal: AbortSignal | undefined;
    const client = await serve({
      checks: {
        stuck: {
          run: (s) => {
            signal = s;
            return new Promise(() => {});
          },
          timeout: 300,
        },
        fine: counted(),
      },
      timeout: 5000,
    });
    const t0 = Date.now();
    const res = await client.get('/readyz');
    const ms = Date.now() - t0;
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      detail: 'Not ready: stuck',
      checks: { stuck: 'timeout', fine: 'up' },
    });
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1500);
    expect(signal?.aborted).toBe(true);
  });

  test('a check that throws at once is down', async () => {
    const client = await serve({
      checks: {
        broken: () => {
          throw new Error('no');
        },
      },
    });
    const res = await client.get('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ checks: { broken: 'down' } });
  });

  test('20 concurrent probes run a check once; the probes of the next `cache` ms reuse its report', async () => {
    const slow = counted(200);
    const client = await serve({ checks: { slow }, cache: 600 });
    const all = await Promise.all(Array.from({ length: 20 }, () => client.get('/readyz')));
    expect(all.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(slow.calls).toBe(1);
    const codeToo = await Promise.all([client.app.health!.check(), client.get('/readyz')]);
    expect(codeToo[0]).toEqual({ ok: true, checks: { slow: 'up' } });
    expect(slow.calls).toBe(1); // cached
    await sleep(700);
    expect((await client.get('/readyz')).status).toBe(200);
    expect(slow.calls).toBe(2);
  });

  test('paths are configurable; false turns an endpoint off', async () => {
    const client = await serve({ live: '/-/live', ready: false });
    expect((await client.get('/-/live')).status).toBe(200);
    expect((await client.get('/healthz')).status).toBe(404);
    expect((await client.get('/readyz')).status).toBe(404);
    expect(client.app.url('health.live')).toBe('/-/live');
  });

  test('another plugin adds a check through app.health, whatever the order of the plugins', async () => {
    const search = counted();
    const plugin: Plugin = {
      name: 'search',
      ready: (app) => void app.health?.add('search', search),
    };
    const client = await serve({}, { plugins: [plugin] });
    expect(client.app.health?.names).toEqual(['search']);
    expect(await (await client.get('/readyz')).json()).toEqual({
      status: 'ok',
      checks: { search: 'up' },
    });
    expect(() => client.app.health?.add('search', search)).toThrow(
      "ROCOCO_HEALTH: app.health.add: there is already a check named 'search'",
    );
  });
});

describe('the drain', () => {
  test('once close() starts: /readyz is 503 on an open connection at once, /healthz 200, the request in flight gets its 200', async () => {
    const app = createApp({ controllers: [SlowController], plugins: [health()] });
    const base = await app.listen(0);
    const probe = new KeptConnection(base);
    const live = new KeptConnection(base);
    const slowOne = new KeptConnection(base);
    try {
      expect((await probe.get('/readyz')).status).toBe(200);
      expect((await live.get('/healthz')).status).toBe(200);
      let slowDone = false;
      const slow = slowOne.get('/slow?ms=1500').finally(() => (slowDone = true));
      await sleep(100);
      const closed = app.close();
      expect(app.draining).toBe(true);
      const ready = await probe.get('/readyz');
      expect(ready).toMatchObject({ status: 503, reused: true });
      expect(ready.body).toMatchObject({ detail: 'The server is shutting down', draining: true });
      expect(ready.headers.connection).toBe('close');
      const alive = await live.get('/healthz');
      expect(alive).toMatchObject({ status: 200, reused: true, body: { status: 'ok' } });
      expect(slowDone).toBe(false); // both answered while it was in flight
      expect(await slow).toMatchObject({ status: 200, body: { slow: true } });
      await closed;
    } finally {
      for (const c of [probe, live, slowOne]) c.close();
      await app.close();
    }
  });
});

describe('PostgreSQL', () => {
  test('the database plugin brings a `database` check: 503 naming it while the server is gone, 200 once it is back', async () => {
    const base = new URL(process.env.DATABASE_URL as string);
    const proxy = new TcpProxy(base.hostname, Number(base.port || 5432));
    const port = await proxy.start();
    const url = new URL(base);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    const log = memoryLogger('warn');
    const client = await serve(
      { cache: 100 },
      { plugins: [database({ url: url.toString() })], logger: log.logger },
    );
    try {
      const up = await client.get('/readyz');
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({ status: 'ok', checks: { database: 'up' } });

      await proxy.stop();
      await sleep(150); // the report of the last 100 ms said up
      const t0 = Date.now();
      const down = await client.get('/readyz');
      expect(Date.now() - t0).toBeLessThan(1500); // the check's timeout (1000 ms) at worst
      expect(down.status).toBe(503);
      const body = (await down.json()) as { detail: string; checks: Record<string, string> };
      expect(body.detail).toBe('Not ready: database');
      expect(['down', 'timeout']).toContain(body.checks.database);
      expect(JSON.stringify(body)).not.toContain(String(port));
      expect((await client.get('/healthz')).status).toBe(200);

      await proxy.start();
      const deadline = Date.now() + 5000;
      let status = 0;
      while (Date.now() < deadline && (status = (await client.get('/readyz')).status) !== 200)
        await sleep(100);
      expect(status).toBe(200);
      expect(
        log.records.some((r: LogRecord) => r.msg === "readiness check 'database' failed"),
      ).toBe(true);
    } finally {
      await client.close();
      await proxy.stop();
    }
  }, 20_000);

  test('`database: false` leaves it out; a check of the same name replaces it', async () => {
    const plugins = () => [database({ url: process.env.DATABASE_URL as string })];
    const off = await serve({ checks: { database: false } }, { plugins: plugins() });
    expect(await (await off.get('/readyz')).json()).toEqual({ status: 'ok', checks: {} });
    const own = counted();
    const mine = await serve({ checks: { database: own } }, { plugins: plugins() });
    expect((await mine.get('/readyz')).status).toBe(200);
    expect(own.calls).toBe(1);
  });
});

describe('Redis', () => {
  test('redisCheck(url): up is 200; a port nobody listens on is a 503 naming it, at once', async () => {
    const url = process.env.REDIS_URL as string;
    const up = await serve({ checks: { redis: redisCheck(url) } });
    expect(await (await up.get('/readyz')).json()).toEqual({
      status: 'ok',
      checks: { redis: 'up' },
    });
    const closed = await serve({
      checks: { redis: redisCheck(`redis://127.0.0.1:${await freePort()}`) },
    });
    const t0 = Date.now();
    const res = await closed.get('/readyz');
    expect(Date.now() - t0).toBeLessThan(900);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      detail: 'Not ready: redis',
      checks: { redis: 'down' },
    });
  });

  test('redisCheck(client): the app’s own ioredis client; a Redis that stops and comes back', async () => {
    if (redisServerBinary() === null) throw new Error('redis-server is not on PATH');
    const server = await RedisServer.start();
    const { Redis } = await import('ioredis');
    const client = new Redis(server.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 100,
    });
    client.on('error', () => {});
    await new Promise((resolve) => client.once('ready', resolve));
    try {
      const app = await serve({ checks: { sessions: redisCheck(client) }, cache: 0 });
      expect((await app.get('/readyz')).status).toBe(200);
      await server.stop();
      const down = await app.get('/readyz');
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ checks: { sessions: 'down' } });
      await server.start();
      const deadline = Date.now() + 5000;
      let status = 0;
      while (Date.now() < deadline && (status = (await app.get('/readyz')).status) !== 200)
        await sleep(100);
      expect(status).toBe(200);
      await app.close();
      expect(client.status).toBe('ready'); // the user's client stays open: it is theirs
    } finally {
      client.disconnect();
      await server.dispose();
    }
  }, 20_000);
});

describe('the access log', () => {
  const requests = (records: LogRecord[]) =>
    records.filter((r) => r.msg === 'request').map((r) => [r.path, r.level]);

  test('at info, probes write no access line; other routes do', async () => {
    const log = memoryLogger('info');
    const client = await serve({}, { logger: log.logger });
    for (const path of ['/healthz', '/readyz', '/other']) await client.get(path);
    await client.close();
    expect(requests(log.records)).toEqual([['/other', 30]]);
  });

  test('at debug, they do, at debug level', async () => {
    const log = memoryLogger('debug');
    const client = await serve({}, { logger: log.logger });
    for (const path of ['/healthz', '/readyz', '/other']) await client.get(path);
    await client.close();
    expect(requests(log.records)).toEqual([
      ['/healthz', 20],
      ['/readyz', 20],
      ['/other', 30],
    ]);
  });
});

describe('mistakes stop startup', () => {
  const refused: [string, () => unknown, string][] = [
    ['an unknown option', () => health({ chekcs: {} } as HealthOptions), 'ROCOCO_OPTIONS'],
    [
      'a check that is a string',
      () => health({ checks: { db: 'postgres://x' as never } }),
      'ROCOCO_HEALTH: health: checks: check \'db\' is "postgres://x"',
    ],
    [
      'a check that is true',
      () => health({ checks: { database: true as never } }),
      "check 'database' is true",
    ],
    ['a check object without run', () => health({ checks: { x: {} as never } }), 'no run function'],
    [
      'a check object with an unknown key',
      () => health({ checks: { x: { run: () => 1, timout: 5 } as never } }),
      "check 'x': unknown key 'timout'",
    ],
    [
      'a check timeout of 0',
      () => health({ checks: { x: { run: () => 1, timeout: 0 } } }),
      "check 'x': timeout must be a positive number of ms, got 0",
    ],
    ['a timeout that is not a number', () => health({ timeout: '5s' as never }), 'got 5s'],
    ['a negative timeout', () => health({ timeout: -1 }), 'got -1'],
    ['an infinite timeout', () => health({ timeout: Infinity }), 'got Infinity'],
    ['a negative cache', () => health({ cache: -5 }), 'health: cache must be a non-negative'],
    [
      'an outageLogInterval of 0',
      () => health({ outageLogInterval: 0 }),
      'health: outageLogInterval must be a positive',
    ],
    ['a check name with a space', () => health({ checks: { 'my db': () => 1 } }), "'my db'"],
    ['a path without /', () => health({ ready: 'readyz' }), 'ready must be a path'],
    ['live and ready on one path', () => health({ live: '/h', ready: '/h' }), "both '/h'"],
    ['redisCheck with an empty URL', () => redisCheck(''), 'the Redis URL is empty'],
    ['redisCheck with a bad timeout', () => redisCheck('redis://x', { timeout: 0 }), 'got 0'],
    [
      'redisCheck with an unknown option',
      () => redisCheck('redis://x', { timout: 1 } as never),
      "unknown option 'timout'",
    ],
  ];
  test.each(refused)('%s', (_what, make, message) => {
    expect(make).toThrow(message);
  });

  test('a duplicate name through app.health.add stops createApp', () => {
    const twice: Plugin = { name: 'twice', setup: (app) => void app.health?.add('a', () => 1) };
    expect(() => createApp({ plugins: [health({ checks: { a: () => 1 } }), twice] })).toThrow(
      "ROCOCO_HEALTH: app.health.add: there is already a check named 'a'",
    );
  });
});
