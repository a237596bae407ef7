/**
 * The cors() plugin and @Cors, through HTTP. The cases of expressjs/cors (test/test.js) and
 * fastify/fastify-cors (test/cors.test.js, preflight.test.js) that apply: preflights allowed
 * and refused, credentials, '*' against echoing, list/RegExp/function origins, methods,
 * headers, exposeHeaders and maxAge, Vary, no route (404), plain OPTIONS (405), errors with
 * CORS headers, per-route options, and the mistakes refused at startup. Then the agreement
 * with csrf() and the WebSocket Origin check (app.origins).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Controller,
  Cors,
  cors,
  createApp,
  csrf,
  Delete,
  EncryptedCookieStorage,
  getSession,
  Get,
  HTTPConflict,
  HTTPUnauthorized,
  json,
  Post,
  RococoError,
  sessions,
  staticFiles,
  Use,
  WebSocket,
  websockets,
  type Application,
  type CorsOptions,
  type Middleware,
  type Request,
  type WebSocketConnection,
} from '../src';
import { testClient, WebSocketRefused, type TestClient } from '../src/testing';

const APP = 'https://app.example';
const PARTNER = 'https://partner.example';
const EVIL = 'https://evil.example';

@Controller('/api')
class ApiController {
  @Get('/items')
  list() {
    return json([{ id: 1 }], { headers: { 'x-total': '1' } });
  }

  @Post('/items')
  add() {
    return { added: true };
  }

  @Get('/own-vary')
  ownVary() {
    return json({}, { headers: { vary: 'Accept-Encoding' } });
  }

  @Get('/conflict')
  conflict() {
    throw new HTTPConflict('Taken');
  }

  @Get('/boom')
  boom() {
    throw new Error('broken');
  }

  @Get('/versioned', { conditions: { headers: { 'accept-version': '2' } } })
  v2() {
    return { version: 2 };
  }

  @Get('/versioned')
  v1() {
    return { version: 1 };
  }
}

@Cors({ origins: [PARTNER], credentials: true })
@Controller('/partner')
class PartnerController {
  @Get('/feed')
  feed() {
    return { feed: [] };
  }

  @Cors({ maxAge: 60, methods: ['GET'], headers: ['Content-Type', 'X-Token'] })
  @Get('/cached')
  cached() {
    return { cached: true };
  }

  @Cors(false)
  @Get('/closed')
  closed() {
    return { closed: true };
  }
}

/** Refuses requests without `Authorization`: a preflight never carries it. */
const requireLogin: Middleware = (req, next) => {
  if (req.headers.authorization === undefined) throw new HTTPUnauthorized('Log in');
  return next();
};

@Use(requireLogin)
@Controller('/secure')
class SecureController {
  @Delete('/items/<id:int>')
  remove() {
    return { removed: true };
  }
}

function corsApp(options?: CorsOptions, controllers: Function[] = []): Application {
  return createApp({
    controllers: [
      ApiController,
      PartnerController,
      SecureController,
      ...controllers,
    ] as (new () => object)[],
    plugins: [cors(options)],
    settings: { ACCESS_LOG: false },
  });
}

const preflightOf =
  (client: TestClient) =>
  (path: string, origin: string, method: string, extra: Record<string, string> = {}) =>
    client.options(path, {
      headers: { origin, 'access-control-request-method': method, ...extra },
    });

const acao = (res: globalThis.Response) => res.headers.get('access-control-allow-origin');

describe('cors(): a list of origins', () => {
  let client: TestClient;
  let preflight: ReturnType<typeof preflightOf>;
  beforeAll(async () => {
    client = await testClient(corsApp({ origins: [APP], exposeHeaders: ['X-Total'] }));
    preflight = preflightOf(client);
  });
  afterAll(() => client.close());

  test('a preflight from an allowed origin: 204 with the CORS headers, before any handler', async () => {
    const res = await preflight('/api/items', APP, 'POST');
    expect(res.status).toBe(204);
    expect(acao(res)).toBe(APP);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST');
    expect(res.headers.get('vary')).toBe('Origin, Access-Control-Request-Headers');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-max-age')).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).toBeNull(); // for actual responses only
    expect(res.headers.get('x-request-id')).toMatch(/./);
    expect(await res.text()).toBe('');
  });

  test('a preflight reflects the headers it asks for, when they are a list of names', async () => {
    const res = await preflight('/api/items', APP, 'POST', {
      'access-control-request-headers': 'content-type, x-custom',
    });
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type, x-custom');
    const odd = await preflight('/api/items', APP, 'POST', {
      'access-control-request-headers': 'content type; evil',
    });
    expect(odd.status).toBe(204);
    expect(odd.headers.get('access-control-allow-headers')).toBeNull();
  });

  test('a preflight from another origin: 204 without CORS headers (the browser refuses)', async () => {
    const res = await preflight('/api/items', EVIL, 'POST');
    expect(res.status).toBe(204);
    expect(acao(res)).toBeNull();
    expect(res.headers.get('access-control-allow-methods')).toBeNull();
    expect(res.headers.get('vary')).toBe('Origin');
  });

  test('a preflight to a path with no route is a 404; for a method the path lacks, a 405', async () => {
    expect((await preflight('/api/nothing', APP, 'GET')).status).toBe(404);
    const res = await preflight('/api/items', APP, 'DELETE');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD, POST');
    expect((await preflight('/api/%E0%A4%A', APP, 'GET')).status).toBe(400);
  });

  test('a plain OPTIONS (no Origin, or no Access-Control-Request-Method) keeps its 405 and Allow', async () => {
    const plain = await client.options('/api/items');
    expect(plain.status).toBe(405);
    expect(plain.headers.get('allow')).toBe('GET, HEAD, POST');
    const half = await client.options('/api/items', { headers: { origin: APP } });
    expect(half.status).toBe(405);
    expect(half.headers.get('access-control-allow-methods')).toBeNull();
  });

  test('a preflight is answered before the middlewares: a login check does not refuse it', async () => {
    const res = await preflight('/secure/items/7', APP, 'DELETE', {
      'access-control-request-headers': 'authorization',
    });
    expect(res.status).toBe(204);
    expect(acao(res)).toBe(APP);
    expect(res.headers.get('access-control-allow-methods')).toBe('DELETE');
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization');
    // The actual request still meets the middleware, and its 401 carries CORS headers.
    const refused = await client.delete('/secure/items/7', { headers: { origin: APP } });
    expect(refused.status).toBe(401);
    expect(acao(refused)).toBe(APP);
    const ok = await client.delete('/secure/items/7', {
      headers: { origin: APP, authorization: 'Bearer x' },
    });
    expect(ok.status).toBe(200);
    expect(acao(ok)).toBe(APP);
  });

  test('an actual request from an allowed origin: its origin echoed, Vary, exposed headers', async () => {
    const res = await client.get('/api/items', { headers: { origin: APP } });
    expect(res.status).toBe(200);
    expect(acao(res)).toBe(APP);
    expect(res.headers.get('vary')).toBe('Origin');
    expect(res.headers.get('access-control-expose-headers')).toBe('X-Total');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(await res.json()).toEqual([{ id: 1 }]);
  });

  test('another origin gets its answer without CORS headers, not an error page', async () => {
    const res = await client.post('/api/items', { json: {}, headers: { origin: EVIL } });
    expect(res.status).toBe(200);
    expect(acao(res)).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).toBeNull();
    expect(res.headers.get('vary')).toBe('Origin');
  });

  test('no Origin (same origin, or no browser): no CORS headers, but Vary: Origin for caches', async () => {
    const res = await client.get('/api/items');
    expect(acao(res)).toBeNull();
    expect(res.headers.get('vary')).toBe('Origin');
  });

  test("Vary: Origin joins the handler's own Vary and the route conditions', never replaces them", async () => {
    const own = await client.get('/api/own-vary', { headers: { origin: APP } });
    expect(own.headers.get('vary')).toBe('Accept-Encoding, Origin');
    const conditioned = await client.get('/api/versioned', {
      headers: { origin: APP, 'accept-version': '2' },
    });
    expect(await conditioned.json()).toEqual({ version: 2 });
    expect(conditioned.headers.get('vary')).toBe('accept-version, Origin');
  });

  test('errors carry the CORS headers, so that the page can read the problem', async () => {
    for (const [path, status] of [
      ['/api/conflict', 409],
      ['/api/boom', 500],
      ['/api/nothing', 404],
    ] as const) {
      const res = await client.get(path, { headers: { origin: APP } });
      expect(res.status).toBe(status);
      expect(acao(res)).toBe(APP);
      expect(res.headers.get('vary')).toBe('Origin');
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
    const wrongMethod = await client.put('/api/items', { headers: { origin: APP } });
    expect(wrongMethod.status).toBe(405);
    expect(acao(wrongMethod)).toBe(APP);
  });

  test('@Cors on a controller replaces the app-wide origins there, and adds credentials', async () => {
    const feed = await client.get('/partner/feed', { headers: { origin: PARTNER } });
    expect(acao(feed)).toBe(PARTNER);
    expect(feed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(feed.headers.get('access-control-expose-headers')).toBe('X-Total'); // kept from cors()
    expect(acao(await client.get('/partner/feed', { headers: { origin: APP } }))).toBeNull();
    expect(acao(await client.get('/api/items', { headers: { origin: PARTNER } }))).toBeNull();
  });

  test("@Cors on a method over the controller's: maxAge, methods and headers of its own", async () => {
    const res = await preflight('/partner/cached', PARTNER, 'GET', {
      'access-control-request-headers': 'x-other',
    });
    expect(res.status).toBe(204);
    expect(acao(res)).toBe(PARTNER);
    expect(res.headers.get('access-control-allow-credentials')).toBe('true');
    expect(res.headers.get('access-control-max-age')).toBe('60');
    expect(res.headers.get('access-control-allow-methods')).toBe('GET');
    expect(res.headers.get('access-control-allow-headers')).toBe('Content-Type, X-Token');
    expect(res.headers.get('vary')).toBe('Origin'); // nothing reflected
    const feed = await preflight('/partner/feed', PARTNER, 'GET');
    expect(feed.headers.get('access-control-max-age')).toBeNull();
  });

  test('@Cors(false) turns CORS off on a route: no headers, and its preflight is a plain OPTIONS', async () => {
    const res = await client.get('/partner/closed', { headers: { origin: PARTNER } });
    expect(res.status).toBe(200);
    expect(acao(res)).toBeNull();
    expect(res.headers.get('vary')).toBeNull();
    expect((await preflight('/partner/closed', PARTNER, 'GET')).status).toBe(405);
  });
});

describe("cors(): '*', RegExp and function origins, and the other options", () => {
  test("'*' answers * to any origin, without Vary, on preflights and responses", async () => {
    const client = await testClient(
      createApp({ controllers: [ApiController], plugins: [cors({ origins: '*', maxAge: 0 })] }),
    );
    try {
      const pre = await preflightOf(client)('/api/items', EVIL, 'POST');
      expect(acao(pre)).toBe('*');
      expect(pre.headers.get('access-control-max-age')).toBe('0');
      expect(pre.headers.get('vary')).toBe('Access-Control-Request-Headers');
      const res = await client.get('/api/items', { headers: { origin: EVIL } });
      expect(acao(res)).toBe('*');
      expect(res.headers.get('vary')).toBeNull();
      expect(acao(await client.get('/api/items'))).toBe('*'); // the same for all: caches may share it
    } finally {
      await client.close();
    }
  });

  test('a RegExp is tested against the whole Origin', async () => {
    const client = await testClient(
      createApp({
        controllers: [ApiController],
        plugins: [cors({ origins: /^https:\/\/[a-z]+\.example\.com$/ })],
      }),
    );
    try {
      expect(
        acao(await client.get('/api/items', { headers: { origin: 'https://shop.example.com' } })),
      ).toBe('https://shop.example.com');
      for (const origin of ['https://shop.example.com.evil.net', 'http://shop.example.com', EVIL])
        expect(acao(await client.get('/api/items', { headers: { origin } }))).toBeNull();
    } finally {
      await client.close();
    }
  });

  test('a function decides with the origin and the request', async () => {
    const asked: string[] = [];
    const client = await testClient(
      createApp({
        controllers: [ApiController],
        plugins: [
          cors({
            origins: (origin, req) => {
              asked.push(`${origin} ${req.path}`);
              return origin === APP && req.path !== '/api/conflict';
            },
          }),
        ],
      }),
    );
    try {
      expect(acao(await client.get('/api/items', { headers: { origin: APP } }))).toBe(APP);
      expect(acao(await client.get('/api/conflict', { headers: { origin: APP } }))).toBeNull();
      expect(acao(await client.get('/api/items', { headers: { origin: EVIL } }))).toBeNull();
      expect(asked).toEqual([`${APP} /api/items`, `${APP} /api/conflict`, `${EVIL} /api/items`]);
    } finally {
      await client.close();
    }
  });

  test('an empty list of headers sends no Allow-Headers; methods are upper-cased', async () => {
    const client = await testClient(
      createApp({
        controllers: [ApiController],
        plugins: [cors({ origins: [APP], headers: [], methods: ['get', 'post'] })],
      }),
    );
    try {
      const res = await preflightOf(client)('/api/items', APP, 'POST', {
        'access-control-request-headers': 'x-custom',
      });
      expect(res.headers.get('access-control-allow-headers')).toBeNull();
      expect(res.headers.get('access-control-allow-methods')).toBe('GET, POST');
      expect(res.headers.get('vary')).toBe('Origin');
    } finally {
      await client.close();
    }
  });

  test('files of staticFiles() carry the headers too, and their 304s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rococo-cors-'));
    writeFileSync(join(dir, 'app.js'), 'console.log(1);');
    const client = await testClient(
      createApp({ plugins: [staticFiles([{ prefix: '/static', dir }]), cors({ origins: [APP] })] }),
    );
    try {
      const res = await client.get('/static/app.js', { headers: { origin: APP } });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('console.log(1);');
      expect(acao(res)).toBe(APP);
      expect(res.headers.get('vary')).toBe('Origin');
      const etag = res.headers.get('etag') as string;
      const again = await client.get('/static/app.js', {
        headers: { origin: APP, 'if-none-match': etag },
      });
      expect(again.status).toBe(304);
      expect(acao(again)).toBe(APP);
      const pre = await preflightOf(client)('/static/app.js', APP, 'GET');
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    } finally {
      await client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('cors() alone allows no origin: CORS only where @Cors says so', async () => {
    const client = await testClient(corsApp());
    try {
      expect(acao(await client.get('/api/items', { headers: { origin: APP } }))).toBeNull();
      expect(acao(await client.get('/partner/feed', { headers: { origin: PARTNER } }))).toBe(
        PARTNER,
      );
    } finally {
      await client.close();
    }
  });
});

describe('cors(): mistakes stop startup with a code', () => {
  const refused = (make: () => unknown) => {
    try {
      make();
    } catch (e) {
      expect(e).toBeInstanceOf(RococoError);
      return e as RococoError;
    }
    throw new Error('not refused');
  };

  test("'*' with credentials, app-wide or once @Cors adds them", () => {
    const e = refused(() => cors({ origins: '*', credentials: true }));
    expect(e.code).toBe('ROCOCO_CORS');
    expect(e.message).toContain("cors(): origins '*' cannot go with credentials");
    @Controller('/creds')
    class CredsController {
      @Cors({ credentials: true })
      @Get('')
      creds() {}
    }
    const onRoute = refused(() =>
      createApp({ controllers: [CredsController], plugins: [cors({ origins: '*' })] }),
    );
    expect(onRoute.code).toBe('ROCOCO_CORS');
    expect(onRoute.message).toContain(
      "CredsController.creds: origins '*' cannot go with credentials",
    );
  });

  test.each<[string, unknown, string]>([
    ['an unknown key', { origin: [APP] }, 'ROCOCO_OPTIONS'],
    ['an origin with a path', { origins: ['https://app.example/'] }, 'ROCOCO_CORS'],
    ['an origin without a scheme', { origins: ['app.example'] }, 'ROCOCO_CORS'],
    ["'null'", { origins: ['null'] }, 'ROCOCO_CORS'],
    ["'*' in a list", { origins: ['*', APP] }, 'ROCOCO_CORS'],
    ['a string', { origins: APP }, 'ROCOCO_CORS'],
    ['a global RegExp', { origins: /example/g }, 'ROCOCO_CORS'],
    ['credentials not a boolean', { origins: [APP], credentials: 'yes' }, 'ROCOCO_CORS'],
    ['a negative maxAge', { origins: [APP], maxAge: -1 }, 'ROCOCO_CORS'],
    ['a maxAge in seconds as text', { origins: [APP], maxAge: '600' }, 'ROCOCO_CORS'],
    ['a header that is no name', { origins: [APP], headers: ['x y'] }, 'ROCOCO_CORS'],
    ['headers as one string', { origins: [APP], exposeHeaders: 'X-Total' }, 'ROCOCO_CORS'],
    [
      "'*' headers with credentials",
      { origins: [APP], credentials: true, headers: ['*'] },
      'ROCOCO_CORS',
    ],
  ])('%s', (_, options, code) => {
    expect(refused(() => cors(options as CorsOptions)).code).toBe(code);
  });

  test('an unknown key in @Cors is refused where it is written', () => {
    expect(refused(() => Cors({ maxage: 5 } as CorsOptions)).code).toBe('ROCOCO_OPTIONS');
  });

  test('@Cors without the cors plugin stops startup, naming it', () => {
    const e = refused(() => createApp({ controllers: [PartnerController] }));
    expect(e.code).toBe('ROCOCO_PLUGIN');
    expect(e.message).toContain("@Cors needs the 'cors' plugin");
  });

  test('one inherited method under two different @Cors is refused, not answered wrongly', () => {
    @Controller('/base')
    class BaseController {
      @Get('/x') x() {}
    }
    @Cors({ origins: [PARTNER] })
    @Controller('/one')
    class OneController extends BaseController {}
    const e = refused(() =>
      createApp({ controllers: [BaseController, OneController], plugins: [cors()] }),
    );
    expect(e.code).toBe('ROCOCO_CORS');
    expect(e.message).toContain('put @Cors on the method in each controller');
  });
});

describe('cors() and the other origin checks agree (app.origins)', () => {
  const KEY = randomBytes(32).toString('base64');

  @Controller('/j')
  class JsonController {
    @Get('/login')
    async login(req: Request) {
      (await getSession(req)).set('user', 7);
      return { user: 7 };
    }

    @Post('/items')
    add() {
      return { added: true };
    }

    @WebSocket('/live')
    async live(ws: WebSocketConnection, req: Request) {
      await ws.sendJson({ origin: req.headers.origin });
    }
  }

  let client: TestClient;
  beforeAll(async () => {
    client = await testClient(
      createApp({
        controllers: [JsonController],
        middlewares: [sessions(new EncryptedCookieStorage(KEY)), csrf()],
        plugins: [cors({ origins: [APP], credentials: true }), websockets()],
      }),
    );
  });
  afterAll(() => client.close());

  const post = (origin: string) =>
    client.post('/j/items', {
      json: { x: 1 },
      headers: { origin, 'sec-fetch-site': 'cross-site' },
    });

  test('a cross-origin JSON POST with a session: passes CSRF from an allowed origin, 403 from another', async () => {
    expect((await client.get('/j/login')).status).toBe(200);
    expect(client.cookies.size).toBe(1); // the session goes with every request: the credentialed case
    const ok = await post(APP);
    expect(ok.status).toBe(200);
    expect(acao(ok)).toBe(APP);
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    const refused = await post(EVIL);
    expect(refused.status).toBe(403);
    expect(acao(refused)).toBeNull();
  });

  test('a WebSocket from an allowed origin opens; from another, 403', async () => {
    const ws = await client.ws('/j/live', { headers: { origin: APP } });
    expect(await ws.nextJson()).toEqual({ origin: APP });
    await ws.closed;
    const e = await client.ws('/j/live', { headers: { origin: EVIL } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WebSocketRefused);
    expect((e as WebSocketRefused).status).toBe(403);
  });

  test('origins allowed without credentials, or by *, are not trusted for CSRF or WebSockets', async () => {
    for (const options of [{ origins: [APP] }, { origins: '*' as const }]) {
      const other = await testClient(
        createApp({
          controllers: [JsonController],
          middlewares: [sessions(new EncryptedCookieStorage(KEY)), csrf()],
          plugins: [cors(options), websockets()],
        }),
      );
      try {
        const res = await other.post('/j/items', {
          json: {},
          headers: { origin: APP, 'sec-fetch-site': 'cross-site' },
        });
        expect(res.status).toBe(403);
        const e = await other.ws('/j/live', { headers: { origin: APP } }).catch((x: unknown) => x);
        expect((e as WebSocketRefused).status).toBe(403);
      } finally {
        await other.close();
      }
    }
  });
});
