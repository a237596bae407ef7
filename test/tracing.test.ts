import { hasSubscribers } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import {
  Controller,
  createApp,
  database,
  Get,
  HTTPNotFound,
  Post,
  sql,
  Template,
  templates,
  tracing,
  type Application,
  type Middleware,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { statementOf } from '../src/tracing/statements';
import { createTestDatabase, type TestDatabase } from './helpers/database';
import { memoryLogger, type LogRecord } from './helpers/memory-logger';

let tdb: TestDatabase;
let dir: string;

beforeAll(async () => {
  tdb = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'rococo-tracing-'));
  writeFileSync(join(dir, 'project.html'), '<h1>{{ name }}</h1>');
});

afterAll(async () => {
  await tdb?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const db = (req: Request) => req.app.database!;
let release: () => void = () => {};

@Controller()
class ProjectsController {
  @Get('/projects/<project_id>', { name: 'projects.show' })
  async show(req: Request) {
    const row = await db(req).one<{ id: number; name: string }>(
      sql`SELECT id, name FROM projects WHERE id = ${Number(req.params.project_id)}`,
    );
    req.log.info('shown');
    return row;
  }

  @Get('/pages/<project_id>')
  @Template('project.html')
  async page(req: Request) {
    // Returned unawaited: the engine gives a promise of this realm even while the channel is
    // subscribed (node's TracingChannel makes its own in node's realm, which jest's is not).
    return db(req).one(sql`SELECT name FROM projects WHERE id = ${Number(req.params.project_id)}`);
  }

  @Post('/projects')
  async add(req: Request) {
    const id = await db(req).transaction(async (tx) => {
      const row = await tx.one<{ id: number }>(
        sql`INSERT INTO projects (name) VALUES (${'new'}) RETURNING id`,
      );
      await tx.query(sql`UPDATE projects SET name = ${'newer'} WHERE id = ${row.id}`);
      return row.id;
    });
    return { id };
  }

  @Get('/boom')
  boom(): never {
    throw new Error('boom');
  }

  @Get('/bad-sql')
  async badSql(req: Request) {
    return db(req).query(sql`SELECT * FROM nowhere`);
  }

  @Get('/missing')
  missing(): never {
    throw new HTTPNotFound('no such thing');
  }

  @Get('/mw/ping')
  ping() {
    return { pong: true };
  }

  @Get('/slow')
  async slow() {
    await new Promise<void>((resolve) => (release = resolve));
    return { done: true };
  }
}

/** An app middleware that queries the database on /mw paths: its query is the request's child too. */
const countingMiddleware: Middleware = async (req, next) => {
  if (req.path.startsWith('/mw')) await db(req).query(sql`SELECT count(*) FROM projects`);
  return next();
};

function makeApp(
  options: {
    logger?: ReturnType<typeof memoryLogger>['logger'];
    plugin?: ReturnType<typeof tracing>;
  } = {},
): Application {
  return createApp({
    controllers: [ProjectsController],
    middlewares: [countingMiddleware],
    logger: options.logger,
    plugins: [database({ url: tdb.url }), templates({ dir }), options.plugin ?? tracing()],
  });
}

async function seed(app: Application): Promise<void> {
  await app.database!.query(
    sql`CREATE TABLE IF NOT EXISTS projects (id serial PRIMARY KEY, name text NOT NULL)`,
  );
  await app.database!.query(sql`TRUNCATE projects RESTART IDENTITY`);
  await app.database!.query(sql`INSERT INTO projects (name) VALUES ('rococo'), ('baroque')`);
}

/** Spans end when the response is done on the server's side, a moment after the client has it. */
async function spansOf(
  exporter: InMemorySpanExporter,
  done: (spans: ReadableSpan[]) => boolean,
): Promise<ReadableSpan[]> {
  for (let i = 0; i < 200; i++) {
    const spans = exporter.getFinishedSpans();
    if (done(spans)) return spans;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(
    `spans never came: ${exporter
      .getFinishedSpans()
      .map((s) => s.name)
      .join(', ')}`,
  );
}

const serverSpan = (spans: ReadableSpan[]) => spans.find((s) => s.kind === SpanKind.SERVER);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

// --------------------------------------------------------------------------------------------
// First, before any SDK is registered in this file's globals.
describe('without an OpenTelemetry SDK', () => {
  test('the plugin installs nothing: routes keep the direct path, no channel is listened to, no ids in logs', async () => {
    const { logger, records } = memoryLogger('info');
    const app = makeApp({ logger });
    // The positive control: the same app with a provider has the plugin's middleware on every route.
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const traced = makeApp({ plugin: tracing({ tracerProvider: provider }) });
    try {
      expect(app.router.routes.length).toBeGreaterThan(0);
      // No app middleware but the app's own: the plugin added none.
      for (const route of app.router.routes)
        expect(route.handler.middlewares).toEqual([countingMiddleware]);
      for (const route of traced.router.routes) expect(route.handler.middlewares?.length).toBe(2);
      await traced.close();
      expect(hasSubscribers('tracing:rococo:database:query:start')).toBe(false);
      expect(hasSubscribers('tracing:rococo:templates:render:start')).toBe(false);

      const client = await testClient(app);
      await seed(app);
      const res = await client.get('/projects/1');
      expect(res.status).toBe(200);
      await client.close();
      const lines = records.filter((r) => r.msg === 'shown' || r.msg === 'request');
      expect(lines).toHaveLength(2);
      for (const line of lines) expect(line.trace_id).toBeUndefined();
      expect(exporter.getFinishedSpans()).toEqual([]);
    } finally {
      await app.close();
      await traced.close();
    }
  });

  test('an explicit tracerProvider traces without touching the globals', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const app = makeApp({ plugin: tracing({ tracerProvider: provider }) });
    const client = await testClient(app);
    try {
      await seed(app);
      expect((await client.get('/projects/2')).status).toBe(200);
      const spans = await spansOf(exporter, (s) => serverSpan(s) !== undefined);
      expect(serverSpan(spans)?.name).toBe('GET /projects/<project_id>');
      expect(trace.getTracerProvider().getTracer('x').startSpan('y').isRecording()).toBe(false);
    } finally {
      await client.close();
    }
    // The app's cleanup unsubscribed it.
    expect(hasSubscribers('tracing:rococo:database:query:start')).toBe(false);
  });

  test('unknown options are refused with ROCOCO_TRACING', () => {
    expect(() => tracing({ provider: {} } as never)).toThrow(
      expect.objectContaining({
        code: 'ROCOCO_TRACING',
        message: "ROCOCO_TRACING: tracing(): unknown option 'provider' (known: tracerProvider)",
      }),
    );
    expect(() => tracing({ tracerProvider: {} } as never)).toThrow(
      expect.objectContaining({ code: 'ROCOCO_TRACING' }),
    );
  });
});

// --------------------------------------------------------------------------------------------
describe('with an SDK registered', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let app: Application;
  let client: TestClient;
  let records: LogRecord[];

  beforeAll(async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    const memory = memoryLogger('info');
    records = memory.records;
    app = makeApp({ logger: memory.logger });
    client = await testClient(app);
    await seed(app);
  });

  afterAll(async () => {
    await client?.close();
    trace.disable();
    propagation.disable();
    context.disable();
  });

  beforeEach(() => exporter.reset());

  /** The spans of one request: its server span and those under it, once it has ended. */
  const request = async (method: string, path: string, headers: Record<string, string> = {}) => {
    const res = await client.request(method, path, { headers });
    const body = await res.text();
    const spans = await spansOf(exporter, (s) => serverSpan(s) !== undefined);
    const server = serverSpan(spans)!;
    return { res, body, spans, server, children: spans.filter((s) => s !== server) };
  };

  test('a request is a server span named by its route, with the HTTP attributes', async () => {
    const { server } = await request('GET', '/projects/1', { 'user-agent': 'jest/1' });
    expect(server.name).toBe('GET /projects/<project_id>');
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    expect(server.attributes).toMatchObject({
      'http.route': '/projects/<project_id>',
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'url.path': '/projects/1',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'client.address': '127.0.0.1',
      'user_agent.original': 'jest/1',
      'network.protocol.version': '1.1',
    });
    expect(server.attributes['server.port']).toEqual(expect.any(Number));
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.instrumentationScope.name).toBe('rococo');
  });

  test('a query is a client span, child of the request span, with its text and no values', async () => {
    const { server, children } = await request('GET', '/projects/2');
    expect(children).toHaveLength(1);
    const [query] = children;
    expect(query.name).toBe('SELECT projects');
    expect(query.kind).toBe(SpanKind.CLIENT);
    expect(parentOf(query)).toBe(server.spanContext().spanId);
    expect(query.spanContext().traceId).toBe(server.spanContext().traceId);
    const url = new URL(tdb.url);
    expect(query.attributes).toEqual({
      'db.system.name': 'postgresql',
      'db.query.text': 'SELECT id, name FROM projects WHERE id = $1',
      'db.query.summary': 'SELECT projects',
      'db.operation.name': 'SELECT',
      'server.address': url.hostname,
      'server.port': Number(url.port),
      'db.namespace': url.pathname.slice(1),
    });
    expect(query.status.code).toBe(SpanStatusCode.UNSET);
  });

  test('a render is a child of the request span, next to its query', async () => {
    const { res, body, server, children } = await request('GET', '/pages/1');
    expect(res.status).toBe(200);
    expect(body).toBe('<h1>rococo</h1>');
    expect(children.map((s) => s.name).sort()).toEqual(['SELECT projects', 'render project.html']);
    for (const child of children) expect(parentOf(child)).toBe(server.spanContext().spanId);
    const render = children.find((s) => s.name === 'render project.html')!;
    expect(render.kind).toBe(SpanKind.INTERNAL);
    expect(render.attributes['rococo.template.name']).toBe('project.html');
  });

  test("queries inside a transaction and in an app middleware are the request's children", async () => {
    const { res, server, children } = await request('GET', '/mw/ping');
    expect(res.status).toBe(200);
    expect(children.map((s) => s.name)).toEqual(['SELECT projects']);
    expect(parentOf(children[0])).toBe(server.spanContext().spanId);

    exporter.reset();
    const tx = await request('POST', '/projects');
    expect(tx.res.status).toBe(200);
    expect(tx.children.map((s) => s.name)).toEqual([
      'BEGIN',
      'INSERT projects',
      'UPDATE projects',
      'COMMIT',
    ]);
    for (const child of tx.children) expect(parentOf(child)).toBe(tx.server.spanContext().spanId);
  });

  test('an incoming traceparent is the parent, and its trace id is kept', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parentId = 'b7ad6b7169203331';
    const { server, children } = await request('GET', '/projects/1', {
      traceparent: `00-${traceId}-${parentId}-01`,
      tracestate: 'vendor=value',
    });
    expect(server.spanContext().traceId).toBe(traceId);
    expect(server.parentSpanContext).toMatchObject({ traceId, spanId: parentId, isRemote: true });
    expect(server.spanContext().traceState?.get('vendor')).toBe('value');
    expect(children[0].spanContext().traceId).toBe(traceId);
  });

  test('a 404 is named by its method alone, and is no error', async () => {
    const { res, server } = await request('GET', '/nowhere');
    expect(res.status).toBe(404);
    expect(server.name).toBe('GET');
    expect(server.attributes['http.route']).toBeUndefined();
    expect(server.attributes['http.response.status_code']).toBe(404);
    expect(server.status.code).toBe(SpanStatusCode.UNSET);

    exporter.reset();
    const thrown = await request('GET', '/missing');
    expect(thrown.server.name).toBe('GET /missing');
    expect(thrown.server.status.code).toBe(SpanStatusCode.UNSET);
    expect(thrown.server.events).toEqual([]);
  });

  test('a 500 is an error, with the exception recorded', async () => {
    const { res, server } = await request('GET', '/boom');
    expect(res.status).toBe(500);
    expect(server.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
    expect(server.attributes['http.response.status_code']).toBe(500);
    expect(server.attributes['error.type']).toBe('500');
    expect(server.events.map((e) => e.name)).toEqual(['exception']);
    expect(server.events[0].attributes?.['exception.message']).toBe('boom');
  });

  test('a failed statement is an error span with its SQLSTATE', async () => {
    const { res, children } = await request('GET', '/bad-sql');
    expect(res.status).toBe(500);
    const [query] = children;
    expect(query.name).toBe('SELECT nowhere');
    expect(query.status.code).toBe(SpanStatusCode.ERROR);
    expect(query.attributes['db.response.status_code']).toBe('42P01');
    expect(query.attributes['error.type']).toBe('42P01');
  });

  test('a response cut short by the client is an error', async () => {
    const cut = new Promise<void>((resolve, reject) => {
      const { port } = new URL(client.url('/'));
      const req = httpRequest({ host: '127.0.0.1', port, path: '/slow' });
      req.on('error', () => resolve());
      req.end();
      // The handler is waiting: go away, then let it answer to nobody.
      setTimeout(() => {
        req.destroy();
        setTimeout(() => {
          release();
          resolve();
        }, 50);
      }, 100);
      req.on('response', () => reject(new Error('answered')));
    });
    await cut;
    const spans = await spansOf(exporter, (s) => serverSpan(s) !== undefined);
    const server = serverSpan(spans)!;
    expect(server.name).toBe('GET /slow');
    expect(server.status.code).toBe(SpanStatusCode.ERROR);
    expect(server.attributes['error.type']).toBe('aborted');
  });

  test("the request's log lines carry its trace and span ids", async () => {
    records.length = 0;
    const { server } = await request('GET', '/projects/1');
    const ids = server.spanContext();
    const shown = records.find((r) => r.msg === 'shown');
    const access = records.find((r) => r.msg === 'request' && r.path === '/projects/1');
    for (const line of [shown, access]) {
      expect(line).toMatchObject({
        trace_id: ids.traceId,
        span_id: ids.spanId,
        trace_flags: '01',
        reqId: expect.any(String),
      });
    }
  });

  test('two apps in one process do not trace each other', async () => {
    const other = makeApp();
    const otherClient = await testClient(other);
    try {
      exporter.reset();
      const mine = await request('GET', '/projects/1');
      expect(mine.children.map((s) => s.name)).toEqual(['SELECT projects']);
      exporter.reset();
      expect((await otherClient.get('/pages/2')).status).toBe(200);
      const spans = await spansOf(exporter, (s) => serverSpan(s) !== undefined);
      const server = serverSpan(spans)!;
      const children = spans.filter((s) => s !== server);
      expect(children.map((s) => s.name).sort()).toEqual([
        'SELECT projects',
        'render project.html',
      ]);
      for (const child of children) expect(parentOf(child)).toBe(server.spanContext().spanId);
    } finally {
      await otherClient.close();
    }
  });
});

// --------------------------------------------------------------------------------------------
describe('names of statements', () => {
  test.each([
    ['SELECT id FROM projects WHERE id = $1', 'SELECT', 'SELECT projects'],
    ['  select * from public."My ""Table"" " t', 'SELECT', 'SELECT public.My "Table" '],
    ['SELECT count(*) FROM (SELECT 1 FROM users) s', 'SELECT', 'SELECT'],
    ['SELECT 1', 'SELECT', 'SELECT'],
    ['-- why\n/* and how */ INSERT INTO comments (body) VALUES ($1)', 'INSERT', 'INSERT comments'],
    ['UPDATE ONLY projects SET name = $1', 'UPDATE', 'UPDATE projects'],
    ['DELETE FROM sessions WHERE expires < now()', 'DELETE', 'DELETE sessions'],
    ['WITH x AS (SELECT 1) SELECT * FROM x', 'WITH', 'WITH'],
    ['BEGIN', 'BEGIN', 'BEGIN'],
    ['', undefined, 'postgresql'],
  ])('%j', (text, operation, summary) => {
    expect(statementOf(text)).toEqual({ operation, summary });
  });
});
