import {
  Controller,
  createApp,
  Database,
  Get,
  getSession,
  hub,
  OutageLog,
  RedisStorage,
  Request,
  RococoError,
  sessions,
  sql,
  type Application,
  database,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { memoryLogger, WARN, type LogRecord } from './helpers/memory-logger';
import { waitFor } from './helpers/pg-admin';
import { RedisServer, redisServerBinary } from './helpers/redis-server';
import { TcpProxy } from './helpers/tcp-proxy';

/**
 * What an outage writes to the log (issue 15: a 6 s outage at 4k requests a second wrote 80,000
 * lines): the first failure with its stack, then at most one line per kind of failure per
 * interval with a count, and a line when the dependency is back. A real PostgreSQL behind a TCP
 * proxy that is cut and restored, a real redis-server of this suite's own killed and restarted,
 * hundreds of requests during each outage.
 */

const INFO = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A count line: `<message>[ again]: <n> time(s) in <s> s (<kind>)`. */
const COUNT = /^(.+?)( again)?: \d+ times? in [\d.]+ s \((.+)\)$/;

/** The log without access lines. */
const logged = (records: LogRecord[]) => records.filter((r) => r.msg !== 'request');

/** Sends GETs of `path` from `concurrency` loops until `stop()`; the statuses, in order. */
async function load(
  client: TestClient,
  path: string,
  stop: () => boolean,
  concurrency = 8,
): Promise<number[]> {
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stop()) {
        const res = await client.get(path);
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    }),
  );
  return statuses;
}

const forMs = (ms: number) => {
  const end = Date.now() + ms;
  return () => Date.now() >= end;
};

/**
 * Checks one dependency's lines: exactly one with an error (and its stack), `msgs` its possible
 * messages; count lines bounded per kind; one "is back" line whose total covers `failures`.
 */
function expectOutageLines(
  lines: LogRecord[],
  name: string,
  msgs: string[],
  failures: number,
  outageMs: number,
  intervalMs: number,
) {
  // Numbers, not records: a failure must not pretty-print thousands of them.
  const withErr = lines.filter((r) => r.err !== undefined);
  expect(withErr.length).toBe(1);
  expect(withErr[0].level).toBe(WARN);
  expect(msgs).toContain(withErr[0].msg);
  expect((withErr[0].err as { stack?: string }).stack).toMatch(/\n\s+at /);

  const counts = lines.filter((r) => r.level === WARN && r.err === undefined);
  for (const r of counts) {
    const m = COUNT.exec(r.msg ?? '');
    expect(m).not.toBeNull();
    expect(msgs).toContain(m?.[1]);
    expect(r.kind).toBe(m?.[3]);
    expect(r.failures).toBeGreaterThanOrEqual(1);
  }
  expect(counts.length).toBeGreaterThanOrEqual(1);
  // One line per kind per interval at most (+1: the interval in which the outage ended).
  const kinds = new Set(counts.map((r) => `${r.msg?.replace(COUNT, '$1 $3')}`));
  for (const kind of kinds) {
    const n = counts.filter((r) => r.msg?.replace(COUNT, '$1 $3') === kind).length;
    expect(n).toBeLessThanOrEqual(Math.ceil(outageMs / intervalMs) + 1);
  }

  const back = lines.filter((r) => r.level === INFO);
  expect(back.length).toBe(1);
  expect(back[0].msg).toMatch(
    new RegExp(`^${name} is back after \\d+\\.\\d s \\(\\d+ failures\\)$`),
  );
  expect(back[0].failures).toBeGreaterThanOrEqual(failures);
  const counted = counts.reduce((n, r) => n + (r.failures as number), 0);
  expect(back[0].failures).toBeGreaterThanOrEqual(counted + 1);
  expect(back[0].ms).toBeGreaterThanOrEqual(outageMs - 500);
  expect(back[0].ms).toBeLessThan(outageMs + 5000);
  expect(lines.filter((r) => r.level > WARN).length).toBe(0);
}

describe('OutageLog', () => {
  test('a flapping dependency: at most a first line, a count line per kind and an "is back" line an interval', async () => {
    const log = memoryLogger('info');
    const outages = new OutageLog(log.logger, 'flappy', { interval: 300 });
    const failures = 150;
    const t0 = Date.now();
    for (let i = 0; i < failures; i++) {
      outages.failed(new Error('no'), 'flappy failed');
      await sleep(5);
      outages.ok();
      await sleep(5);
    }
    const intervals = Math.ceil((Date.now() - t0) / 300);
    await sleep(1500); // settles, says it is back, closes the outage
    const lines = log.records;
    expect(lines.filter((r) => r.err !== undefined)).toHaveLength(1);
    // Each interval of the flapping (and the one after it) has at most a count and a back line.
    expect(lines.length).toBeLessThanOrEqual(1 + 2 * (intervals + 2));
    const back = lines.filter((r) => r.level === INFO);
    expect(back.length).toBeGreaterThanOrEqual(1);
    expect(back.at(-1)?.failures).toBe(failures);
    expect(lines.at(-1)?.level).toBe(INFO); // the last word is that it is back

    // Quiet for an interval: the next failure is a new outage, in full again.
    outages.failed(new Error('again'), 'flappy failed');
    expect(log.records.at(-1)).toMatchObject({
      level: WARN,
      msg: 'flappy failed',
      err: { message: 'again' },
    });
    outages.close();
  });

  test('the kinds of one outage are capped: errors with ids in them share one line', async () => {
    const log = memoryLogger('info');
    const outages = new OutageLog(log.logger, 'api', { interval: 200 });
    for (let i = 0; i < 100; i++) outages.failed(new Error(`request ${i} failed`), 'api failed');
    await sleep(350);
    expect(log.records).toHaveLength(1 + 10);
    expect(log.records.at(-1)).toMatchObject({
      level: WARN,
      kind: 'other',
      failures: 90,
      msg: 'api failed: 90 times in 0.2 s (other)',
    });
    outages.ok();
    await sleep(300);
    expect(log.records.at(-1)).toMatchObject({
      level: INFO,
      failures: 100,
      msg: expect.stringMatching(/^api is back after [\d.]+ s \(100 failures\)$/),
    });
    outages.close();
  });

  test('a success with no failure before it writes nothing; close() writes what is still counted', async () => {
    const log = memoryLogger('info');
    const outages = new OutageLog(log.logger, 'x', { interval: 60_000 });
    outages.ok();
    expect(log.records).toEqual([]);
    outages.failed(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'x failed', {
      host: 'h',
    });
    outages.failed(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'x failed');
    expect(log.records).toHaveLength(1);
    expect(log.records[0]).toMatchObject({ host: 'h', err: { code: 'ECONNREFUSED' } });
    outages.close();
    expect(log.records[1]).toMatchObject({
      kind: 'ECONNREFUSED',
      failures: 1,
      msg: expect.stringMatching(/^x failed: 1 time in 0 s \(ECONNREFUSED\)$/),
    });
  });

  test('an interval that is not a positive number is refused when the app is made', () => {
    for (const bad of [0, -1, Number.NaN, '5' as unknown as number]) {
      expect(() => new OutageLog(null, 'x', { interval: bad })).toThrow(RococoError);
      expect(() =>
        createApp({
          plugins: [database({ url: 'postgres://127.0.0.1:1/x', outageLogInterval: bad })],
        }),
      ).toThrow(/outage log interval must be a positive number/);
      expect(() => new RedisStorage('redis://127.0.0.1:1', { outageLogInterval: bad })).toThrow(
        /outage log interval must be a positive number/,
      );
    }
  });
});

@Controller()
class DbController {
  constructor(private db: Database) {}

  @Get('/db')
  async one() {
    return this.db.one(sql`SELECT 1::int AS ok`);
  }

  @Get('/tx')
  async tx() {
    return this.db.transaction((tx) => tx.one(sql`SELECT 2::int AS ok`));
  }
}

describe('PostgreSQL cut under load (TCP proxy)', () => {
  let tdb: TestDatabase;

  beforeAll(async () => {
    tdb = await createTestDatabase();
  });

  afterAll(async () => {
    await tdb?.drop();
  });

  test('hundreds of 503s: one line with the stack, a count a second per kind, one "is back"', async () => {
    const base = new URL(process.env.DATABASE_URL as string);
    const proxy = new TcpProxy(base.hostname, Number(base.port || 5432));
    const url = new URL(tdb.url);
    url.hostname = '127.0.0.1';
    url.port = String(await proxy.start());
    const log = memoryLogger('info');
    const app = createApp({
      controllers: [DbController],
      plugins: [database({ url: url.toString(), outageLogInterval: 1000 })],
      logger: log.logger,
    });
    const client = await testClient(app);
    try {
      expect(new Set(await load(client, '/db', forMs(300)))).toEqual(new Set([200]));
      expect(logged(log.records).length).toBe(0);

      const cut = Date.now();
      await proxy.stop();
      const during = [
        ...(await load(client, '/db', forMs(3000))),
        ...(await load(client, '/tx', forMs(500))),
      ];
      await proxy.start();
      const outageMs = Date.now() - cut;
      expect(during.length).toBeGreaterThanOrEqual(200);
      expect(new Set(during)).toEqual(new Set([503]));

      await waitFor(
        async () => (await client.get('/db')).status === 200,
        5000,
        'the database to answer again',
      );
      expect(new Set(await load(client, '/db', forMs(300)))).toEqual(new Set([200]));
      await waitFor(
        () => log.records.some((r) => / is back /.test(r.msg ?? '')),
        3000,
        'the "is back" line',
      );

      const lines = logged(log.records);
      expectOutageLines(
        lines,
        'database',
        ['database unavailable', 'an idle database connection failed; the pool replaces it'],
        during.length,
        outageMs,
        1000,
      );
      // Thousands of failures, a handful of lines.
      expect(lines.length).toBeLessThanOrEqual(12);
    } finally {
      await client.close();
      await proxy.stop();
    }
  }, 30_000);
});

@Controller()
class SessionController {
  @Get('/visit')
  async visit(req: Request) {
    const session = await getSession(req);
    const n = (session.get<number>('n') ?? 0) + 1;
    session.set('n', n);
    return { n };
  }
}

const describeRedis = redisServerBinary() === null ? describe.skip : describe;

describeRedis(
  'Redis killed under load (a redis-server of this suite, killed and restarted)',
  () => {
    let server: RedisServer;

    beforeAll(async () => {
      server = await RedisServer.start();
    });

    afterAll(async () => {
      await server?.dispose();
    });

    test('sessions and the hub: each one line with the stack, counts a second, one "is back"', async () => {
      const log = memoryLogger('info');
      const app: Application = createApp({
        controllers: [SessionController],
        middlewares: [
          sessions(new RedisStorage(server.url, { outageLogInterval: 1000, timeout: 500 })),
        ],
        plugins: [hub({ redis: server.url })],
        logger: log.logger,
      });
      const client = await testClient(app);
      try {
        // Both hub connections up: a message published comes back to the subscriber.
        const heard: unknown[] = [];
        app.hub!.subscribe('t', (m) => void heard.push(m));
        await waitFor(
          async () => (await app.hub!.publish('t', 1), heard.length > 0),
          5000,
          'the hub to deliver',
        );
        expect((await client.get('/visit')).status).toBe(200); // the session cookie
        expect(new Set(await load(client, '/visit', forMs(300)))).toEqual(new Set([200]));
        expect(logged(log.records).length).toBe(0);

        const cut = Date.now();
        await server.stop();
        const during = await load(client, '/visit', forMs(3000));
        await server.start();
        const outageMs = Date.now() - cut;
        expect(during.length).toBeGreaterThanOrEqual(200);
        expect(new Set(during)).toEqual(new Set([503]));

        // ioredis reconnects within 2 s; the restarted server has lost the session: a new one.
        await waitFor(
          async () => (await client.get('/visit')).status === 200,
          8000,
          'sessions to work again',
        );
        await load(client, '/visit', forMs(300));
        await waitFor(
          () => log.records.filter((r) => / is back /.test(r.msg ?? '')).length === 2,
          8000,
          'two "is back" lines',
        );

        const lines = logged(log.records);
        const sessionLines = lines.filter((r) => /^sessions: Redis/.test(r.msg ?? ''));
        const hubLines = lines.filter((r) => /^hub: Redis/.test(r.msg ?? ''));
        expect(sessionLines.length + hubLines.length).toBe(lines.length);
        expectOutageLines(
          sessionLines,
          'sessions: Redis',
          ['sessions: Redis failed'],
          during.length,
          outageMs,
          1000,
        );
        // The hub's connections fail on each reconnection attempt (no request needed to notice).
        expect(hubLines.filter((r) => r.err !== undefined).length).toBe(1);
        expect(hubLines.filter((r) => r.err !== undefined)[0]).toMatchObject({
          level: WARN,
          msg: 'hub: Redis connection error',
        });
        expect(hubLines.filter((r) => r.level === INFO)).toEqual([
          expect.objectContaining({
            msg: expect.stringMatching(/^hub: Redis is back after [\d.]+ s \(\d+ failures?\)$/),
          }),
        ]);
        expect(lines.length).toBeLessThanOrEqual(16);

        // Messages flow again (the subscriber resubscribed).
        heard.length = 0;
        await waitFor(
          async () => (await app.hub!.publish('t', 2), heard.length > 0),
          5000,
          'the hub to deliver again',
        );
      } finally {
        await client.close();
      }
    }, 40_000);
  },
);
