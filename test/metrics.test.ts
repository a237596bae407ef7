/**
 * The metrics() plugin through HTTP: request series labelled by route name, pattern or `none`
 * and status class, in flight, body sizes, the database pool and query durations against real
 * PostgreSQL, process defaults, one registry per app, the options refused, the quiet route; the
 * exposition judged by promtool (Prometheus' own parser and linter).
 */
import {
  Controller,
  createApp,
  database,
  Get,
  HTTPInternalServerError,
  metrics,
  Post,
  RococoError,
  sql,
  text,
  type Application,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { checkExposition, samples, valueOf } from './helpers/exposition';
import { memoryLogger } from './helpers/memory-logger';

let release: (() => void) | null = null;

@Controller('/')
class ShopController {
  @Get('/items', { name: 'items.list' }) list() {
    return { items: [1, 2, 3] };
  }

  @Get('/items/<id:int>') show(req: Request) {
    return text('item ' + req.params.id);
  }

  @Post('/items', { name: 'items.add' }) async add(req: Request) {
    return { got: (await req.json()) as unknown };
  }

  @Get('/broken', { name: 'broken' }) broken() {
    throw new HTTPInternalServerError('no');
  }

  @Get('/slow', { name: 'slow' }) slow() {
    return new Promise((resolve) => (release = () => resolve({ done: true })));
  }

  @Get('/db', { name: 'db' }) async db(req: Request) {
    return { rows: await req.app.database!.query(sql`SELECT pg_sleep(0.02), 1 AS one`) };
  }

  @Get('/db-fails', { name: 'db.fails' }) async dbFails(req: Request) {
    await req.app.database!.query(sql`SELECT * FROM no_such_table`);
  }
}

const scrape = async (client: TestClient): Promise<string> => {
  const res = await client.get('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.text();
};

const count = (t: string, route: string, status: string, method = 'GET') =>
  valueOf(t, 'http_request_duration_seconds_count', { method, route, status }) ?? 0;

describe('request series', () => {
  let client: TestClient;
  let app: Application;
  beforeAll(async () => {
    app = createApp({ controllers: [ShopController], plugins: [metrics()] });
    client = await testClient(app);
  });
  afterAll(() => client.close());

  test('by route name, pattern when unnamed, none when unmatched, and status class', async () => {
    for (let i = 0; i < 3; i++) expect((await client.get('/items')).status).toBe(200);
    await client.get('/items/7');
    await client.get('/items/8');
    expect((await client.get('/nothing/here/42')).status).toBe(404);
    expect((await client.get('/and/another')).status).toBe(404);
    expect((await client.request('DELETE', '/items')).status).toBe(405);
    expect((await client.get('/broken')).status).toBe(500);

    const t = await scrape(client);
    checkExposition(t);
    expect(count(t, 'items.list', '2xx')).toBe(3);
    expect(count(t, '/items/<id:int>', '2xx')).toBe(2);
    expect(count(t, 'none', '4xx')).toBe(2);
    expect(count(t, 'none', '4xx', 'DELETE')).toBe(1);
    expect(count(t, 'broken', '5xx')).toBe(1);
    // Never the raw path: no label value holds a path that was requested.
    const routes = new Set(
      samples(t)
        .map((s) => s.labels.route)
        .filter(Boolean),
    );
    for (const raw of ['/items/7', '/nothing/here/42', '/and/another', '/broken'])
      expect(routes.has(raw)).toBe(false);
    // Buckets are cumulative and end with +Inf equal to the count.
    const inf = valueOf(t, 'http_request_duration_seconds_bucket', {
      route: 'items.list',
      le: '+Inf',
    });
    expect(inf).toBe(3);
    expect(
      valueOf(t, 'http_request_duration_seconds_sum', { route: 'items.list' }),
    ).toBeGreaterThan(0);
  });

  test('the scrape counts itself on the next scrape, under its route name', async () => {
    const before = count(await scrape(client), 'metrics', '2xx');
    const after = count(await scrape(client), 'metrics', '2xx');
    expect(after).toBe(before + 1);
    expect(app.url('metrics')).toBe('/metrics');
  });

  test('request and response body sizes', async () => {
    const body = JSON.stringify({ name: 'x'.repeat(300) });
    const res = await client.post('/items', {
      body,
      headers: { 'content-type': 'application/json' },
    });
    const answer = await res.text();
    const t = await scrape(client);
    const labels = { method: 'POST', route: 'items.add', status: '2xx' };
    expect(valueOf(t, 'http_request_size_bytes_sum', labels)).toBe(Buffer.byteLength(body));
    expect(valueOf(t, 'http_request_size_bytes_bucket', { ...labels, le: '256' })).toBe(0);
    expect(valueOf(t, 'http_request_size_bytes_bucket', { ...labels, le: '1024' })).toBe(1);
    expect(valueOf(t, 'http_response_size_bytes_sum', labels)).toBe(Buffer.byteLength(answer));
    // A GET without a body counts as 0 bytes; a text response's length is known too.
    expect(valueOf(t, 'http_request_size_bytes_sum', { route: 'items.list' })).toBe(0);
    expect(valueOf(t, 'http_response_size_bytes_sum', { route: '/items/<id:int>' })).toBe(
      'item 7'.length + 'item 8'.length,
    );
  });

  test('requests in flight', async () => {
    const waiting = client.get('/slow');
    for (let i = 0; i < 100 && release === null; i++) await new Promise((r) => setTimeout(r, 10));
    try {
      // The slow request and the scrape itself.
      expect(valueOf(await scrape(client), 'http_requests_in_flight')).toBe(2);
    } finally {
      release?.(); // else closing the client would wait for it
    }
    expect((await waiting).status).toBe(200);
    expect(valueOf(await scrape(client), 'http_requests_in_flight')).toBe(1);
  });

  test('the process defaults are there', async () => {
    const t = await scrape(client);
    for (const name of [
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'process_resident_memory_bytes',
    ])
      expect(valueOf(t, name)).toBeDefined();
    expect(t).toContain('# TYPE nodejs_gc_duration_seconds histogram');
  });
});

describe('the database', () => {
  let tdb: TestDatabase;
  let client: TestClient;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    client = await testClient(
      createApp({
        controllers: [ShopController],
        plugins: [metrics({ defaultMetrics: false }), database({ url: tdb.url })],
      }),
    );
  });
  afterAll(async () => {
    await client?.close();
    await tdb?.drop();
  });

  test('pool gauges and query durations, by outcome', async () => {
    await Promise.all([client.get('/db'), client.get('/db'), client.get('/db')]);
    expect((await client.get('/db-fails')).status).toBe(500);
    const t = await scrape(client);
    checkExposition(t);
    const total = valueOf(t, 'db_pool_connections')!;
    expect(total).toBeGreaterThanOrEqual(1);
    expect(valueOf(t, 'db_pool_idle_connections')).toBe(total);
    expect(valueOf(t, 'db_pool_waiting_clients')).toBe(0);
    expect(valueOf(t, 'db_query_duration_seconds_count', { outcome: 'ok' })).toBeGreaterThanOrEqual(
      3,
    );
    expect(valueOf(t, 'db_query_duration_seconds_count', { outcome: 'error' })).toBe(1);
    // pg_sleep(0.02): three queries of 20 ms at least.
    expect(valueOf(t, 'db_query_duration_seconds_sum', { outcome: 'ok' })).toBeGreaterThan(0.06);
    expect(valueOf(t, 'db_query_duration_seconds_bucket', { outcome: 'ok', le: '0.01' })).toBe(
      valueOf(t, 'db_query_duration_seconds_count', { outcome: 'ok' })! - 3,
    );
  });
});

describe('one registry per app', () => {
  test('two apps in one process do not mix, and register their own metrics', async () => {
    const a = createApp({ controllers: [ShopController], plugins: [metrics()] });
    const b = createApp({ controllers: [ShopController], plugins: [metrics()] });
    expect(a.metrics).not.toBe(b.metrics);
    const { Counter } = await import('prom-client');
    const signups = new Counter({
      name: 'signups_total',
      help: 'Signups',
      registers: [a.metrics!],
    });
    signups.inc(5);
    const ca = await testClient(a);
    const cb = await testClient(b);
    try {
      for (let i = 0; i < 4; i++) await ca.get('/items');
      await cb.get('/items');
      const ta = await scrape(ca);
      const tb = await scrape(cb);
      expect(count(ta, 'items.list', '2xx')).toBe(4);
      expect(count(tb, 'items.list', '2xx')).toBe(1);
      expect(valueOf(ta, 'signups_total')).toBe(5);
      expect(valueOf(tb, 'signups_total')).toBeUndefined();
      checkExposition(ta);
    } finally {
      await ca.close();
      await cb.close();
    }
  });
});

describe('options and the route', () => {
  test('mistakes are refused at startup', () => {
    const refused = (f: () => unknown, code: string, what: RegExp) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(RococoError);
        expect((e as RococoError).code).toBe(code);
        expect((e as Error).message).toMatch(what);
        return;
      }
      throw new Error('not refused');
    };
    refused(() => metrics({ pth: '/m' } as never), 'ROCOCO_OPTIONS', /unknown option 'pth'/);
    refused(() => metrics({ path: 'metrics' }), 'ROCOCO_METRICS', /path/);
    refused(() => metrics({ path: '/m/<id>' }), 'ROCOCO_METRICS', /path/);
    refused(() => metrics({ buckets: [1, 0.5] }), 'ROCOCO_METRICS', /buckets/);
    refused(() => metrics({ buckets: [] }), 'ROCOCO_METRICS', /buckets/);
    refused(() => metrics({ defaultMetrics: 'yes' as never }), 'ROCOCO_METRICS', /defaultMetrics/);
  });

  test('another path and buckets; its access line is not at info', async () => {
    const { logger, records } = memoryLogger('info');
    const client = await testClient(
      createApp({
        controllers: [ShopController],
        logger,
        plugins: [metrics({ path: '/-/prom', buckets: [0.5, 1] })],
      }),
    );
    try {
      await client.get('/items');
      expect((await client.get('/metrics')).status).toBe(404);
      const t = await (await client.get('/-/prom')).text();
      expect(
        samples(t)
          .filter((s) => s.name === 'http_request_duration_seconds_bucket')
          .map((s) => s.labels.le),
      ).toEqual(expect.arrayContaining(['0.5', '1', '+Inf']));
      await client.get('/items');
      const lines = records.filter((r) => r.msg === 'request');
      expect(lines.map((r) => r.path)).toEqual(['/items', '/metrics', '/items']);
    } finally {
      await client.close();
    }
  });
});
