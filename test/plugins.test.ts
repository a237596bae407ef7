/**
 * The plugin interface, through real HTTP: setup order and dependencies, a decorator of a
 * plugin's own wrapping the handlers that carry it, routes a plugin adds, container
 * registrations the app's providers may replace, lifecycle order, server events, and the
 * mistakes createApp refuses.
 */
import {
  Controller,
  createApp,
  Get,
  Injectable,
  inject,
  metaKey,
  recordOnHandler,
  HTTPForbidden,
  json,
  Post,
  RococoError,
  text,
  type Application,
  type Middleware,
  type Plugin,
  type Request,
} from '../src';
import { testClient } from '../src/testing';
import { memoryLogger } from './helpers/memory-logger';

const SHOUT = metaKey('@Shout', 'shout');
/** A decorator of the test's own: records under the plugin's key, nothing else. */
const Shout = (): MethodDecorator => recordOnHandler(SHOUT, true);

const GREETING = Symbol('greeting');

/** Upper-cases the `text` of what `@Shout` handlers return; adds a route; provides a greeting. */
function shout(events: string[] = []): Plugin {
  return {
    name: 'shout',
    dependencies: ['greeting'],
    setup(app) {
      events.push('shout.setup');
      app.addRoute({
        methods: ['GET'],
        pattern: '/shout/version',
        name: 'shout.version',
        origin: 'shout plugin',
        handler: () => ({ version: 1 }),
      });
      app.on('startup', () => void events.push('shout.startup'));
      app.on('cleanup', () => void events.push('shout.cleanup'));
    },
    route(route) {
      if (!route.meta.extras.has(SHOUT)) return;
      route.claim(SHOUT);
      const inner = route.handler;
      route.handler = async (req) => {
        const out = (await inner(req)) as { text: string };
        return { text: out.text.toUpperCase() };
      };
    },
    ready(app) {
      events.push(`shout.ready:${app.router.routes.length}`);
    },
    server(server) {
      events.push('shout.server');
      server.on('request', (req) => void events.push(`request ${req.url}`));
    },
  };
}

function greeting(events: string[] = []): Plugin {
  return {
    name: 'greeting',
    setup(app) {
      events.push('greeting.setup');
      app.container.register(GREETING, { useValue: 'hello' });
      app.decorate('greeting', 'hello');
      app.on('startup', () => void events.push('greeting.startup'));
      app.on('cleanup', () => void events.push('greeting.cleanup'));
    },
  };
}

@Injectable()
class Greeter {
  constructor(@inject(GREETING) readonly word: string) {}
}

@Controller('/talk', { name: 'talk' })
class Talk {
  constructor(private readonly greeter: Greeter) {}
  @Get('/quiet/<name>') quiet(req: Request) {
    return { text: `${this.greeter.word} ${req.params.name}` };
  }
  @Get('/loud/<name>') @Shout() loud(req: Request) {
    return { text: `${this.greeter.word} ${req.params.name}` };
  }
}

describe('a plugin', () => {
  it('is set up after its dependency, wraps what its decorator marks, adds routes, provides, and hooks in', async () => {
    const events: string[] = [];
    const app = createApp({
      controllers: [Talk],
      plugins: [shout(events), greeting(events)],
      onStartup: [() => void events.push('app.startup')],
      onCleanup: [() => void events.push('app.cleanup')],
    });
    expect(events).toEqual(['greeting.setup', 'shout.setup', 'shout.ready:3']);
    expect((app as Application & { greeting: string }).greeting).toBe('hello');
    expect(app.plugin('shout')?.name).toBe('shout');
    expect(app.plugin('nope')).toBeUndefined();
    const client = await testClient(app);
    try {
      expect(await (await client.get('/talk/quiet/ann')).json()).toEqual({ text: 'hello ann' });
      expect(await (await client.get('/talk/loud/ann')).json()).toEqual({ text: 'HELLO ANN' });
      expect(await (await client.get('/shout/version')).json()).toEqual({ version: 1 });
      expect(app.url('shout.version')).toBe('/shout/version');
    } finally {
      await client.close();
    }
    expect(events.slice(3)).toEqual([
      'greeting.startup',
      'shout.startup',
      'app.startup',
      'shout.server',
      'request /talk/quiet/ann',
      'request /talk/loud/ann',
      'request /shout/version',
      'app.cleanup',
      'shout.cleanup',
      'greeting.cleanup',
    ]);
  });

  it("registers in the app's container; a provider of the app replaces it", async () => {
    const app = createApp({
      controllers: [Talk],
      plugins: [greeting(), shout()],
      providers: [{ provide: GREETING, useValue: 'hi' }],
    });
    const client = await testClient(app);
    try {
      expect(await (await client.get('/talk/quiet/bo')).json()).toEqual({ text: 'hi bo' });
    } finally {
      await client.close();
    }
  });
});

@Controller('/hooked')
class Hooked {
  @Get('/plain') plain() {
    return { ok: true };
  }
  @Get('/made') made() {
    return json({ made: true }, { status: 201, headers: { 'x-own': 'handler' } });
  }
  @Get('/broken') broken() {
    throw new Error('boom');
  }
  @Post('/upload') upload(req: Request) {
    return req.text();
  }
}

/** Stamps every response, answers `/ping` before anything runs, refuses `x-deny` requests. */
function stamp(seen: string[]): Plugin {
  return {
    name: 'stamp',
    setup(app) {
      app.onRequest((req) => {
        seen.push(`request ${req.method} ${req.path} ${req.route?.origin ?? 'no route'}`);
        if (req.path === '/ping') return text('pong');
        if (req.headers['x-deny'] !== undefined) throw new HTTPForbidden('denied by a hook');
        return undefined;
      });
      app.onSend((_req, response) => void response.setHeader('x-stamp', String(response.status)));
      // The second hook sees what the first one did, and may replace the response.
      app.onSend((req, response) =>
        req.path === '/hooked/made'
          ? json({ replaced: response.getHeader('x-stamp') }, { status: 202 })
          : undefined,
      );
    },
  };
}

describe('request and send hooks', () => {
  it('see every request and response: handlers, errors, 404s, 405s, and answers of their own', async () => {
    const seen: string[] = [];
    const app = createApp({ controllers: [Hooked], plugins: [stamp(seen)] });
    const client = await testClient(app);
    try {
      const plain = await client.get('/hooked/plain');
      expect([plain.status, plain.headers.get('x-stamp'), await plain.json()]).toEqual([
        200,
        '200',
        { ok: true },
      ]);
      const made = await client.get('/hooked/made');
      expect([made.status, made.headers.get('x-own'), await made.json()]).toEqual([
        202,
        null,
        { replaced: '201' },
      ]);
      const broken = await client.get('/hooked/broken');
      expect([broken.status, broken.headers.get('x-stamp')]).toEqual([500, '500']);
      const missing = await client.get('/nowhere');
      expect([missing.status, missing.headers.get('x-stamp')]).toEqual([404, '404']);
      const wrong = await client.delete('/hooked/plain');
      expect([wrong.status, wrong.headers.get('allow'), wrong.headers.get('x-stamp')]).toEqual([
        405,
        'GET, HEAD',
        '405',
      ]);
      const pong = await client.get('/ping');
      expect([pong.status, await pong.text(), pong.headers.get('x-stamp')]).toEqual([
        200,
        'pong',
        '200',
      ]);
      const denied = await client.get('/hooked/plain', { headers: { 'x-deny': '1' } });
      expect([denied.status, denied.headers.get('x-stamp')]).toEqual([403, '403']);
      expect((await denied.json()).detail).toBe('denied by a hook');
      // A hook that answers before the body is read: the body is not taken for a next request.
      const early = await client.post('/hooked/upload', {
        body: 'x'.repeat(1000),
        headers: { 'x-deny': '1', 'content-type': 'text/plain' },
      });
      expect(early.status).toBe(403);
      const upload = await client.post('/hooked/upload', {
        body: 'hello',
        headers: { 'content-type': 'text/plain' },
      });
      expect([upload.status, await upload.text()]).toEqual([200, 'hello']);
    } finally {
      await client.close();
    }
    expect(seen).toEqual([
      'request GET /hooked/plain Hooked.plain',
      'request GET /hooked/made Hooked.made',
      'request GET /hooked/broken Hooked.broken',
      'request GET /nowhere no route',
      'request DELETE /hooked/plain no route',
      'request GET /ping no route',
      'request GET /hooked/plain Hooked.plain',
      'request POST /hooked/upload Hooked.upload',
      'request POST /hooked/upload Hooked.upload',
    ]);
  });

  it('a send hook that throws ends as a bare 500, never a hang', async () => {
    const app = createApp({
      controllers: [Hooked],
      plugins: [
        {
          name: 'faulty',
          setup: (app) =>
            void app.onSend(() => {
              throw new Error('hook bug');
            }),
        },
      ],
      logger: require('pino')({ level: 'silent' }),
    });
    const client = await testClient(app);
    try {
      const res = await client.get('/hooked/plain');
      expect([res.status, (await res.json()).title]).toEqual([500, 'Internal Server Error']);
    } finally {
      await client.close();
    }
  });
});

describe('response hooks, plugin middlewares, log fields, quiet routes, draining', () => {
  /** Measures every response, wraps every request in a middleware, tags every log line. */
  function observer(done: string[]): Plugin {
    return {
      name: 'observer',
      setup(app) {
        app.addRoute({
          methods: ['GET'],
          pattern: '/probe',
          origin: 'observer plugin',
          quiet: true,
          handler: (req) => ({ draining: req.app.draining }),
        });
        app.use(async (req, next) => {
          req.state.outer = 'plugin';
          const res = await next();
          res.setHeader('x-wrapped', String(req.state.inner ?? 'no app middleware'));
          return res;
        });
        app.onResponse((req, res, start) => {
          const ms = Number(process.hrtime.bigint() - start) / 1e6;
          done.push(
            `${req.method} ${req.path} ${res.statusCode} ${res.writableFinished} ${ms >= 0}`,
          );
        });
        app.logFields((req) => (req.path === '/hooked/plain' ? { traceId: 'abc' } : undefined));
      },
    };
  }

  it('see what they should, in the order they should', async () => {
    const done: string[] = [];
    const { logger, records } = memoryLogger('info');
    const app = createApp({
      controllers: [Hooked],
      plugins: [observer(done)],
      logger,
      // The app's own middleware runs inside the plugin's: it sees the plugin's mark.
      middlewares: [
        async (req, next) => {
          req.state.inner = `app after ${String(req.state.outer)}`;
          return next();
        },
      ],
    });
    const client = await testClient(app);
    try {
      const plain = await client.get('/hooked/plain');
      expect([plain.status, plain.headers.get('x-wrapped')]).toEqual([200, 'app after plugin']);
      const missing = await client.get('/nowhere');
      expect([missing.status, missing.headers.get('x-wrapped')]).toEqual([404, null]);
      const probe = await client.get('/probe');
      expect([await probe.json(), probe.headers.get('x-wrapped')]).toEqual([
        { draining: false },
        'app after plugin',
      ]);
    } finally {
      await client.close();
    }
    await logger.flush();
    expect(done).toEqual([
      'GET /hooked/plain 200 true true',
      'GET /nowhere 404 true true',
      'GET /probe 200 true true',
    ]);
    const lines = records.filter((r) => r.msg === 'request');
    // The probe's line is at debug level, so not written at info.
    expect(lines.map((r) => [r.path, r.traceId])).toEqual([
      ['/hooked/plain', 'abc'],
      ['/nowhere', undefined],
    ]);
  });

  it("a quiet route's line is written at debug level; req.log carries the fields", async () => {
    const { logger, records } = memoryLogger('debug');
    const app = createApp({ controllers: [Logs], plugins: [observer([])], logger });
    const client = await testClient(app);
    try {
      await client.get('/probe');
      await client.get('/hooked/plain');
    } finally {
      await client.close();
    }
    await logger.flush();
    expect(records.filter((r) => r.msg === 'request').map((r) => [r.path, r.level])).toEqual([
      ['/probe', 20],
      ['/hooked/plain', 30],
    ]);
    expect(records.find((r) => r.msg === 'from the handler')).toMatchObject({ traceId: 'abc' });
  });

  it('draining is true from the moment close() starts, while a request is still answered', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    @Controller('')
    class Slow {
      @Get('/slow') async slow(req: Request) {
        await gate;
        return { draining: req.app.draining };
      }
    }
    const app = createApp({ controllers: [Slow], logger: require('pino')({ level: 'silent' }) });
    const client = await testClient(app);
    const slow = client.get('/slow');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(app.draining).toBe(false);
    const closed = client.close();
    expect(app.draining).toBe(true);
    release();
    const res = await slow;
    expect([res.status, await res.json()]).toEqual([200, { draining: true }]);
    await closed;
  });

  it('a response hook that throws is logged, and the others still run', async () => {
    const { logger, records } = memoryLogger('error');
    const seen: string[] = [];
    const app = createApp({
      controllers: [Hooked],
      logger,
      plugins: [
        {
          name: 'faulty',
          setup(app) {
            app.onResponse(() => {
              throw new Error('hook bug');
            });
            app.onResponse((req) => void seen.push(req.path));
          },
        },
      ],
    });
    const client = await testClient(app);
    try {
      expect((await client.get('/hooked/plain')).status).toBe(200);
    } finally {
      await client.close();
    }
    await logger.flush();
    expect(seen).toEqual(['/hooked/plain']);
    expect(records.map((r) => r.msg)).toContain('a response hook failed');
  });
});

@Controller('/hooked')
class Logs {
  @Get('/plain') plain(req: Request) {
    req.log.info('from the handler');
    return { ok: true };
  }
}

describe('mistakes stop createApp', () => {
  const refused = (fn: () => unknown): RococoError => {
    try {
      fn();
    } catch (e) {
      return e as RococoError;
    }
    throw new Error('createApp did not refuse');
  };

  it('a decorator whose plugin is not installed names the route and the plugin', () => {
    const e = refused(() => createApp({ controllers: [Talk], plugins: [greeting()] }));
    expect([e.code, e.message]).toEqual([
      'ROCOCO_PLUGIN',
      "ROCOCO_PLUGIN: Talk.loud: @Shout needs the 'shout' plugin: add it to createApp({ plugins })",
    ]);
  });

  it('a missing dependency, a plugin twice, a cycle, a non-plugin', () => {
    expect(refused(() => createApp({ plugins: [shout()] })).message).toBe(
      "ROCOCO_PLUGIN: createApp: the 'shout' plugin needs the 'greeting' plugin: add it to createApp({ plugins })",
    );
    expect(refused(() => createApp({ plugins: [greeting(), greeting()] })).message).toBe(
      "ROCOCO_PLUGIN: createApp: plugins: 'greeting' is installed twice",
    );
    const a: Plugin = { name: 'a', dependencies: ['b'] };
    const b: Plugin = { name: 'b', dependencies: ['a'] };
    expect(refused(() => createApp({ plugins: [a, b] })).message).toBe(
      'ROCOCO_PLUGIN: createApp: plugins depend on each other in a circle: a -> b -> a',
    );
    expect(
      refused(() => createApp({ plugins: [(() => {}) as unknown as Plugin] })).message,
    ).toMatch(/is not a plugin \(an object with a name\)/);
  });

  it('decorating a name the app has, adding a route after setup', () => {
    expect(
      refused(() =>
        createApp({ plugins: [{ name: 'x', setup: (app) => void app.decorate('settings', {}) }] }),
      ).message,
    ).toBe("ROCOCO_PLUGIN: app.decorate('settings'): the app already has 'settings'");
    const late: Plugin = {
      name: 'late',
      ready: (app) =>
        app.addRoute({
          methods: ['GET'],
          pattern: '/late',
          origin: 'late plugin',
          handler: () => ({}),
        }),
    };
    expect(refused(() => createApp({ plugins: [late] })).message).toBe(
      "ROCOCO_PLUGIN: late plugin: routes are added in a plugin's setup(), before the app is built",
    );
  });

  it('a plugin middleware outside setup, or not a function', () => {
    const app = createApp();
    expect(refused(() => app.use(async (_req, next) => next())).message).toBe(
      "ROCOCO_PLUGIN: app.use: plugins add middlewares in setup(); the app's own go in createApp({ middlewares })",
    );
    expect(
      refused(() =>
        createApp({
          plugins: [{ name: 'x', setup: (app) => void app.use(42 as unknown as Middleware) }],
        }),
      ).message,
    ).toBe('ROCOCO_PLUGIN: app.use: 42 is not a function');
  });

  it('a plugin may refuse a route with a coded error', () => {
    const strict: Plugin = {
      name: 'strict',
      route(route) {
        if (route.pattern.includes('loud'))
          throw new RococoError('STRICT_NO_SHOUTING', `${route.origin}: no shouting here`);
      },
    };
    const e = refused(() =>
      createApp({ controllers: [Talk], plugins: [greeting(), shout(), strict] }),
    );
    expect([e.code, e.message]).toEqual([
      'STRICT_NO_SHOUTING',
      'STRICT_NO_SHOUTING: Talk.loud: no shouting here',
    ]);
  });
});
