import { Application, Controller, createApp, Database, Get, Post, sql, database } from '../src';
import { testClient, type TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { memoryLogger, WARN, type LogRecord } from './helpers/memory-logger';
import {
  adminQuery,
  backendsOf,
  databaseName,
  terminateBackendsOf,
  waitFor,
} from './helpers/pg-admin';
import { TcpProxy } from './helpers/tcp-proxy';

/** A promise with its resolve, for a handler the test holds open. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

// The transaction handler signals `reached` with its backend pid and waits for `release`.
let gate = { reached: deferred<number>(), release: deferred<void>() };

@Controller()
class OutageController {
  constructor(private db: Database) {}

  @Get('/ping')
  async ping() {
    return this.db.one(sql`SELECT 1::int AS ok`);
  }

  @Get('/sleep')
  async sleep() {
    await this.db.query(sql`SELECT pg_sleep(0.1)`);
    return { slept: true };
  }

  @Get('/slow')
  async slow() {
    await this.db.query(sql`SELECT pg_sleep(30)`);
    return { slept: true };
  }

  @Get('/count')
  async count() {
    return this.db.one(sql`SELECT count(*)::int AS n FROM t`);
  }

  @Post('/tx')
  async tx() {
    return this.db.transaction(async (tx) => {
      await tx.query(sql`INSERT INTO t VALUES (${1})`);
      const { pid } = await tx.one<{ pid: number }>(sql`SELECT pg_backend_pid() AS pid`);
      gate.reached.resolve(pid);
      await gate.release.promise;
      await tx.query(sql`INSERT INTO t VALUES (${2})`);
      return { committed: true };
    });
  }
}

let tdb: TestDatabase;
let name: string;

beforeAll(async () => {
  tdb = await createTestDatabase();
  name = databaseName(tdb.url);
  await adminQuery('CREATE TABLE t (v int)', [], tdb.url);
});

afterAll(async () => {
  await tdb?.drop();
});

const idleErrors = (records: LogRecord[]) =>
  records.filter((r) => r.level === WARN && /idle/i.test(r.msg ?? ''));
const backLines = (records: LogRecord[]) =>
  records.filter((r) => /^database is back after/.test(r.msg ?? ''));

async function expect503(res: globalThis.Response) {
  expect(res.status).toBe(503);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(await res.json()).toMatchObject({
    type: 'about:blank',
    title: 'Service Unavailable',
    status: 503,
  });
}

async function expectPing(client: TestClient) {
  const res = await client.get('/ping');
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: 1 });
}

describe('backends terminated with pg_terminate_backend', () => {
  let app: Application;
  let client: TestClient;
  let records: LogRecord[];

  beforeEach(async () => {
    const log = memoryLogger('info');
    records = log.records;
    app = createApp({
      controllers: [OutageController],
      plugins: [database({ url: tdb.url, outageLogInterval: 1000 })],
      logger: log.logger,
    });
    client = await testClient(app);
    await adminQuery('TRUNCATE t', [], tdb.url);
    gate = { reached: deferred<number>(), release: deferred<void>() };
  });

  afterEach(async () => {
    gate.release.resolve();
    await client.close();
  });

  test('idle pool connections killed: no crash, logged at warn (once), the next request succeeds and says it is back', async () => {
    const pool = (app.database as Database).pool;
    // Three requests at once leave three idle connections in the pool.
    const warmed = await Promise.all([1, 2, 3].map(() => client.get('/sleep')));
    expect(warmed.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(pool.totalCount).toBe(3);
    expect(pool.idleCount).toBe(3);
    expect((await backendsOf(name)).length).toBe(3);

    const killed = await terminateBackendsOf(name);
    expect(killed).toHaveLength(3);
    await waitFor(() => pool.totalCount === 0, 5000, 'the pool to drop the dead connections');
    // One outage: the first failure with its stack, the two others counted.
    await waitFor(() => idleErrors(records).length === 1, 2000, 'the warning');
    expect(idleErrors(records)[0].err?.code).toBe('57P01'); // admin_shutdown
    expect(records.filter((r) => r.level > WARN)).toEqual([]);

    await expectPing(client);
    expect(pool.totalCount).toBe(1);
    await waitFor(() => backLines(records).length === 1, 3000, '"database is back"');
    expect(backLines(records)[0]).toMatchObject({ level: 30, failures: 3 });
    expect(records.filter((r) => r.err !== undefined)).toHaveLength(1);
    // And again, with the replacement connection killed too: a line for it (counted in the same
    // outage, or a new one), and back again.
    const before = idleErrors(records).length;
    expect(await terminateBackendsOf(name)).toHaveLength(1);
    await waitFor(() => pool.totalCount === 0, 5000, 'the pool to drop the dead connection');
    await expectPing(client);
    await waitFor(
      () => idleErrors(records).length > before && backLines(records).length === 2,
      5000,
      'a second warning, and back',
    );
    expect(
      idleErrors(records)
        .slice(before)
        .map((r) => r.err?.code ?? r.kind),
    ).toEqual(['57P01']);
  });

  test('a backend killed in the middle of a transaction: 503, rolled back, the process serves on', async () => {
    const pending = client.post('/tx');
    const pid = await gate.reached.promise;
    const killed = await adminQuery<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [
      pid,
    ]);
    expect(killed).toEqual([{ ok: true }]);
    await waitFor(async () => !(await backendsOf(name)).includes(pid), 5000, 'the backend to exit');
    await new Promise((r) => setTimeout(r, 100)); // the client sees the connection end
    gate.release.resolve();

    const res = await pending;
    await expect503(res);

    const count = await client.get('/count');
    expect(count.status).toBe(200);
    expect(await count.json()).toEqual({ n: 0 });
    await expectPing(client);
    // The broken connection was not given back to the pool.
    const pool = (app.database as Database).pool;
    expect((await backendsOf(name)).length).toBe(pool.totalCount);
    expect(records.filter((r) => r.level > WARN)).toEqual([]);
  });

  test('a backend killed while its transaction waits (client checked out, no query running): same', async () => {
    const pending = client.post('/tx');
    const pid = await gate.reached.promise;
    await adminQuery('SELECT pg_terminate_backend($1)', [pid]);
    await waitFor(async () => !(await backendsOf(name)).includes(pid), 5000, 'the backend to exit');
    // Let the dead connection's 'error' fire on the checked-out client long before it is used.
    await new Promise((r) => setTimeout(r, 500));
    gate.release.resolve();
    await expect503(await pending);
    await expectPing(client);
  });

  test('a backend killed during a running query: 503 at once, not a hang', async () => {
    const pending = client.get('/slow');
    let pid: number | undefined;
    await waitFor(
      async () => {
        const rows = await adminQuery<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep(30)%' AND state = 'active'",
          [name],
        );
        pid = rows[0]?.pid;
        return pid !== undefined;
      },
      5000,
      'the slow query to start',
    );
    const t0 = Date.now();
    await adminQuery('SELECT pg_terminate_backend($1)', [pid]);
    await expect503(await pending);
    expect(Date.now() - t0).toBeLessThan(3000);
    await expectPing(client);
  });
});

describe('the server goes away and comes back (TCP proxy)', () => {
  test('idle errors logged at warn; requests get a 503 in bounded time, then succeed once it is back', async () => {
    const base = new URL(process.env.DATABASE_URL as string);
    const proxy = new TcpProxy(base.hostname, Number(base.port || 5432));
    const port = await proxy.start();
    const url = new URL(tdb.url);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    const log = memoryLogger('warn');
    // The default connectionTimeoutMillis (5000): a hanging server must still give a 503 in < 6 s.
    const app = createApp({
      controllers: [OutageController],
      plugins: [database({ url: url.toString() })],
      logger: log.logger,
    });
    const client = await testClient(app);
    const pool = (app.database as Database).pool;
    try {
      const warmed = await Promise.all([1, 2].map(() => client.get('/sleep')));
      expect(warmed.map((r) => r.status)).toEqual([200, 200]);
      expect(pool.idleCount).toBe(2);
      expect(proxy.connections).toBe(2);

      // 1. The server is gone: listener closed, connections cut.
      await proxy.stop();
      await waitFor(() => pool.totalCount === 0, 5000, 'the pool to drop the cut connections');
      // Both connections died at once: one warning with the stack; the second is counted.
      await waitFor(() => idleErrors(log.records).length === 1, 2000, 'the idle warning');
      expect(idleErrors(log.records)[0].err?.message).toMatch(/Connection terminated/);

      let t0 = Date.now();
      const refused = await Promise.all([1, 2, 3, 4, 5].map(() => client.get('/ping')));
      expect(Date.now() - t0).toBeLessThan(6000);
      for (const res of refused) await expect503(res);
      t0 = Date.now();
      await expect503(await client.post('/tx'));
      expect(Date.now() - t0).toBeLessThan(6000);

      // 2. Something listens on the port but never answers (a hung server).
      proxy.blackhole = true;
      await proxy.start();
      expect(proxy.port).toBe(port);
      t0 = Date.now();
      const hung = await Promise.all([1, 2, 3].map(() => client.get('/ping')));
      const elapsed = Date.now() - t0;
      expect(elapsed).toBeLessThan(6000);
      for (const res of hung) await expect503(res);

      // 3. The server is back on the same port.
      proxy.blackhole = false;
      proxy.dropConnections();
      await expectPing(client);
      const again = await Promise.all([1, 2, 3].map(() => client.get('/ping')));
      expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
      const count = await client.get('/count');
      expect(count.status).toBe(200);
      expect(log.records.filter((r) => r.level > WARN)).toEqual([]);
      // The whole outage, refused then hung, is one stack: the 503s are counted, not logged.
      expect(log.records.filter((r) => r.err !== undefined)).toHaveLength(1);
    } finally {
      await client.close();
      await proxy.stop();
    }
  }, 30000);
});

describe('the network freezes under an established connection', () => {
  test('a query on it is a 503 after queryTimeout, not a hang, and a new connection serves again', async () => {
    const base = new URL(process.env.DATABASE_URL as string);
    const proxy = new TcpProxy(base.hostname, Number(base.port || 5432));
    const port = await proxy.start();
    const url = new URL(tdb.url);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    const log = memoryLogger('warn');
    const app = createApp({
      controllers: [OutageController],
      plugins: [database({ url: url.toString(), max: 1, queryTimeout: 1000 })],
      logger: log.logger,
    });
    const client = await testClient(app);
    try {
      await expectPing(client);
      proxy.freeze(); // no FIN, no RST: pg cannot tell the connection died
      const t0 = Date.now();
      await expect503(await client.get('/ping'));
      const elapsed = Date.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(3000);
      proxy.dropConnections();
      await expectPing(client);
    } finally {
      await client.close();
      await proxy.stop();
    }
  }, 20000);
});

describe('a full pool', () => {
  test('a query or a transaction that waits longer than connectionTimeoutMillis is a 503; the pool serves on', async () => {
    const log = memoryLogger('warn');
    const app = createApp({
      controllers: [OutageController],
      plugins: [database({ url: tdb.url, max: 1, connectionTimeoutMillis: 500 })],
      logger: log.logger,
    });
    const client = await testClient(app);
    const pool = (app.database as Database).pool;
    gate = { reached: deferred<number>(), release: deferred<void>() };
    try {
      await adminQuery('TRUNCATE t', [], tdb.url);
      const holding = client.post('/tx'); // holds the only connection until the gate opens
      await gate.reached.promise;
      const t0 = Date.now();
      const [query, transaction] = await Promise.all([client.get('/ping'), client.post('/tx')]);
      const waited = Date.now() - t0;
      await expect503(query);
      await expect503(transaction);
      expect(waited).toBeGreaterThanOrEqual(490);
      expect(waited).toBeLessThan(2500);
      // The first with its stack; the second is counted, for a line at the end of the interval.
      expect(log.records.filter((r) => /unavailable/.test(r.msg ?? ''))).toHaveLength(1);
      expect(log.records[0].err?.message).toMatch(/timeout exceeded when trying to connect/);

      gate.release.resolve();
      expect((await holding).status).toBe(200);
      // The two that gave up leave nothing queued: the connection went back each time.
      await expectPing(client);
      expect(pool.waitingCount).toBe(0);
      expect(pool.totalCount).toBe(1);
      expect((await (await client.get('/count')).json()).n).toBe(2);

      // A waiter served in time is served: two at once on one connection both succeed (the
      // second waits about 100 ms of the 500).
      const both = await Promise.all([client.get('/sleep'), client.get('/sleep')]);
      expect(both.map((r) => r.status)).toEqual([200, 200]);
    } finally {
      gate.release.resolve();
      await client.close();
    }
  });
});
