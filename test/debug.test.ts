import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  Controller,
  createApp,
  Get,
  HTTPForbidden,
  Post,
  type Application,
  type Middleware,
  type Request,
} from '../src';
import { testClient } from '../src/testing';
import { memoryLogger, type LogRecord } from './helpers/memory-logger';

/**
 * DEBUG's error page and route table, and that nothing of them shows with DEBUG off. Secrets in
 * settings, URLs and credential headers are masked on the page.
 */

@Controller('/debug', { name: 'debug' })
class DebugController {
  @Get('/boom', { name: 'boom' })
  boom() {
    throw new Error('kaboom <b>');
  }

  @Get('/items/<item_id:\\d+>', { name: 'item' })
  async item(req: Request) {
    await Promise.resolve();
    throw new TypeError(`item ${req.params.item_id} & co`);
  }

  @Get('/string')
  thrownString() {
    throw 'a bare string <i>';
  }

  @Get('/forbidden')
  forbidden() {
    throw new HTTPForbidden('not yours');
  }

  @Post('/things', { name: 'add_thing' })
  add() {
    return { ok: true };
  }
}

const SESSION_KEY = randomBytes(32).toString('base64');
const SECRET_SETTINGS = {
  LOCALE: 'uk_UA',
  API_TOKEN: 'tok-9f8e7d6c5b4a',
  SESSION_KEYS: [SESSION_KEY],
  DATABASE_URL: 'postgres://u:hunter2@db/x',
  BROKER_URL: 'amqp://guest:brokerpw-42@mq:5672/vhost',
  // Unencoded '@'s, which URL parsers (and pg) read up to the last one: password 'p@ss-w0rd-5'.
  REPLICA_URL: 'postgres://u:p@ss-w0rd-5@replica/x',
  AZURE_URL: 'postgres://admin@server:azurepw-6@server.example/db',
  PAYMENTS: { secret_key: 'sk_live_abcdef', currency: 'EUR' },
  ADMIN_PASSWORD: 'correct-horse-77',
};
const SECRETS = [
  'tok-9f8e7d6c5b4a',
  SESSION_KEY,
  'hunter2',
  'brokerpw-42',
  'ss-w0rd-5',
  'azurepw-6',
  'sk_live_abcdef',
  'correct-horse-77',
];
const HEADER_SECRETS = {
  cookie: 'rococo_session=cookie-secret-31',
  authorization: 'Bearer auth-secret-32',
  'x-api-key': 'apikey-secret-33',
};
const BROWSER = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

/**
 * Serves `app.handle` on a server of our own: the settings hold a DATABASE_URL that points
 * nowhere, and `listen()` would check it at startup.
 */
async function serve(app: Application): Promise<{ base: string; close: () => Promise<void> }> {
  const server: Server = createServer(app.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await app.close(); // closes the (never connected) pool
    },
  };
}

const passThrough: Middleware = (_req, next) => next();

describe.each([
  ['without middlewares', [] as Middleware[]],
  ['through an app middleware', [passThrough]],
])('DEBUG on, %s', (_label, middlewares) => {
  let server: Awaited<ReturnType<typeof serve>>;
  let records: LogRecord[];

  beforeAll(async () => {
    const log = memoryLogger('info');
    records = log.records;
    server = await serve(
      createApp({
        controllers: [DebugController],
        settings: { ...SECRET_SETTINGS, DEBUG: true },
        logger: log.logger,
        middlewares,
      }),
    );
  });
  afterAll(() => server.close());

  test('an unhandled error in a browser request is an HTML page: message, stack, route, request, masked settings', async () => {
    const res = await fetch(`${server.base}/debug/boom?q=1&x=%3Cy%3E`, {
      headers: { ...BROWSER, ...HEADER_SECRETS, 'x-visible': 'shown-header-value' },
    });
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    // Its own policy: only its inline style, under whatever policy the app sends (securityHeaders).
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none'; style-src 'unsafe-inline'",
    );
    const page = await res.text();

    expect(page).toContain('<title>Error: kaboom &lt;b&gt;</title>');
    expect(page).toContain('<h1>Error: kaboom &lt;b&gt;</h1>');
    expect(page).not.toContain('kaboom <b>');
    expect(page).toMatch(
      /<pre>Error: kaboom &lt;b&gt;\n[^<]*\bat DebugController\.boom \([^<]*<\/pre>/,
    ); // the stack
    expect(page).toContain('debug.test.ts');
    expect(page).toContain('DebugController.boom');
    expect(page).toContain('<p>DebugController.boom (GET, name &#39;debug.boom&#39;)</p>');
    expect(page).toMatch(/<th>method<\/th><td>GET<\/td>/);
    expect(page).toContain('/debug/boom?q=1&amp;x=%3Cy%3E');
    expect(page).toContain(res.headers.get('x-request-id')!);

    // Settings: shown, with secrets masked.
    expect(page).toMatch(/<th>LOCALE<\/th><td>uk_UA<\/td>/);
    expect(page).toContain('<th>API_TOKEN</th>');
    expect(page).toContain('<th>SESSION_KEYS</th>');
    expect(page).toMatch(/<th>DATABASE_URL<\/th><td>postgres:\/\/u:[^<]*@db\/x<\/td>/);
    expect(page).toContain('mq:5672/vhost');
    expect(page).toMatch(/<th>REPLICA_URL<\/th><td>postgres:\/\/u:[^<@]*@replica\/x<\/td>/);
    expect(page).toMatch(
      /<th>AZURE_URL<\/th><td>postgres:\/\/admin@server:[^<@]*@server\.example\/db<\/td>/,
    );
    expect(page).toContain('EUR');
    // Headers: shown, credentials masked.
    expect(page).toContain('shown-header-value');
    expect(page).toContain('<th>cookie</th>');
    expect(page).toContain('<th>authorization</th>');
    for (const s of [
      ...SECRETS,
      ...Object.values(HEADER_SECRETS),
      'cookie-secret-31',
      'auth-secret-32',
    ])
      expect(page).not.toContain(s);

    // The error is logged as with DEBUG off.
    expect(
      records.some(
        (r) => r.level === 50 && (r.err as { message?: string })?.message === 'kaboom <b>',
      ),
    ).toBe(true);
  });

  test('route parameters are on the page, escaped', async () => {
    const res = await fetch(`${server.base}/debug/items/42`, { headers: BROWSER });
    expect(res.status).toBe(500);
    const page = await res.text();
    expect(page).toContain('<h1>TypeError: item 42 &amp; co</h1>');
    expect(page).toContain('<p>DebugController.item (GET, name &#39;debug.item&#39;)</p>');
    expect(page).toMatch(/<th>item_id<\/th><td>42<\/td>/);
  });

  test('a thrown non-Error gets the page too', async () => {
    const res = await fetch(`${server.base}/debug/string`, { headers: BROWSER });
    expect(res.status).toBe(500);
    const page = await res.text();
    expect(page).toContain('a bare string &lt;i&gt;');
    expect(page).not.toContain('a bare string <i>');
  });

  test('an API request gets problem+json with the message and the stack, no page', async () => {
    for (const accept of ['application/json', undefined]) {
      const res = await fetch(`${server.base}/debug/boom`, {
        headers: { ...(accept ? { accept } : {}), ...HEADER_SECRETS },
      });
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const text = await res.text();
      expect(text).not.toContain('<html');
      const problem = JSON.parse(text);
      expect(problem).toMatchObject({
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        detail: 'kaboom <b>',
      });
      expect(problem.stack).toMatch(/^Error: kaboom <b>\n[\s\S]*\bat DebugController\.boom \(/);
      for (const s of [...SECRETS, ...Object.values(HEADER_SECRETS)]) expect(text).not.toContain(s);
    }
  });

  test('HTTP errors are not debug pages', async () => {
    for (const [path, status] of [
      ['/nowhere', 404],
      ['/debug/forbidden', 403],
      ['/debug/things', 405],
    ] as const) {
      const res = await fetch(`${server.base}${path}`, { headers: BROWSER });
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const text = await res.text();
      expect(text).not.toContain('<html');
      expect(text).not.toContain('stack');
    }
  });
});

describe('DEBUG off', () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let records: LogRecord[];

  beforeAll(async () => {
    const log = memoryLogger('info');
    records = log.records;
    server = await serve(
      createApp({
        controllers: [DebugController],
        settings: { ...SECRET_SETTINGS, DEBUG: false },
        logger: log.logger,
      }),
    );
  });
  afterAll(() => server.close());

  test('a browser request gets a bare 500 problem+json: no message, no stack, no page', async () => {
    for (const [path, message] of [
      ['/debug/boom', 'kaboom'],
      ['/debug/items/42', 'item 42'],
      ['/debug/string', 'a bare string'],
    ]) {
      const res = await fetch(`${server.base}${path}`, {
        headers: { ...BROWSER, ...HEADER_SECRETS },
      });
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
      });
      expect(text).not.toContain(message);
      expect(text).not.toContain('<html');
      expect(text).not.toContain('DebugController');
    }
    // Still logged, for the operator.
    expect(records.filter((r) => r.level === 50)).toHaveLength(3);
  });

  test('an API request gets the same bare 500', async () => {
    const res = await fetch(`${server.base}/debug/boom`, {
      headers: { accept: 'application/json' },
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
    });
  });

  test('DEBUG unset is off', async () => {
    const app = createApp({ controllers: [DebugController], logger: memoryLogger('info').logger });
    const client = await testClient(app);
    try {
      const res = await client.get('/debug/boom', { headers: BROWSER });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
      });
    } finally {
      await client.close();
    }
  });
});

describe('the route table at startup', () => {
  const routesLine = (records: LogRecord[]) =>
    records.filter((r) => typeof r.msg === 'string' && r.msg.startsWith('routes:'));

  test('DEBUG on: logged once at info, with methods, patterns, names and origins', async () => {
    const { logger, records } = memoryLogger('info');
    const app = createApp({ controllers: [DebugController], settings: { DEBUG: true }, logger });
    const client = await testClient(app);
    try {
      await app.startup(); // a second startup() does not log it again
      const lines = routesLine(records);
      expect(lines).toHaveLength(1);
      expect(lines[0].level).toBe(30);
      const [head, ...rows] = (lines[0].msg as string).split('\n').slice(1);
      expect(head.split(/\s{2,}/)).toEqual([
        'METHOD',
        'PATTERN',
        'NAME',
        'HANDLER',
        'MIDDLEWARES',
        'PLUGINS',
      ]);
      expect(rows).toHaveLength(5);
      const row = (origin: string) => rows.find((r) => r.includes(` ${origin} `))?.split(/\s{2,}/);
      expect(row('DebugController.boom')).toEqual([
        'GET',
        '/debug/boom',
        'debug.boom',
        'DebugController.boom',
        '-',
        '-',
      ]);
      expect(row('DebugController.item')).toEqual([
        'GET',
        '/debug/items/<item_id:\\d+>',
        'debug.item',
        'DebugController.item',
        '-',
        '-',
      ]);
      expect(row('DebugController.add')).toEqual([
        'POST',
        '/debug/things',
        'debug.add_thing',
        'DebugController.add',
        '-',
        '-',
      ]);
      expect(row('DebugController.thrownString')?.slice(0, 2)).toEqual(['GET', '/debug/string']);
      // And the app serves as usual.
      expect((await client.post('/debug/things')).status).toBe(200);
    } finally {
      await client.close();
    }
  });

  test('DEBUG off: not logged', async () => {
    const { logger, records } = memoryLogger('info');
    const app = createApp({ controllers: [DebugController], settings: { DEBUG: false }, logger });
    const client = await testClient(app);
    try {
      expect((await client.post('/debug/things')).status).toBe(200);
      expect(routesLine(records)).toEqual([]);
      expect(JSON.stringify(records)).not.toContain('/debug/items/');
    } finally {
      await client.close();
    }
  });
});
