import {
  createApp,
  Controller,
  Get,
  Post,
  Use,
  Injectable,
  HTTPError,
  HTTPNotFound,
  HTTPMethodNotAllowed,
  html,
  json,
  type Middleware,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

/** A middleware that records its name on the way in and on the way out. */
function mark(log: string[], name: string): Middleware {
  return async (req, next) => {
    log.push(`>${name}`);
    const res = await next();
    log.push(`<${name}`);
    return res;
  };
}

const PROBLEM_500 = { type: 'about:blank', title: 'Internal Server Error', status: 500 };

describe('middleware order', () => {
  const log: string[] = [];
  let client: TestClient;

  @Use(mark(log, 'c1'), mark(log, 'c2'))
  @Use(mark(log, 'c3'))
  @Controller('/o')
  class OrderController {
    @Use(mark(log, 'm1'), mark(log, 'm2'))
    @Use(mark(log, 'm3'))
    @Get('/full')
    full() {
      log.push('handler');
      return { ok: true };
    }

    // @Use below the route decorator: same meaning.
    @Get('/below')
    @Use(mark(log, 'b1'))
    below() {
      log.push('handler');
      return { ok: 'below' };
    }

    @Get('/plain')
    plain() {
      log.push('handler');
      return { ok: 'plain' };
    }
  }

  @Controller('/bare')
  class BareController {
    @Get('/x')
    x() {
      log.push('handler');
      return { ok: 'bare' };
    }
  }

  beforeAll(async () => {
    const app = createApp({
      controllers: [OrderController, BareController],
      middlewares: [mark(log, 'a1'), mark(log, 'a2')],
    });
    client = await testClient(app);
  });
  afterAll(() => client.close());
  beforeEach(() => {
    log.length = 0;
  });

  test('app (outermost first), then controller @Use, then method @Use; in and out', async () => {
    const res = await client.get('/o/full');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(log).toEqual([
      '>a1',
      '>a2',
      '>c1',
      '>c2',
      '>c3',
      '>m1',
      '>m2',
      '>m3',
      'handler',
      '<m3',
      '<m2',
      '<m1',
      '<c3',
      '<c2',
      '<c1',
      '<a2',
      '<a1',
    ]);
  });

  test('@Use written below the route decorator still wraps the handler', async () => {
    const res = await client.get('/o/below');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: 'below' });
    expect(log).toEqual([
      '>a1',
      '>a2',
      '>c1',
      '>c2',
      '>c3',
      '>b1',
      'handler',
      '<b1',
      '<c3',
      '<c2',
      '<c1',
      '<a2',
      '<a1',
    ]);
  });

  test('a method without @Use gets the app and controller middlewares only', async () => {
    const res = await client.get('/o/plain');
    expect(await res.json()).toEqual({ ok: 'plain' });
    expect(log).toEqual([
      '>a1',
      '>a2',
      '>c1',
      '>c2',
      '>c3',
      'handler',
      '<c3',
      '<c2',
      '<c1',
      '<a2',
      '<a1',
    ]);
  });

  test("another controller does not get this controller's middlewares", async () => {
    const res = await client.get('/bare/x');
    expect(await res.json()).toEqual({ ok: 'bare' });
    expect(log).toEqual(['>a1', '>a2', 'handler', '<a2', '<a1']);
  });

  test('a 404 from the router passes through the app middlewares only', async () => {
    const res = await client.get('/nowhere');
    expect(res.status).toBe(404);
    expect(log).toEqual(['>a1', '>a2']); // next() rejected: nobody logs on the way out
  });
});

describe('req.state', () => {
  test('a middleware leaves data for the handler in req.state, fresh for every request', async () => {
    let n = 0;
    const auth: Middleware = async (req, next) => {
      expect(req.state).toEqual({});
      req.state.user = `user${++n}`;
      return next();
    };
    @Controller()
    class StateController {
      @Use(auth)
      @Get('/me')
      me(req: Request) {
        return { user: req.state.user };
      }
    }
    const client = await testClient(createApp({ controllers: [StateController] }));
    try {
      expect(await (await client.get('/me')).json()).toEqual({ user: 'user1' });
      expect(await (await client.get('/me')).json()).toEqual({ user: 'user2' });
    } finally {
      await client.close();
    }
  });
});

describe('short-circuit', () => {
  test('a middleware answers without calling next(): nothing inside it runs', async () => {
    const log: string[] = [];
    const deny: Middleware = async (req) => {
      log.push('deny');
      return json({ denied: req.path }, { status: 403, headers: { 'x-denied': 'yes' } });
    };
    @Use(deny, mark(log, 'inner'))
    @Controller('/admin')
    class AdminController {
      @Use(mark(log, 'method'))
      @Post('/purge')
      purge() {
        log.push('handler');
        return { purged: true };
      }
    }
    const client = await testClient(
      createApp({ controllers: [AdminController], middlewares: [mark(log, 'app')] }),
    );
    try {
      const res = await client.post('/admin/purge');
      expect(res.status).toBe(403);
      expect(res.headers.get('x-denied')).toBe('yes');
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await res.json()).toEqual({ denied: '/admin/purge' });
      expect(log).toEqual(['>app', 'deny', '<app']);
    } finally {
      await client.close();
    }
  });

  test('an app middleware can answer for any path, even one without a route', async () => {
    const maintenance: Middleware = async () => html('<h1>Back soon</h1>', { status: 503 });
    @Controller()
    class C {
      @Get('/')
      index() {
        throw new Error('must not run');
      }
    }
    const client = await testClient(createApp({ controllers: [C], middlewares: [maintenance] }));
    try {
      for (const path of ['/', '/unknown']) {
        const res = await client.get(path);
        expect(res.status).toBe(503);
        expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
        expect(await res.text()).toBe('<h1>Back soon</h1>');
      }
    } finally {
      await client.close();
    }
  });
});

describe('HTTP errors reach middlewares as exceptions (error pages)', () => {
  const seen: string[] = [];
  let client: TestClient;

  const errorPages: Middleware = async (req, next) => {
    try {
      return await next();
    } catch (e) {
      seen.push(
        e instanceof HTTPError ? `${e.constructor.name} ${e.status}` : `other ${String(e)}`,
      );
      if (e instanceof HTTPNotFound) return html(`<h1>Not here: ${req.path}</h1>`, { status: 404 });
      throw e;
    }
  };

  const controllerSeen: string[] = [];
  const controllerCatch: Middleware = async (req, next) => {
    try {
      return await next();
    } catch (e) {
      controllerSeen.push(e instanceof HTTPError ? `${e.constructor.name} ${e.status}` : 'other');
      throw e;
    }
  };

  @Use(controllerCatch)
  @Controller('/projects')
  class ProjectsController {
    @Get('/<id:\\d+>')
    show(req: Request) {
      if (req.params.id !== '1') throw new HTTPNotFound(`No project ${req.params.id}`);
      return { id: 1 };
    }

    @Get('/async/<id:\\d+>')
    async showAsync(req: Request) {
      await new Promise((r) => setTimeout(r, 5));
      throw new HTTPNotFound(`No project ${req.params.id}`);
    }

    @Post('/conflict')
    conflict() {
      throw new HTTPError(409, 'already there');
    }
  }

  beforeAll(async () => {
    client = await testClient(
      createApp({ controllers: [ProjectsController], middlewares: [errorPages] }),
    );
  });
  afterAll(() => client.close());
  beforeEach(() => {
    seen.length = 0;
    controllerSeen.length = 0;
  });

  test('a found route still answers normally', async () => {
    const res = await client.get('/projects/1');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 1 });
    expect(seen).toEqual([]);
  });

  test('HTTPNotFound thrown by a (sync) handler becomes the html error page', async () => {
    const res = await client.get('/projects/5');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe('<h1>Not here: /projects/5</h1>');
    expect(seen).toEqual(['HTTPNotFound 404']);
    expect(controllerSeen).toEqual(['HTTPNotFound 404']);
  });

  test('HTTPNotFound thrown by an async handler becomes the html error page', async () => {
    const res = await client.get('/projects/async/9');
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('<h1>Not here: /projects/async/9</h1>');
    expect(seen).toEqual(['HTTPNotFound 404']);
  });

  test('an unknown path: the router 404 reaches the app middleware as HTTPNotFound', async () => {
    const res = await client.get('/no/such/page');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await res.text()).toBe('<h1>Not here: /no/such/page</h1>');
    expect(seen).toEqual(['HTTPNotFound 404']);
    expect(controllerSeen).toEqual([]);
  });

  test('a 405 reaches the app middleware as HTTPMethodNotAllowed; rethrown it keeps its Allow header', async () => {
    const res = await client.request('DELETE', '/projects/1');
    expect(res.status).toBe(405);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    const body = await res.json();
    expect(body).toMatchObject({ type: 'about:blank', title: 'Method Not Allowed', status: 405 });
    expect(seen).toEqual(['HTTPMethodNotAllowed 405']);
    expect(controllerSeen).toEqual([]);
  });

  test('an HTTP error the middleware does not handle goes out as its problem document', async () => {
    const res = await client.post('/projects/conflict');
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: 'already there',
    });
    expect(seen).toEqual(['HTTPError 409']);
    expect(controllerSeen).toEqual(['HTTPError 409']);
  });
});

describe('405 as an HTTPMethodNotAllowed instance', () => {
  test('the middleware gets the allowed methods on the error', async () => {
    const caught: unknown[] = [];
    const spy: Middleware = async (req, next) => {
      try {
        return await next();
      } catch (e) {
        caught.push(e);
        return json({ allowed: (e as HTTPMethodNotAllowed).allowed }, { status: 405 });
      }
    };
    @Controller()
    class C {
      @Get('/thing')
      get() {
        return {};
      }
      @Post('/thing')
      post() {
        return {};
      }
    }
    const client = await testClient(createApp({ controllers: [C], middlewares: [spy] }));
    try {
      const res = await client.put('/thing');
      expect(res.status).toBe(405);
      expect(caught).toHaveLength(1);
      expect(caught[0]).toBeInstanceOf(HTTPMethodNotAllowed);
      expect([...(await res.json()).allowed].sort()).toEqual(['GET', 'HEAD', 'POST']);
    } finally {
      await client.close();
    }
  });
});

describe('a middleware changes the response of next()', () => {
  test('headers added to the response the handler produced (a plain object, a json() response)', async () => {
    const secure: Middleware = async (req, next) => {
      const res = await next();
      res.setHeader('X-Frame-Options', 'DENY');
      res.setHeader('content-type', 'application/vnd.rococo+json');
      res.status = res.status === 200 ? 203 : res.status;
      return res;
    };
    @Controller()
    class C {
      @Get('/plain')
      plain() {
        return { a: 1 };
      }
      @Get('/made')
      made() {
        return json({ b: 2 }, { headers: { 'x-from-handler': 'h' } });
      }
    }
    const client = await testClient(createApp({ controllers: [C], middlewares: [secure] }));
    try {
      const r1 = await client.get('/plain');
      expect(r1.status).toBe(203);
      expect(r1.headers.get('x-frame-options')).toBe('DENY');
      expect(r1.headers.get('content-type')).toBe('application/vnd.rococo+json');
      expect(await r1.json()).toEqual({ a: 1 });

      const r2 = await client.get('/made');
      expect(r2.status).toBe(203);
      expect(r2.headers.get('x-frame-options')).toBe('DENY');
      expect(r2.headers.get('x-from-handler')).toBe('h');
      expect(await r2.json()).toEqual({ b: 2 });
    } finally {
      await client.close();
    }
  });
});

describe('failing middlewares', () => {
  test('an async middleware that throws a plain Error gives a 500 that leaks nothing', async () => {
    const boom: Middleware = async () => {
      throw new Error('secret detail');
    };
    @Controller()
    class C {
      @Use(boom)
      @Get('/boom')
      boom() {
        return { never: true };
      }
      @Get('/ok')
      ok() {
        return { ok: true };
      }
    }
    const client = await testClient(createApp({ controllers: [C] }));
    try {
      const res = await client.get('/boom');
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const text = await res.text();
      expect(JSON.parse(text)).toEqual(PROBLEM_500);
      expect(text).not.toContain('secret');
      expect((await client.get('/ok')).status).toBe(200);
    } finally {
      await client.close();
    }
  });

  test('a middleware that is not async and throws synchronously gives a 500; the server keeps serving', async () => {
    const syncBoom: Middleware = () => {
      throw new Error('sync secret');
    };
    let syncAppCalls = 0;
    const syncApp: Middleware = (req, next) => {
      syncAppCalls++;
      if (req.path === '/explode' || req.path === '/unrouted-explode')
        throw new TypeError('sync app secret');
      return next(); // not async: returns next()'s promise as is
    };
    @Controller()
    class C {
      @Use(syncBoom)
      @Get('/method-sync')
      methodSync() {
        return { never: true };
      }
      @Get('/explode')
      explode() {
        return { never: true };
      }
      @Get('/ok')
      ok() {
        return { ok: true };
      }
    }
    const client = await testClient(createApp({ controllers: [C], middlewares: [syncApp] }));
    try {
      for (const path of ['/method-sync', '/explode', '/unrouted-explode']) {
        const res = await client.get(path);
        expect(res.status).toBe(500);
        const text = await res.text();
        expect(JSON.parse(text)).toEqual(PROBLEM_500);
        expect(text).not.toContain('secret');
      }
      const ok = await client.get('/ok');
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ ok: true });
      const missing = await client.get('/missing');
      expect(missing.status).toBe(404);
      expect(syncAppCalls).toBe(5);
    } finally {
      await client.close();
    }
  });

  test('with DEBUG the 500 of a throwing middleware carries its message', async () => {
    const boom: Middleware = async () => {
      throw new Error('visible in debug');
    };
    @Controller()
    class C {
      @Get('/x')
      x() {
        return {};
      }
    }
    const client = await testClient(
      createApp({ controllers: [C], middlewares: [boom], settings: { DEBUG: true } }),
    );
    try {
      const res = await client.get('/x');
      expect(res.status).toBe(500);
      const body = await res.json();
      expect(body.detail).toBe('visible in debug');
    } finally {
      await client.close();
    }
  });
});

describe('inherited controllers', () => {
  const log: string[] = [];
  let client: TestClient;

  @Injectable()
  class Greeter {
    greet(n: string) {
      return `hello ${n}`;
    }
  }

  @Use(mark(log, 'base'))
  @Controller('/base', { name: 'base' })
  class BaseController {
    constructor(protected greeter: Greeter) {}

    @Get('/hello', { name: 'hello' })
    hello() {
      log.push('handler');
      return { cls: this.constructor.name, greeting: this.greeter.greet('x') };
    }

    @Use(mark(log, 'bm'))
    @Get('/guarded', { name: 'guarded' })
    guarded() {
      log.push('handler');
      return { guarded: this.constructor.name };
    }
  }

  @Use(mark(log, 'child'))
  @Controller('/child', { name: 'child' })
  class ChildController extends BaseController {
    @Get('/own', { name: 'own' })
    own() {
      log.push('handler');
      return { own: this.greeter.greet('child') };
    }
  }

  beforeAll(async () => {
    const app = createApp({
      controllers: [BaseController, ChildController],
      middlewares: [mark(log, 'app')],
    });
    client = await testClient(app);
  });
  afterAll(() => client.close());
  beforeEach(() => {
    log.length = 0;
  });

  test("the subclass serves the base's routes under its own prefix, with the base's @Use", async () => {
    const res = await client.get('/child/hello');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ cls: 'ChildController', greeting: 'hello x' });
    expect(log).toEqual(['>app', '>base', '>child', 'handler', '<child', '<base', '<app']);
  });

  test("the base's method @Use is inherited too", async () => {
    const res = await client.get('/child/guarded');
    expect(await res.json()).toEqual({ guarded: 'ChildController' });
    expect(log).toEqual([
      '>app',
      '>base',
      '>child',
      '>bm',
      'handler',
      '<bm',
      '<child',
      '<base',
      '<app',
    ]);
  });

  test('its own routes work', async () => {
    const res = await client.get('/child/own');
    expect(await res.json()).toEqual({ own: 'hello child' });
    expect(log).toEqual(['>app', '>base', '>child', 'handler', '<child', '<base', '<app']);
  });

  test("the base keeps its own routes, without the subclass's middlewares", async () => {
    const res = await client.get('/base/hello');
    expect(await res.json()).toEqual({ cls: 'BaseController', greeting: 'hello x' });
    expect(log).toEqual(['>app', '>base', 'handler', '<base', '<app']);
  });

  test('route names follow each controller', async () => {
    const app = createApp({ controllers: [BaseController, ChildController] });
    expect(app.url('base.hello')).toBe('/base/hello');
    expect(app.url('child.hello')).toBe('/child/hello');
    expect(app.url('child.own')).toBe('/child/own');
    expect(() => app.url('base.own')).toThrow(/base\.own/);
  });

  test('the subclass alone: only its prefix is served', async () => {
    const c2 = await testClient(createApp({ controllers: [ChildController] }));
    try {
      expect((await c2.get('/child/hello')).status).toBe(200);
      expect((await c2.get('/base/hello')).status).toBe(404);
    } finally {
      await c2.close();
    }
  });
});

describe('req.route and setup', () => {
  test('a middleware reads the matched route: its name, origin and recorded metadata; null for a 404', async () => {
    const seen: unknown[] = [];
    const spy: Middleware = async (req, next) => {
      seen.push(
        req.route === null
          ? null
          : {
              name: req.route.name,
              origin: req.route.origin,
              methods: req.route.methods,
              meta: req.route.handler.meta !== null,
            },
      );
      return next();
    };

    @Controller('/r', { name: 'r' })
    class RouteInfoController {
      @Get('/<id:\\d+>', { name: 'show' })
      show() {
        return { ok: true };
      }
    }

    const client = await testClient(
      createApp({ controllers: [RouteInfoController], middlewares: [spy] }),
    );
    try {
      expect((await client.get('/r/7')).status).toBe(200);
      expect((await client.get('/nowhere')).status).toBe(404);
      expect(seen).toEqual([
        { name: 'r.show', origin: 'RouteInfoController.show', methods: ['GET'], meta: true },
        null,
      ]);
    } finally {
      await client.close();
    }
  });

  test('setup runs once per middleware at createApp, with the app and its chain; a throwing setup stops startup', () => {
    const calls: [unknown, number][] = [];
    const outer: Middleware = async (_req, next) => next();
    const inner: Middleware = async (_req, next) => next();
    inner.setup = (app, chain) => calls.push([app, chain.indexOf(inner)]);

    @Controller('/s')
    class SetupController {
      @Use(inner)
      @Get('/a')
      a() {
        return {};
      }

      @Use(inner)
      @Get('/b')
      b() {
        return {};
      }
    }

    const app = createApp({ controllers: [SetupController], middlewares: [outer] });
    expect(calls).toEqual([[app, 1]]);

    const broken: Middleware = async (_req, next) => next();
    broken.setup = () => {
      throw new Error('broken setup');
    };
    expect(() => createApp({ controllers: [SetupController], middlewares: [broken] })).toThrow(
      'broken setup',
    );
  });
});
