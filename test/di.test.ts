import {
  createApp,
  Application,
  Controller,
  Get,
  Injectable,
  inject,
  SETTINGS,
  RococoError,
  immutableSettings,
  type Request,
} from '../src';
import { testClient } from '../src/testing';

interface AppSettings {
  LOCALE: string;
  NAMES: readonly string[];
}

describe('constructor injection', () => {
  test('@Injectable services (and their own dependencies) and @inject(SETTINGS) reach the controller', async () => {
    @Injectable()
    class Clock {
      now() {
        return 'noon';
      }
    }
    @Injectable()
    class Greeter {
      constructor(
        private clock: Clock,
        @inject(SETTINGS) private settings: AppSettings,
      ) {}
      greet(n: string) {
        return `hello ${n} at ${this.clock.now()} (${this.settings.LOCALE})`;
      }
    }
    @Controller('/api')
    class ApiController {
      constructor(
        private greeter: Greeter,
        @inject(SETTINGS) private settings: AppSettings,
      ) {}
      @Get('/hi/<name>')
      hi(req: Request) {
        return {
          text: this.greeter.greet(req.params.name),
          names: this.settings.NAMES,
          same: (this.settings as object) === req.settings,
        };
      }
    }
    const settings = immutableSettings({ LOCALE: 'uk_UA', NAMES: ['a', 'b'] });
    const app = createApp({ controllers: [ApiController], settings });
    const client = await testClient(app);
    try {
      const res = await client.get('/api/hi/ann');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        text: 'hello ann at noon (uk_UA)',
        names: ['a', 'b'],
        same: true,
      });
      expect(app.settings).toBe(settings);
    } finally {
      await client.close();
    }
  });
});

describe('singletons per app', () => {
  let serviceBuilt = 0;
  let controllerBuilt = 0;
  let otherBuilt = 0;

  @Injectable()
  class Counter {
    readonly id: number;
    hits = 0;
    constructor() {
      this.id = ++serviceBuilt;
    }
  }

  @Controller('/a')
  class AController {
    readonly id: number;
    constructor(
      private counter: Counter,
      @inject(SETTINGS) private settings: { LABEL: string },
    ) {
      this.id = ++controllerBuilt;
    }
    @Get('/hit')
    hit() {
      return {
        controller: this.id,
        service: this.counter.id,
        hits: ++this.counter.hits,
        label: this.settings.LABEL,
      };
    }
  }

  @Controller('/b')
  class BController {
    constructor(private counter: Counter) {
      otherBuilt++;
    }
    @Get('/hit')
    hit() {
      return { service: this.counter.id, hits: ++this.counter.hits };
    }
  }

  beforeEach(() => {
    serviceBuilt = controllerBuilt = otherBuilt = 0;
  });

  test('controllers and services are built once, at createApp, and shared by every request and controller', async () => {
    const app = createApp({
      controllers: [AController, BController],
      settings: immutableSettings({ LABEL: 'one' }),
    });
    expect([controllerBuilt, otherBuilt, serviceBuilt]).toEqual([1, 1, 1]);
    const client = await testClient(app);
    try {
      expect(await (await client.get('/a/hit')).json()).toEqual({
        controller: 1,
        service: 1,
        hits: 1,
        label: 'one',
      });
      expect(await (await client.get('/a/hit')).json()).toEqual({
        controller: 1,
        service: 1,
        hits: 2,
        label: 'one',
      });
      expect(await (await client.get('/b/hit')).json()).toEqual({ service: 1, hits: 3 });
      expect([controllerBuilt, otherBuilt, serviceBuilt]).toEqual([1, 1, 1]);
    } finally {
      await client.close();
    }
  });

  test('two apps in one process get separate instances and separate settings', async () => {
    const app1 = createApp({
      controllers: [AController],
      settings: immutableSettings({ LABEL: 'one' }),
    });
    const app2 = createApp({
      controllers: [AController, BController],
      settings: immutableSettings({ LABEL: 'two' }),
    });
    expect([controllerBuilt, serviceBuilt]).toEqual([2, 2]);
    expect(app1.container).not.toBe(app2.container);
    expect(app1.container.resolve(Counter)).not.toBe(app2.container.resolve(Counter));
    expect(app1.container.resolve(SETTINGS)).toEqual({ LABEL: 'one' });
    expect(app2.container.resolve(SETTINGS)).toEqual({ LABEL: 'two' });
    const c1 = await testClient(app1);
    const c2 = await testClient(app2);
    try {
      expect(await (await c1.get('/a/hit')).json()).toEqual({
        controller: 1,
        service: 1,
        hits: 1,
        label: 'one',
      });
      expect(await (await c2.get('/a/hit')).json()).toEqual({
        controller: 2,
        service: 2,
        hits: 1,
        label: 'two',
      });
      expect(await (await c1.get('/a/hit')).json()).toEqual({
        controller: 1,
        service: 1,
        hits: 2,
        label: 'one',
      });
      expect(await (await c2.get('/b/hit')).json()).toEqual({ service: 2, hits: 2 });
      expect((await c1.get('/b/hit')).status).toBe(404);
      expect([controllerBuilt, otherBuilt, serviceBuilt]).toEqual([2, 1, 2]);
    } finally {
      await c1.close();
      await c2.close();
    }
  });
});

describe('services reached only through the container are singletons of the app too', () => {
  test('an @Injectable service that two factory providers resolve is one instance per app', async () => {
    let built = 0;
    @Injectable()
    class Pool {
      readonly id = ++built;
    }
    const A = Symbol('A');
    const B = Symbol('B');
    @Controller()
    class C {
      constructor(
        @inject(A) readonly a: { pool: Pool },
        @inject(B) readonly b: { pool: Pool },
      ) {}
      @Get('/')
      index() {
        return { a: this.a.pool.id, b: this.b.pool.id, built };
      }
    }
    const app = createApp({
      controllers: [C],
      providers: [
        { provide: A, useFactory: (c) => ({ pool: c.resolve(Pool) }) },
        { provide: B, useFactory: (c) => ({ pool: c.resolve(Pool) }) },
      ],
    });
    const client = await testClient(app);
    try {
      expect(await (await client.get('/')).json()).toEqual({ a: 1, b: 1, built: 1 });
    } finally {
      await client.close();
    }
  });
});

describe('providers', () => {
  const API_KEY = Symbol('API_KEY');
  const STORE = 'STORE';
  const MAKE_ID = Symbol('MAKE_ID');

  interface Store {
    kind(): string;
  }

  test('a class, useValue, useClass and useFactory are injected via their token', async () => {
    let registeredBuilt = 0;
    class Registered {
      constructor() {
        registeredBuilt++;
      }
      name() {
        return 'registered';
      }
    }
    @Injectable()
    class MemoryStore implements Store {
      constructor(@inject(API_KEY) private key: string) {}
      kind() {
        return `memory:${this.key}`;
      }
    }
    let factoryCalls = 0;

    @Controller()
    class C {
      constructor(
        private registered: Registered,
        @inject(API_KEY) private apiKey: string,
        @inject(STORE) private store: Store,
        @inject(MAKE_ID) private makeId: () => string,
      ) {}
      @Get('/')
      index() {
        return {
          registered: this.registered.name(),
          apiKey: this.apiKey,
          store: this.store.kind(),
          id: this.makeId(),
        };
      }
    }
    const app = createApp({
      controllers: [C],
      providers: [
        Registered,
        { provide: API_KEY, useValue: 'k-123' },
        { provide: STORE, useClass: MemoryStore },
        {
          provide: MAKE_ID,
          useFactory: (c) => {
            factoryCalls++;
            const key = c.resolve<string>(API_KEY);
            return () => `id-${key}`;
          },
        },
      ],
    });
    const client = await testClient(app);
    try {
      const res = await client.get('/');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        registered: 'registered',
        apiKey: 'k-123',
        store: 'memory:k-123',
        id: 'id-k-123',
      });
      expect(registeredBuilt).toBe(1);
      expect(factoryCalls).toBe(1);
      expect(app.container.resolve(STORE)).toBe(app.container.resolve(STORE)); // useClass: a singleton of the app
      expect(app.container.resolve(Registered)).toBe(app.container.resolve(Registered));
    } finally {
      await client.close();
    }
  });

  test('providers of one app are not visible to another', () => {
    const TOKEN = Symbol('ONLY_IN_ONE');
    createApp({ providers: [{ provide: TOKEN, useValue: 1 }] });
    const other = createApp({});
    expect(other.container.isRegistered(TOKEN, true)).toBe(false);
  });
});

describe('the Application is injectable', () => {
  test('constructor(private app: Application) gets the app that built the controller', async () => {
    @Injectable()
    class Links {
      constructor(private app: Application) {}
      home() {
        return this.app.url('site.home');
      }
    }
    @Controller('', { name: 'site' })
    class SiteController {
      constructor(
        private app: Application,
        private links: Links,
      ) {}
      @Get('/', { name: 'home' })
      home(req: Request) {
        return {
          same: this.app === req.app,
          url: this.app.url('site.about'),
          home: this.links.home(),
        };
      }
      @Get('/about', { name: 'about' })
      about() {
        return {};
      }
    }
    const app = createApp({ controllers: [SiteController] });
    const client = await testClient(app);
    try {
      expect(await (await client.get('/')).json()).toEqual({
        same: true,
        url: '/about',
        home: '/',
      });
      expect(app.container.resolve(Application)).toBe(app);
    } finally {
      await client.close();
    }
  });
});

describe('a controller the container cannot build fails at createApp', () => {
  function createError(fn: () => unknown): RococoError {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(RococoError);
      return e as RococoError;
    }
    throw new Error('createApp did not throw');
  }

  test('its constructor throws', () => {
    @Controller()
    class ExplodingController {
      constructor() {
        throw new Error('no database');
      }
      @Get('/')
      index() {
        return {};
      }
    }
    const err = createError(() => createApp({ controllers: [ExplodingController] }));
    expect(err.code).toBe('ROCOCO_DI');
    expect(err.message).toContain('ExplodingController');
    expect(err.message).toContain('no database');
  });

  test('a service it needs throws in its constructor', () => {
    @Injectable()
    class BrokenService {
      constructor() {
        throw new Error('broken service');
      }
    }
    @Controller()
    class NeedsBrokenController {
      constructor(private svc: BrokenService) {}
      @Get('/')
      index() {
        return {};
      }
    }
    const err = createError(() => createApp({ controllers: [NeedsBrokenController] }));
    expect(err.code).toBe('ROCOCO_DI');
    expect(err.message).toContain('NeedsBrokenController');
    expect(err.message).toContain('broken service');
  });

  test('a parameter typed with an interface, without @inject', () => {
    interface Mailer {
      send(to: string): void;
    }
    @Controller()
    class MailController {
      constructor(private mailer: Mailer) {}
      @Get('/')
      index() {
        return {};
      }
    }
    const err = createError(() => createApp({ controllers: [MailController] }));
    expect(err.code).toBe('ROCOCO_DI');
    expect(err.message).toContain('MailController');
    expect(err.message).toMatch(/@inject/);
  });

  test('a dependency without @Injectable() whose constructor takes parameters', () => {
    class Undecorated {
      constructor(readonly x: string) {}
    }
    @Controller()
    class UsesUndecoratedController {
      constructor(private u: Undecorated) {}
      @Get('/')
      index() {
        return {};
      }
    }
    const err = createError(() => createApp({ controllers: [UsesUndecoratedController] }));
    expect(err.code).toBe('ROCOCO_DI');
    expect(err.message).toContain('UsesUndecoratedController');
    expect(err.message).toContain('Undecorated');
  });

  test('an @inject token nobody registered', () => {
    const MISSING = Symbol('MISSING');
    @Controller()
    class MissingTokenController {
      constructor(@inject(MISSING) private x: unknown) {}
      @Get('/')
      index() {
        return {};
      }
    }
    const err = createError(() => createApp({ controllers: [MissingTokenController] }));
    expect(err.code).toBe('ROCOCO_DI');
    expect(err.message).toContain('MissingTokenController');
  });
});

describe('createApp options', () => {
  test('an unknown option key throws a RococoError naming it', () => {
    let err: unknown;
    try {
      createApp({ controlers: [] } as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RococoError);
    expect((err as RococoError).code).toBe('ROCOCO_OPTIONS');
    expect((err as RococoError).message).toContain("'controlers'");
  });
});

describe('inherited controller with injected constructor', () => {
  test('a subclass without its own constructor gets the base dependencies, @inject(SETTINGS) included', async () => {
    @Injectable()
    class Repo {
      all() {
        return ['p1'];
      }
    }
    @Controller('/base')
    class BaseController {
      constructor(
        protected repo: Repo,
        @inject(SETTINGS) protected settings: { LOCALE: string },
      ) {}
      @Get('/list')
      list() {
        return { items: this.repo.all(), locale: this.settings.LOCALE };
      }
    }
    @Controller('/sub')
    class SubController extends BaseController {}

    const client = await testClient(
      createApp({ controllers: [SubController], settings: immutableSettings({ LOCALE: 'fr' }) }),
    );
    try {
      const res = await client.get('/sub/list');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ items: ['p1'], locale: 'fr' });
    } finally {
      await client.close();
    }
  });
});
