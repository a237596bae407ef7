import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
// node:buffer's and node:process's, not the globals: Node defines globalThis.Buffer and
// globalThis.process as getters, called at each use.
import { Buffer } from 'node:buffer';
import { hrtime } from 'node:process';
import { Connections } from './connections';
import { writeJsonHead } from './json-head';
import { clientErrorListener } from './client-errors';
import { avoidPretenuringCliff } from './pretenuring';
import type { Logger } from 'pino';
import { accessLine, accessLogger, createLogger, RequestIds, type AccessLog } from './logging';
import { ClosingResponse, whenClosed } from './closing-response';
import { debugPage, routeTable } from './debug';
import type { DependencyContainer, InjectionToken } from 'tsyringe';
import {
  createAppContainer,
  registerClass,
  registerProviders,
  SETTINGS,
  type Constructor,
  type Provider,
} from './container';
import { ViewContext } from './view-context';
import {
  HTTPBadRequest,
  HTTPError,
  HTTPMethodNotAllowed,
  HTTPNotFound,
  HTTPRequestEntityTooLarge,
  RococoError,
} from './errors';
import { compose, type Endpoint, type Middleware } from './middleware';
import { Request } from './request';
import { Response, send, toResponseWith, writeRawResponse } from './response';
import { Router, type QueryInit } from './router';
import { compileConverters, type Converter } from './converters';
import { readSetting } from './options';
import { TrustedOrigins } from './origins';
import {
  describeKey,
  isPlugin,
  type Plugin,
  type RouteBuild,
  type RouteSerializer,
  type UpgradeHandler,
} from './plugin';
import { compileTrust, type TrustProxy } from './proxy';
import { scanControllers, type ScannedRoute } from './scanner';
import { invoker, routeParams, type RouteParam } from './params';
import { getControllerMeta, type ExpectHandler, type HandlerMeta } from './metadata';
import type { Duplex } from 'node:stream';

/**
 * The settings an application reads. Extend it for your own keys, and `req.settings` is typed:
 *
 * @example
 * declare module 'rococo' { interface Settings { LOCALE: string } }
 */
export interface Settings {
  readonly [key: string]: unknown;
  /** Error details in 500 bodies; later, template reloading and debug pages. */
  readonly DEBUG?: boolean;
  /** Largest request body in bytes (413 above it); 1 MiB by default. */
  readonly MAX_BODY_SIZE?: number;
  /** pino level of the default logger (`info`; the `LOG_LEVEL` environment variable otherwise). */
  readonly LOG_LEVEL?: string;
  /** PostgreSQL URL, for the database plugin (`database()`). */
  readonly DATABASE_URL?: string;
  /** Redis URL, for the plugins that use Redis (the hub). */
  readonly REDIS_URL?: string;
  /**
   * Proxies whose `X-Forwarded-For`, `-Proto` and `-Host` are believed (`req.ip`, `req.protocol`,
   * `req.host`): false (the default), true, a hop count, or addresses and subnets.
   */
  readonly TRUST_PROXY?: boolean | number | string | readonly string[];
  /** Ms to receive a request's headers before the connection is cut (slowloris); 20000, or REQUEST_TIMEOUT if shorter (never longer than it). */
  readonly HEADERS_TIMEOUT?: number;
  /** Ms to receive a whole request, body included; 300000. */
  readonly REQUEST_TIMEOUT?: number;
  /** Ms an idle keep-alive connection is kept: longer than load balancers' 60 s, so they never reuse one the server is closing; 72000. */
  readonly KEEP_ALIVE_TIMEOUT?: number;
  /** Largest request head in bytes (431 above it); 16384. */
  readonly MAX_HEADER_SIZE?: number;
  /** Most request headers read; further ones are ignored; 200. */
  readonly MAX_HEADERS_COUNT?: number;
  /** One `info` line per request (method, path, status, bytes, ms, id, address); true by default. */
  readonly ACCESS_LOG?: boolean;
  /** Most WebSockets open at once in this process; more get 503. 10000 by default. */
  readonly MAX_WEBSOCKETS?: number;
}

/** A lifecycle hook: startup, shutdown or cleanup. */
export type Hook = (app: Application) => void | Promise<void>;

/**
 * Sees every request once it is routed, before the middlewares (404s and 405s included, as
 * `req.route === null`): a value other than `undefined` is the response, and nothing else runs
 * (a CORS preflight). Synchronous: what needs to wait belongs in a middleware or a route wrapper.
 */
export type RequestHook = (req: Request) => unknown;

/**
 * Sees every response before it is written (handlers' results, errors, 404s, files): it may
 * change the status, headers or body, or return another response (security headers, CORS,
 * compression). Fastify's `onSend`, aiohttp's `on_response_prepare`.
 */
export type SendHook = (req: Request, response: Response) => Response | void;

/**
 * Sees every response once it is done: written to the end, or cut short because the client
 * went away (`res.writableFinished` tells which). `start` is `process.hrtime.bigint()` when the
 * request arrived. For what is measured after the fact (metrics, the end of a trace span);
 * Fastify's `onResponse`. It must not throw.
 */
export type ResponseHook = (req: Request, res: ServerResponse, start: bigint) => void;

/**
 * Fields a plugin adds to a request's log lines (`req.log` and its access line): a trace's
 * ids. Called once for `req.log` and once for the access line; `undefined` adds nothing.
 */
export type LogFields = (req: Request) => Record<string, unknown> | undefined;

/**
 * Route names and the types of their parameters, for `app.url()`: empty (any name, any
 * parameters) until `rococo routes <module> --types <file>` writes a declaration that fills
 * it; then a name no route has, or a missing or mistyped parameter, is a compile error.
 *
 * @example
 * declare module 'rococo' { interface RouteParams { 'projects.show': { project_id: number } } }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface RouteParams {}

/** A route name `app.url()` accepts: any string until {@link RouteParams} is filled. */
export type RouteName = [keyof RouteParams] extends [never]
  ? string
  : Extract<keyof RouteParams, string>;

/** What `app.url(name, ...)` takes after the name: the parameters (required when the route has some), then the query. */
export type UrlArguments<N> = N extends keyof RouteParams
  ? Record<string, never> extends RouteParams[N]
    ? [params?: RouteParams[N], query?: QueryInit]
    : [params: RouteParams[N], query?: QueryInit]
  : [params?: Record<string, string | number>, query?: QueryInit];

/** What {@link createApp} takes. Unknown keys are refused. */
export interface AppOptions {
  /** Controller classes; their decorators are read once, here. */
  controllers?: readonly Constructor[];
  /** Usually `immutableSettings(...)` or `settingsFromEnv(...)`; injected as `SETTINGS`. */
  settings?: object;
  /** App-wide middlewares, outermost first; they also see 404s and 405s. */
  middlewares?: readonly Middleware[];
  /** More registrations for the app's container. */
  providers?: readonly Provider[];
  /** Run by `startup()` / `listen()`, in order, before the first request. */
  onStartup?: readonly Hook[];
  /** Run by `close()` once no new connection is accepted, while requests may still be in flight. */
  onShutdown?: readonly Hook[];
  /** Run by `close()` after the last request finished: close pools and clients here. */
  onCleanup?: readonly Hook[];
  /** A pino logger; by default one at `settings.LOG_LEVEL`. */
  logger?: Logger;
  /** Route parameter converters of the app's own, besides `int`, `float`, `uuid`, `slug` and `path`: `<id:name>`. */
  converters?: Readonly<Record<string, Converter>>;
  /** Features plugged into the app; each is set up after the plugins it depends on. */
  plugins?: readonly Plugin[];
}

const OPTION_KEYS = [
  'controllers',
  'settings',
  'middlewares',
  'providers',
  'onStartup',
  'onShutdown',
  'onCleanup',
  'logger',
  'converters',
  'plugins',
];

/**
 * What the route table tells about a route, for plugins that read it (an OpenAPI document):
 * what its decorators recorded (null for routes plugins added), its controller's name, its
 * method's name and its middlewares.
 */
export interface RouteInfo {
  readonly meta: HandlerMeta | null;
  readonly controllerName: string | undefined;
  readonly handlerName: string;
  readonly middlewares?: readonly Middleware[];
  /** What the plugins' wrappers may answer instead of the handler (`RouteBuild.answers`). */
  readonly answers?: Readonly<Record<number, string>>;
  /** A plugin's route whose access lines are written at `debug` level, not `info` (probes). */
  readonly quiet?: boolean;
  /** The plugins that wrapped the handler, innermost first (`rococo routes` shows them). */
  readonly plugins?: readonly string[];
  /** The handler's decorated parameters (`@Query`, `@Body`...), with their declared types. */
  readonly params?: readonly RouteParam[];
}

/** What the router holds for a route: the bound handler, and its middleware chain if any. */
interface RouteHandler extends RouteInfo {
  call: (req: Request) => unknown;
  chain: Endpoint | null;
  /** The route's check of `Expect: 100-continue` requests. */
  expect?: ExpectHandler;
  /** What the route does with an `Upgrade` request, when a plugin set it (WebSockets). */
  upgrade?: UpgradeHandler;
  /** The route's JSON writer, when a plugin set one (`RouteBuild.serialize`). */
  serialize?: RouteSerializer;
}

const ADDED: RouteInfo = { meta: null, controllerName: undefined, handlerName: '' };

const JSON_TYPE = 'application/json; charset=utf-8';
const BARE_500 = JSON.stringify({
  type: 'about:blank',
  title: 'Internal Server Error',
  status: 500,
});

/**
 * A rococo application: its routes, container, settings and lifecycle. Built by
 * {@link createApp}; serves with `listen()` or as a node request listener (`app.handle`).
 */
export class Application {
  /** Deep-frozen settings, as given. */
  readonly settings: Settings;
  /** The app's own child container of tsyringe. */
  readonly container: DependencyContainer;
  readonly router: Router<RouteHandler>;
  /** The app's pino logger. */
  readonly log: Logger;
  /** `settings.DEBUG`, read once. */
  readonly debug: boolean;
  /** `settings.MAX_BODY_SIZE`, read once. */
  readonly maxBodySize: number;
  /** `settings.ACCESS_LOG`: one info line per request. */
  readonly accessLog: boolean;
  private readonly accessLogger: AccessLog | null;
  /** `settings.TRUST_PROXY`, compiled; null when no proxy is trusted. */
  readonly trustProxy: TrustProxy | null;
  /** The node server once `listen()` has run. */
  server: Server | null = null;
  /** What plugins and middlewares put in every view: globals and context processors. */
  readonly view = new ViewContext();
  /** Foreign origins plugins trust as the app's own (CSRF and WebSocket origin checks). */
  readonly origins = new TrustedOrigins();

  private readonly hooks: Record<'startup' | 'shutdown' | 'cleanup', Hook[]>;
  /** Hooks plugins added: they start before the app's own and clean up after them. */
  private readonly pluginHooks: Record<'startup' | 'shutdown' | 'cleanup', Hook[]> = {
    startup: [],
    shutdown: [],
    cleanup: [],
  };
  /** The installed plugins, in setup order (dependencies first). */
  private readonly plugins: readonly Plugin[];
  private installing = false;
  private readonly appMiddlewares: Middleware[];
  private readonly decorations = new Set<string | symbol>();
  private readonly requestHooks: RequestHook[] = [];
  private readonly sendHooks: SendHook[] = [];
  private readonly responseHooks: ResponseHook[] = [];
  private readonly logFieldHooks: LogFields[] = [];
  /** Routes plugins added: put in the router once every plugin's middleware is known. */
  private readonly added: Parameters<Application['addRoute']>[0][] = [];
  private readonly missChain: Endpoint | null;
  private started: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  private readonly connections = new Connections();
  /** Whether some route answers `Upgrade` requests: only then do servers listen for them. */
  private upgrades = false;
  private readonly ids = new RequestIds();
  private readonly serverOptions: ServerOptions;
  private readonly maxHeadersCount: number;

  /** @internal Use {@link createApp}. */
  constructor(options: AppOptions) {
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.includes(key))
        throw new RococoError(
          'ROCOCO_OPTIONS',
          `createApp: unknown option '${key}' (known: ${OPTION_KEYS.join(', ')})`,
        );
    }
    this.settings = (options.settings ?? Object.freeze({})) as Settings;
    this.router = new Router(compileConverters(options.converters));
    this.debug = readSetting(this.settings, 'DEBUG', 'boolean', false);
    this.maxBodySize = readSetting(this.settings, 'MAX_BODY_SIZE', 'number', 1024 * 1024);
    if (!Number.isInteger(this.maxBodySize) || this.maxBodySize < 0) {
      throw new RococoError(
        'ROCOCO_SETTINGS',
        `MAX_BODY_SIZE must be a whole number of bytes, got ${this.maxBodySize}`,
      );
    }
    this.trustProxy = compileTrust(this.settings.TRUST_PROXY);
    const ms = (key: string, fallback: number) => positiveInteger(this.settings, key, fallback);
    const requestTimeout = ms('REQUEST_TIMEOUT', 300_000);
    // node refuses a head timeout longer than the whole request's, at listen(): say so here.
    const headersTimeout = ms('HEADERS_TIMEOUT', Math.min(20_000, requestTimeout));
    if (headersTimeout > requestTimeout) {
      throw new RococoError(
        'ROCOCO_SETTINGS',
        `HEADERS_TIMEOUT (${headersTimeout}) must not be longer than REQUEST_TIMEOUT (${requestTimeout})`,
      );
    }
    this.serverOptions = {
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: ms('KEEP_ALIVE_TIMEOUT', 72_000),
      maxHeaderSize: ms('MAX_HEADER_SIZE', 16_384),
      // How often node looks for requests over their timeouts: a slowloris is cut within a second of it.
      connectionsCheckingInterval: 1000,
    };
    this.maxHeadersCount = ms('MAX_HEADERS_COUNT', 200);
    this.log =
      options.logger ??
      createLogger(
        readSetting(this.settings, 'LOG_LEVEL', 'string', process.env.LOG_LEVEL ?? 'info'),
        this.debug,
      );
    this.accessLog = readSetting(this.settings, 'ACCESS_LOG', 'boolean', true);
    this.accessLogger = this.accessLog ? accessLogger(this.log) : null;
    this.hooks = {
      startup: [...(options.onStartup ?? [])],
      shutdown: [...(options.onShutdown ?? [])],
      cleanup: [...(options.onCleanup ?? [])],
    };

    const values: [InjectionToken<unknown>, unknown][] = [
      [SETTINGS, this.settings],
      [Application, this],
    ];
    this.container = createAppContainer(values);
    const appMws = (this.appMiddlewares = [...(options.middlewares ?? [])]);
    for (const mw of appMws) {
      if (typeof mw !== 'function')
        throw new RococoError(
          'ROCOCO_OPTIONS',
          `createApp: middlewares: ${String(mw)} is not a function`,
        );
    }
    // Plugins first: what they register, the app's own providers may replace.
    this.plugins = orderPlugins(options.plugins ?? []);
    const appOwn = appMws.length;
    this.installing = true;
    for (const plugin of this.plugins) plugin.setup?.(this);
    this.installing = false;
    // Plugins' middlewares go outside the app's own, in setup order (see use()).
    appMws.unshift(...appMws.splice(appOwn));
    for (const route of this.added) {
      this.router.add({
        methods: route.methods,
        pattern: route.pattern,
        name: route.name,
        origin: route.origin,
        handler: handlerOf(
          route.handler,
          appMws,
          undefined,
          route.quiet === true ? { ...ADDED, quiet: true } : ADDED,
        ),
      });
    }
    registerProviders(this.container, options.providers ?? []);
    const scanned = scanControllers(options.controllers ?? []);
    const setUp = new Set<Middleware>();
    const setup = (chain: readonly Middleware[]) => {
      for (const mw of chain) {
        if (setUp.has(mw)) continue;
        setUp.add(mw);
        mw.setup?.(this, chain);
      }
    };
    setup(appMws);
    for (const r of scanned) setup([...appMws, ...r.middlewares]);
    const instances = this.buildControllers(scanned);
    for (const r of scanned) {
      this.router.add({
        methods: r.methods,
        pattern: r.path,
        name: r.name,
        handler: this.compileHandler(r, instances.get(r.controller), appMws),
        origin: r.origin,
        conditions: r.conditions,
      });
    }
    for (const plugin of this.plugins) plugin.ready?.(this);
    this.missChain =
      appMws.length === 0
        ? null
        : compose(appMws, (req) => Promise.reject(this.missError(req.method, req.path)));
  }

  /**
   * The URL path of a named route; throws for an unknown name, a missing parameter, or a value
   * its regex refuses.
   *
   * @example
   * app.url('api.project', { id: 42 }) // '/api/projects/42'
   */
  url<N extends RouteName>(name: N, ...args: UrlArguments<N>): string {
    return this.router.url(name, args[0] as Record<string, string | number> | undefined, args[1]);
  }

  /** An installed plugin, by name: for plugins that work with another when it is there. */
  plugin<T extends Plugin = Plugin>(name: string): T | undefined {
    return this.plugins.find((p) => p.name === name) as T | undefined;
  }

  /**
   * Publishes what a plugin provides as a property of the app (`app.database`), once: type it
   * by augmenting `Application` (`declare module 'rococo' { interface Application { ... } }`).
   * A name already taken (by the app or another plugin) stops startup.
   *
   * @example
   * app.decorate('metrics', registry);
   */
  decorate(name: string, value: unknown): this {
    if (name in this || this.decorations.has(name))
      throw new RococoError(
        'ROCOCO_PLUGIN',
        `app.decorate('${name}'): the app already has '${name}'`,
      );
    this.decorations.add(name);
    Object.defineProperty(this, name, { value, enumerable: true });
    return this;
  }

  /**
   * Adds a route of a plugin's own (a static mount, `/openapi.json`) through the app's
   * middlewares; during setup, so that every route is known before the first request.
   */
  addRoute(route: {
    methods: readonly string[];
    pattern: string;
    name?: string;
    origin: string;
    handler: (req: Request) => unknown;
    /** Its access lines at `debug` level, not `info`: a probe polled every few seconds. */
    quiet?: boolean;
  }): void {
    if (!this.installing)
      throw new RococoError(
        'ROCOCO_PLUGIN',
        `${route.origin}: routes are added in a plugin's setup(), before the app is built`,
      );
    this.added.push(route);
  }

  /**
   * Adds an app-wide middleware from a plugin's `setup()`: it runs outside the app's own
   * middlewares (it sees what they answer or throw), plugins' in setup order, and for every
   * request that reaches the middlewares, 404s included. Routes then leave the direct path, so
   * a plugin adds one only when it has work to do (tracing with an SDK registered).
   *
   * @example
   * setup(app) { app.use((req, next) => context.with(spanContext(req), next)); }
   */
  use(middleware: Middleware): this {
    if (!this.installing)
      throw new RococoError(
        'ROCOCO_PLUGIN',
        `app.use: plugins add middlewares in setup(); the app's own go in createApp({ middlewares })`,
      );
    if (typeof middleware !== 'function')
      throw new RococoError('ROCOCO_PLUGIN', `app.use: ${String(middleware)} is not a function`);
    this.appMiddlewares.push(middleware);
    return this;
  }

  /** Adds a lifecycle hook. */
  on(event: 'startup' | 'shutdown' | 'cleanup', hook: Hook): this {
    if (!(event in this.hooks))
      throw new RococoError('ROCOCO_OPTIONS', `app.on: unknown event '${event}'`);
    (this.installing ? this.pluginHooks : this.hooks)[event].push(hook);
    return this;
  }

  /**
   * Adds a hook that sees every request before the middlewares (see {@link RequestHook}); in
   * the order added.
   *
   * @example
   * app.onRequest((req) => (req.path === '/ping' ? text('pong') : undefined));
   */
  onRequest(hook: RequestHook): this {
    this.requestHooks.push(hook);
    return this;
  }

  /**
   * Adds a hook that sees every response before it is written (see {@link SendHook}); in the
   * order added, each given what the one before returned.
   *
   * @example
   * app.onSend((req, response) => void response.setHeader('x-content-type-options', 'nosniff'));
   */
  onSend(hook: SendHook): this {
    this.sendHooks.push(hook);
    return this;
  }

  /**
   * Adds a hook that sees every response once it is done (see {@link ResponseHook}); in the
   * order added.
   *
   * @example
   * app.onResponse((req, res, start) => histogram.observe(Number(process.hrtime.bigint() - start) / 1e9));
   */
  onResponse(hook: ResponseHook): this {
    this.responseHooks.push(hook);
    return this;
  }

  /**
   * Adds fields to every log line of a request (see {@link LogFields}). A hook that throws is
   * logged as an error and its fields are left out of that request's lines.
   *
   * @example
   * app.logFields((req) => ({ traceId: traceOf(req) }));
   */
  logFields(fields: LogFields): this {
    this.logFieldHooks.push(fields);
    return this;
  }

  /** @internal The fields plugins add to a request's log lines; null when none. */
  fieldsOf(req: Request): Record<string, unknown> | null {
    if (this.logFieldHooks.length === 0) return null;
    let out: Record<string, unknown> | null = null;
    for (const hook of this.logFieldHooks) {
      let fields;
      try {
        fields = hook(req);
      } catch (err) {
        // Called where the response has closed (the access line) too: a throw there would end
        // the process. The line is written without this hook's fields, and says why apart.
        this.log.error({ err, reqId: req.id }, 'a logFields hook failed; its fields are left out');
        continue;
      }
      if (fields !== undefined) out = out === null ? { ...fields } : Object.assign(out, fields);
    }
    return out;
  }

  /**
   * True from the moment `close()` starts (SIGTERM under `rococo serve`): requests in flight
   * still finish, but a readiness probe should now say no, so that load balancers stop
   * sending before the connections close.
   */
  get draining(): boolean {
    return this.closing !== null;
  }

  /** Runs the startup hooks, once; `listen()` calls it. */
  startup(): Promise<void> {
    if (this.started === null && this.debug)
      this.log.info(`routes:\n${routeTable(this.router.routes)}`);
    return (this.started ??= this.runHooks('startup'));
  }

  /**
   * Starts the app and serves it over HTTP; resolves to its address (`http://host:port`).
   * Port 0 picks a free port.
   */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server !== null)
      throw new RococoError('ROCOCO_LIFECYCLE', 'listen() was already called on this app');
    await this.startup();
    const server = (this.server = this.createServer());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${h}:${addr.port}`;
  }

  /**
   * A node HTTP server for the app, as `listen()` makes it (timeouts and header limits from the
   * settings, the request, `checkContinue` and, with WebSocket routes, `upgrade` listeners), not
   * listening yet: for servers of your own (`rococo serve` makes one for each address).
   * `close()` drains it as it drains the server of `listen()`. It turns off V8's allocation-site
   * pretenuring for the process (see pretenuring.ts; `node --allocation-site-pretenuring` keeps it).
   */
  createServer(): Server {
    avoidPretenuringCliff();
    const server = createServer(
      { ...this.serverOptions, ServerResponse: ClosingResponse },
      this.handle,
    ) as Server;
    server.maxHeadersCount = this.maxHeadersCount;
    server.on('checkContinue', this.handleContinue);
    server.on('clientError', clientErrorListener(this.accessLogger?.log ?? null));
    if (this.upgrades) server.on('upgrade', this.handleUpgrade);
    for (const plugin of this.plugins) plugin.server?.(server, this);
    this.connections.track(server);
    return server;
  }

  /**
   * Stops accepting connections, runs the shutdown hooks, lets in-flight requests finish,
   * closes idle keep-alive connections, then runs the cleanup hooks. Safe to call twice.
   */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  /** The node request listener, to mount the app on a server of your own. */
  readonly handle = (raw: IncomingMessage, res: ServerResponse): void => {
    this.serve(raw, res, false);
  };

  /**
   * node's `checkContinue` listener (`listen()` installs it): a request with
   * `Expect: 100-continue` gets `100 Continue` only once its route is found, its declared length
   * fits `MAX_BODY_SIZE` and the route's `expect` check passed; otherwise it is answered (404,
   * 405, 413, the check's error) without its body being sent, and the connection is closed.
   */
  readonly handleContinue = (raw: IncomingMessage, res: ServerResponse): void => {
    this.serve(raw, res, true);
  };

  private serve(raw: IncomingMessage, res: ServerResponse, expecting: boolean): void {
    const url = targetOf(raw);
    const qs = url.indexOf('?');
    const path = qs === -1 ? url : url.slice(0, qs);
    let match;
    try {
      match = this.router.match(raw.method as string, path, raw);
    } catch {
      match = null; // a malformed path: missError() answers it with the router's 400
    }
    // Echoed by reply() and fail() in the headers they write: a setHeader here would send every
    // response down node's slower path of merging two sets of headers.
    const id = this.ids.next(raw.headers['x-request-id']);
    if (match !== null && match.vary !== null) res.setHeader('vary', match.vary);
    const req =
      match === null
        ? new Request(raw, this, path, qs, {}, null, id)
        : new Request(raw, this, path, qs, match.params, match.route, id);
    if (this.accessLogger !== null || this.responseHooks.length !== 0) this.watch(req, res);
    if (this.requestHooks.length !== 0 && this.answered(req, res, expecting)) return;
    if (match === null) {
      if (expecting) res.shouldKeepAlive = false; // the body that was not asked for must not be read as a request
      this.miss(req, res);
      return;
    }
    if (expecting) this.continue(req, res, match.route.handler);
    else this.run(req, res, match.route.handler);
  }

  /** Writes the request's access line and runs the response hooks once its response closes. */
  private watch(req: Request, res: ServerResponse): void {
    const start = hrtime.bigint();
    const line = this.accessLogger === null ? null : accessLine(this.accessLogger, req, res, start);
    if (this.responseHooks.length === 0) {
      if (line !== null) whenClosed(res, line);
      return;
    }
    whenClosed(res, () => {
      if (line !== null) line();
      for (const hook of this.responseHooks) {
        try {
          hook(req, res, start);
        } catch (err) {
          this.log.error({ err, reqId: req.id }, 'a response hook failed');
        }
      }
    });
  }

  /** Runs the request hooks; true when one of them answered (or failed) the request. */
  private answered(req: Request, res: ServerResponse, expecting: boolean): boolean {
    let out: unknown;
    try {
      for (const hook of this.requestHooks) {
        out = hook(req);
        if (out !== undefined) break;
      }
    } catch (e) {
      if (expecting) res.shouldKeepAlive = false;
      this.fail(req, res, e);
      return true;
    }
    if (out === undefined) return false;
    if (expecting) res.shouldKeepAlive = false; // the body that was not asked for must not be read as a request
    this.reply(req, res, out);
    return true;
  }

  private continue(req: Request, res: ServerResponse, h: RouteHandler): void {
    const refuse = (e: unknown) => {
      res.shouldKeepAlive = false;
      this.fail(req, res, e);
    };
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > this.maxBodySize) {
      refuse(
        new HTTPRequestEntityTooLarge(
          `The body is limited to ${this.maxBodySize} bytes; this one declares ${length}`,
        ),
      );
      return;
    }
    const go = () => {
      res.writeContinue();
      this.run(req, res, h);
    };
    if (h.expect === undefined) {
      go();
      return;
    }
    let check: unknown;
    try {
      check = h.expect(req);
    } catch (e) {
      refuse(e);
      return;
    }
    Promise.resolve(check).then(go, refuse);
  }

  private run(req: Request, res: ServerResponse, h: RouteHandler): void {
    if (h.chain !== null) {
      h.chain(req).then(
        (r) => this.reply(req, res, r),
        (e) => this.fail(req, res, e),
      );
      return;
    }
    let out: unknown;
    try {
      out = h.call(req);
    } catch (e) {
      this.fail(req, res, e);
      return;
    }
    if (out instanceof Promise) {
      out.then(
        (v) => this.reply(req, res, v, h.serialize),
        (e) => this.fail(req, res, e),
      );
    } else {
      this.reply(req, res, out, h.serialize);
    }
  }

  private reply(
    req: Request,
    res: ServerResponse,
    value: unknown,
    serialize?: RouteSerializer,
  ): void {
    try {
      let body: string | undefined;
      if (
        this.sendHooks.length === 0 &&
        value !== null &&
        typeof value === 'object' &&
        (body =
          value.constructor === Object || Array.isArray(value)
            ? JSON.stringify(value)
            : serialize?.(value)) !== undefined
      ) {
        // The common case, a plain object (or what the route's writer wrote): straight to the
        // socket, no Response in between.
        // The access line takes the length from here: getHeader() lower-cases its name and
        // looks it up in node's store (~0.5k instructions).
        const length = Buffer.byteLength(body);
        req.sentLength = length;
        writeJsonHead(res, JSON_TYPE, String(length), req.id);
        res.end(body);
      } else {
        // Without send hooks the writer was asked above already.
        const response = toResponseWith(value, this.sendHooks.length === 0 ? undefined : serialize);
        response.headers['x-request-id'] = req.id;
        send(res, this.sendHooks.length === 0 ? response : this.prepare(req, response));
      }
    } catch (e) {
      this.fail(req, res, e);
    }
  }

  private prepare(req: Request, response: Response): Response {
    for (const hook of this.sendHooks) response = hook(req, response) ?? response;
    return response;
  }

  private fail(req: Request, res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      this.log.error(
        { err, reqId: req.id, method: req.method, url: req.url },
        'error after the response was started',
      );
      res.destroy();
      return;
    }
    try {
      const response = this.errorResponse(req, err);
      response.headers['x-request-id'] = req.id;
      send(res, this.sendHooks.length === 0 ? response : this.prepare(req, response));
    } catch (e) {
      // The error's own response is unsendable (say, a header with a newline): a bare 500.
      this.log.error(
        { err: e, reqId: req.id, method: req.method, url: req.url },
        'the error response could not be sent',
      );
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(500, [
        'content-type',
        'application/problem+json',
        'content-length',
        String(BARE_500.length),
        'x-request-id',
        req.id,
      ]);
      res.end(BARE_500);
    }
  }

  /**
   * An error as a response: HTTP errors as themselves, anything else as a logged 500 that
   * leaks nothing unless DEBUG (then an HTML page with the stack, route, request and masked
   * settings for browsers, and the stack in the problem document for others).
   */
  errorResponse(req: Request, err: unknown): Response {
    if (err instanceof HTTPError) return err.toResponse();
    this.log.error({ err, reqId: req.id, method: req.method, url: req.url }, 'unhandled error');
    if (this.debug && (req.headers.accept ?? '').includes('text/html')) return debugPage(req, err);
    const extensions = this.debug && err instanceof Error ? { stack: err.stack } : undefined;
    const detail = this.debug ? String(err instanceof Error ? err.message : err) : undefined;
    return new HTTPError(500, detail, { extensions }).toResponse();
  }

  /** No route: a 404, a 405, or a 400 for a malformed path, through the app middlewares. */
  private miss(req: Request, res: ServerResponse): void {
    if (this.missChain === null) {
      this.fail(req, res, this.missError(req.method, req.path));
      return;
    }
    this.missChain(req).then(
      (r) => this.reply(req, res, r),
      (e) => this.fail(req, res, e),
    );
  }

  private missError(method: string, path: string): HTTPError {
    let allowed: string[];
    try {
      allowed = this.router.allowed(path);
    } catch (e) {
      return e instanceof HTTPError ? e : new HTTPBadRequest();
    }
    // The method is there but its route's conditions did not hold: nothing here for this request.
    if (allowed.length === 0 || allowed.includes(method)) return new HTTPNotFound();
    return new HTTPMethodNotAllowed(
      allowed,
      `${method} is not allowed here; use ${allowed.join(', ')}`,
    );
  }

  private buildControllers(scanned: ScannedRoute[]): Map<Constructor, object> {
    const instances = new Map<Constructor, object>();
    for (const { controller } of scanned) {
      if (instances.has(controller)) continue;
      try {
        registerClass(this.container, controller, controller.name);
        instances.set(controller, this.container.resolve(controller) as object);
      } catch (e) {
        if (e instanceof RococoError) throw e;
        throw new RococoError(
          'ROCOCO_DI',
          `${controller.name} cannot be built by the container: ${(e as Error).message}`,
        );
      }
    }
    return instances;
  }

  private compileHandler(
    r: ScannedRoute,
    instance: object | undefined,
    appMws: Middleware[],
  ): RouteHandler {
    const fn = (r.controller.prototype as Record<string, (...args: unknown[]) => unknown>)[
      r.handler
    ];
    const mws = [...appMws, ...r.middlewares];
    const { build, plugins } = this.buildRoute(r, instance as object, fn, mws);
    const controller = getControllerMeta(r.controller);
    const handler = handlerOf(build.handler, mws, build.serialize, {
      meta: r.meta,
      controllerName: controller?.name ?? r.controller.name,
      handlerName: r.handler,
      plugins,
      params: build.params,
      ...(Object.keys(build.answers).length > 0 && { answers: build.answers }),
    });
    if (r.expect !== undefined) handler.expect = r.expect;
    if (build.serialize !== undefined) handler.serialize = build.serialize;
    if (build.upgrade !== undefined) {
      handler.upgrade = build.upgrade;
      this.upgrades = true;
    }
    return handler;
  }

  /**
   * Lets each plugin see the route and wrap its handler, in setup order; then checks that
   * every decorator on it was claimed by an installed plugin.
   */
  private buildRoute(
    r: ScannedRoute,
    instance: object,
    fn: (...args: unknown[]) => unknown,
    middlewares: readonly Middleware[],
  ): { build: RouteBuild; plugins: string[] } {
    const claimed = new Set<symbol>();
    const params = routeParams(
      r.meta.params,
      Reflect.getMetadata?.('design:paramtypes', r.controller.prototype, r.handler) as
        unknown[] | undefined,
      this.router.parameters(r.path),
      r.origin,
    );
    // Plugins wrap `handler` before the parameters' resolvers are final (a plugin sets those
    // of the parameters it handles): the call is looked up once they are.
    let call: (req: Request) => unknown =
      params === null ? (req) => fn.call(instance, req) : () => undefined;
    const late = (req: Request) => call(req);
    const build: RouteBuild = {
      origin: r.origin,
      name: r.name,
      methods: r.methods,
      pattern: r.path,
      meta: r.meta,
      controllerValues: (key) => r.controllerExtras.get(key) ?? [],
      controller: r.controller,
      instance,
      middlewares,
      action: (...args) => fn.apply(instance, args),
      handler: params === null ? call : late,
      answers: {},
      params: params ?? [],
      claim: (key) => void claimed.add(key),
      compose: (endpoint) => compose(middlewares, endpoint),
    };
    const plugins: string[] = [];
    for (const plugin of this.plugins) {
      const before = build.handler;
      plugin.route?.(build, this);
      if (build.handler !== before) plugins.push(plugin.name);
    }
    if (params !== null) {
      call = invoker(
        fn,
        instance,
        params.map((p) => resolverOf(p, r.origin)),
      );
      // No plugin wrapped it: the route calls the argument builder itself, not through `late`.
      if (build.handler === late) build.handler = call;
    }
    for (const key of [...r.meta.extras.keys(), ...r.controllerExtras.keys()]) {
      const known = describeKey(key);
      if (known === undefined || !known.required || claimed.has(key)) continue;
      throw new RococoError(
        'ROCOCO_PLUGIN',
        `${r.origin}: ${known.decorator} needs the '${known.plugin}' plugin: add it to createApp({ plugins })`,
      );
    }
    return { build, plugins };
  }

  /**
   * The node `upgrade` listener (`listen()` installs it; add it to a server of your own next to
   * `app.handle`). Only `@WebSocket` routes upgrade: anything else is answered over HTTP (404,
   * 400, 403, 503, or what a middleware threw) and the socket is closed.
   */
  readonly handleUpgrade = (raw: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => {}); // a peer that resets mid-handshake is not the process's problem
    const url = targetOf(raw);
    const qs = url.indexOf('?');
    const path = qs === -1 ? url : url.slice(0, qs);
    let match;
    try {
      match = this.router.match('GET', path, raw);
    } catch (e) {
      writeRawResponse(socket, (e instanceof HTTPError ? e : new HTTPBadRequest()).toResponse());
      return;
    }
    const upgrade = match?.route.handler.upgrade;
    if (match == null || upgrade === undefined || raw.method !== 'GET') {
      const err =
        match == null
          ? new HTTPNotFound()
          : upgrade === undefined
            ? new HTTPNotFound('Nothing at this path accepts an upgrade')
            : new HTTPBadRequest('An upgrade request is a GET');
      writeRawResponse(socket, err.toResponse());
      return;
    }
    upgrade(
      new Request(
        raw,
        this,
        path,
        qs,
        match.params,
        match.route,
        this.ids.next(raw.headers['x-request-id']),
      ),
      socket,
      head,
    );
  };

  /**
   * Plugins' startup hooks run before the app's own, so that what they provide (a database)
   * is ready for them; their cleanup hooks after the app's, the last plugin's first, so that
   * a plugin outlives the plugins and hooks that use it.
   */
  private async runHooks(event: 'startup' | 'shutdown' | 'cleanup'): Promise<void> {
    const hooks =
      event === 'startup'
        ? [...this.pluginHooks.startup, ...this.hooks.startup]
        : event === 'shutdown'
          ? [...this.hooks.shutdown, ...this.pluginHooks.shutdown]
          : [...this.hooks.cleanup, ...[...this.pluginHooks.cleanup].reverse()];
    for (const hook of hooks) await hook(this);
  }

  private async shutdown(): Promise<void> {
    const drained = this.connections.drain();
    try {
      await this.runHooks('shutdown');
    } finally {
      await drained;
    }
    await this.runHooks('cleanup');
  }
}

/**
 * Builds an application from its controllers: reads the decorators, builds the router and the
 * controllers (with their services) once. Synchronous; async resources start in `listen()`.
 * Any mistake in the declarations throws a {@link RococoError} that names where it is.
 *
 * @example
 * const app = createApp({ controllers: [ApiController], settings: immutableSettings({ LOCALE: 'uk_UA' }) });
 * await app.listen(8080);
 */
export function createApp(options: AppOptions = {}): Application {
  return new Application(options);
}

/** A parameter's resolver; one no plugin took (a schema class without the schemas plugin) stops startup. */
function resolverOf(p: RouteParam, origin: string): (req: Request) => unknown {
  if (p.resolve !== undefined) return p.resolve;
  throw new RococoError(
    'ROCOCO_PLUGIN',
    `${origin}: ${p.label} of the class ${(p.type as Function).name} needs the 'schemas' plugin: add schemas() to createApp({ plugins })`,
  );
}

/**
 * A route's handler: called directly when no middleware applies, else through its chain, whose
 * middlewares see its value as a Response (written by the route's JSON writer, if it has one).
 */
function handlerOf(
  call: (req: Request) => unknown,
  mws: readonly Middleware[],
  serialize: RouteSerializer | undefined,
  doc: RouteInfo,
): RouteHandler {
  if (mws.length === 0) return { call, chain: null, ...doc };
  const respond = (out: unknown) => toResponseWith(out, serialize);
  // Not async: a handler that returns a value at once costs no extra promise and await.
  const endpoint: Endpoint = (req) => {
    try {
      const out = call(req);
      return out instanceof Promise ? out.then(respond) : Promise.resolve(respond(out));
    } catch (e) {
      return Promise.reject(e);
    }
  };
  return { call, chain: compose(mws, endpoint), ...doc, middlewares: mws };
}

/**
 * The plugins in setup order: each after the plugins it depends on, otherwise as listed. Two
 * of one name, a dependency that is not installed, or a cycle stops startup.
 */
function orderPlugins(plugins: readonly Plugin[]): Plugin[] {
  const byName = new Map<string, Plugin>();
  for (const p of plugins) {
    if (!isPlugin(p))
      throw new RococoError(
        'ROCOCO_PLUGIN',
        `createApp: plugins: ${String(p)} is not a plugin (an object with a name)`,
      );
    if (byName.has(p.name))
      throw new RococoError('ROCOCO_PLUGIN', `createApp: plugins: '${p.name}' is installed twice`);
    byName.set(p.name, p);
  }
  const out: Plugin[] = [];
  const state = new Map<Plugin, 'visiting' | 'done'>();
  const visit = (p: Plugin, path: string[]) => {
    if (state.get(p) === 'done') return;
    if (state.get(p) === 'visiting')
      throw new RococoError(
        'ROCOCO_PLUGIN',
        `createApp: plugins depend on each other in a circle: ${[...path, p.name].join(' -> ')}`,
      );
    state.set(p, 'visiting');
    for (const dep of p.dependencies ?? []) {
      const needed = byName.get(dep);
      if (needed === undefined)
        throw new RococoError(
          'ROCOCO_PLUGIN',
          `createApp: the '${p.name}' plugin needs the '${dep}' plugin: add it to createApp({ plugins })`,
        );
      visit(needed, [...path, p.name]);
    }
    state.set(p, 'done');
    out.push(p);
  };
  for (const p of plugins) visit(p, []);
  return out;
}

function positiveInteger(settings: Settings, key: string, fallback: number): number {
  const v = readSetting(settings, key, 'number', fallback);
  if (!Number.isInteger(v) || v <= 0)
    throw new RococoError('ROCOCO_SETTINGS', `${key} must be a positive whole number, got ${v}`);
  return v;
}

/** The request target as a path and query; an absolute-form target is rewritten to one, once. */
function targetOf(raw: IncomingMessage): string {
  const url = raw.url as string;
  return url.charCodeAt(0) === 47 /* / */ ? url : (raw.url = absoluteToPath(url));
}

function absoluteToPath(target: string): string {
  // Absolute-form request targets (a client talking as to a proxy): keep path and query.
  try {
    const u = new URL(target);
    return u.pathname + u.search;
  } catch {
    return '/' + target; // '*' and garbage end as a 404, never a crash
  }
}
