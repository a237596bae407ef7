import { tracingChannel } from 'node:diagnostics_channel';
import type { Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import type { Application } from '../core/application';
import { RococoError } from '../core/errors';
import { checkOptions } from '../core/options';
import type { Plugin } from '../core/plugin';
import type { Request } from '../core/request';
import { Response } from '../core/response';
import type { Hub } from '../websocket/hub';
import type { WebSocketsPlugin } from '../websocket/plugin';
import { exposition } from './aggregator';
import { DURATION_BUCKETS, LeanHistogram, SIZE_BUCKETS, type HistogramSeries } from './histogram';

declare module '../core/application' {
  interface Application {
    /** The app's own prom-client registry, when the `metrics` plugin is installed: register yours on it. */
    readonly metrics?: Registry;
  }
}

/** What {@link metrics} takes. Unknown keys are refused. */
export interface MetricsOptions {
  /** Where the exposition is served (`/metrics`). */
  path?: string;
  /** Upper bounds of the request duration histogram, in seconds, increasing. */
  buckets?: readonly number[];
  /** The process's own series (`collectDefaultMetrics`: event loop lag, heap, GC...); true. */
  defaultMetrics?: boolean;
}

const OPTION_KEYS = ['path', 'buckets', 'defaultMetrics'];

type PromClient = typeof import('prom-client');
let prom: PromClient | undefined;

/** The route label of a request no route matched (404, 405): one series, whatever the path. */
export const NO_ROUTE = 'none';

/** Status classes by `status / 100`; 0: the client went away before the response was done. */
const CLASSES = ['aborted', '1xx', '2xx', '3xx', '4xx', '5xx'];

/** The series one (route, method, status class) observes into, made on its first request. */
interface Series {
  duration: HistogramSeries;
  request: HistogramSeries;
  response: HistogramSeries;
}

/** A route's series by method, then by status class (index in CLASSES). */
type RouteSeries = Map<string, (Series | undefined)[]>;

/** Where a query's start time is kept on its tracing context (the channel's documented use). */
const STARTED = Symbol('metrics: query start');

/**
 * Prometheus metrics of the app (prom-client), served at `path` in the text format: request
 * durations by method, route name (its pattern when it has none, `none` when no route matched:
 * never the raw path) and status class; requests in flight; request and response body sizes;
 * with the database plugin, its pool and query durations; with WebSockets and the hub, open
 * sockets and messages; and the process's defaults. Each app has its own registry, published as
 * `app.metrics` for the app's own metrics. Under `rococo serve -w N`, a scrape of any worker
 * answers with every worker's series summed.
 *
 * @example
 * const app = createApp({ controllers, plugins: [database(), metrics()] });
 * new Counter({ name: 'signups_total', help: 'Accounts created', registers: [app.metrics!] }); // prom-client's
 */
export function metrics(options: MetricsOptions = {}): Plugin {
  checkOptions('metrics', options, OPTION_KEYS);
  const path = options.path ?? '/metrics';
  if (typeof path !== 'string' || !/^\/[^<>?#\s]*$/.test(path))
    throw new RococoError(
      'ROCOCO_METRICS',
      `metrics(): path must be a plain path starting with '/', got ${JSON.stringify(path)}`,
    );
  const buckets = options.buckets ?? DURATION_BUCKETS;
  if (
    !Array.isArray(buckets) ||
    buckets.length === 0 ||
    buckets.some((b, i) => typeof b !== 'number' || !(b > 0) || !isFinite(b) || b <= buckets[i - 1])
  )
    throw new RococoError(
      'ROCOCO_METRICS',
      `metrics(): buckets must be positive finite numbers in increasing order, got ${JSON.stringify(buckets)}`,
    );
  const defaults = options.defaultMetrics ?? true;
  if (typeof defaults !== 'boolean')
    throw new RococoError('ROCOCO_METRICS', 'metrics(): defaultMetrics must be true or false');

  const requests = new WeakMap<Application, ReturnType<typeof instrumentRequests>>();
  return {
    name: 'metrics',
    setup(app) {
      prom ??= require('prom-client') as PromClient; // loaded by apps that use it, not by every import of rococo
      const registry = new prom.Registry();
      app.decorate('metrics', registry);
      if (defaults) prom.collectDefaultMetrics({ register: registry });
      requests.set(app, instrumentRequests(app, registry, buckets));
      app.addRoute({
        methods: ['GET'],
        pattern: path,
        // Named as the health routes are: app.url('metrics') finds it, and its series stays
        // the same label when the path is moved.
        name: 'metrics',
        origin: 'metrics()',
        quiet: true,
        handler: async () =>
          new Response(await exposition(registry), {
            headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' },
          }),
      });
    },
    server(server, app) {
      requests.get(app)?.watch(server);
    },
    ready(app) {
      const registry = app.metrics as Registry;
      if (app.database !== undefined) instrumentDatabase(app, registry, app.database.pool);
      const ws = app.plugin<WebSocketsPlugin>('websockets');
      if (ws !== undefined)
        new (prom as PromClient).Gauge({
          name: 'websocket_connections_open',
          help: 'WebSockets open now',
          registers: [registry],
          collect() {
            this.set(ws.open);
          },
        });
      if (app.hub !== undefined) instrumentHub(registry, app.hub);
    },
  };
}

/** The request series: hooks that find a request's series by its route object, no string built. */
function instrumentRequests(app: Application, registry: Registry, buckets: readonly number[]) {
  const labels = ['method', 'route', 'status'];
  const duration = new LeanHistogram(
    'http_request_duration_seconds',
    'Time from the request to the end of its response, by method, route (name, else pattern) and status class',
    labels,
    buckets,
  );
  const requestSize = new LeanHistogram(
    'http_request_size_bytes',
    'Request bodies, from Content-Length (0 without a body; chunked bodies are not counted)',
    labels,
    SIZE_BUCKETS,
  );
  const responseSize = new LeanHistogram(
    'http_response_size_bytes',
    'Response bodies, as their Content-Length declares (chunked streams are not counted)',
    labels,
    SIZE_BUCKETS,
  );
  for (const h of [duration, requestSize, responseSize]) registry.registerMetric(h as never);
  // Arrivals are counted by a listener on the app's servers rather than a request hook: another
  // plugin's hook that answers a request (a CORS preflight) stops the hooks after it, and the
  // response would then be counted out without having been counted in.
  let inFlight = 0;
  let watched = false;
  const arrive = () => {
    inFlight++;
  };
  new (prom as PromClient).Gauge({
    name: 'http_requests_in_flight',
    help: 'Requests received by the servers of the app whose response is not done yet',
    registers: [registry],
    collect() {
      this.set(inFlight);
    },
  });

  // req.route is the router's own route object, so a Map of those finds a request's series
  // without a string being built or hashed.
  const byRoute = new Map<object, RouteSeries>();
  const unmatched: RouteSeries = new Map();
  const seriesOf = (req: Request, cls: number): Series => {
    let row = req.route === null ? unmatched : byRoute.get(req.route);
    if (row === undefined) {
      row = new Map();
      byRoute.set(req.route as object, row);
    }
    let slots = row.get(req.method);
    if (slots === undefined) {
      slots = [];
      row.set(req.method, slots);
    }
    let s = slots[cls];
    if (s === undefined) {
      const route = req.route === null ? NO_ROUTE : (req.route.name ?? req.route.pattern.source);
      const l = { method: req.method, route, status: CLASSES[cls] };
      s = slots[cls] = {
        duration: duration.series(l),
        request: requestSize.series(l),
        response: responseSize.series(l),
      };
    }
    return s;
  };

  app.onResponse((req, res, start) => {
    if (watched) inFlight--;
    const status = res.statusCode;
    const cls = !res.writableFinished ? 0 : status >= 100 && status < 600 ? (status / 100) | 0 : 5;
    const s = seriesOf(req, cls);
    s.duration.observe(Number(process.hrtime.bigint() - start) / 1e9);
    const h = req.raw.headers;
    const declared = h['content-length'];
    if (declared !== undefined) s.request.observe(+declared || 0);
    else if (h['transfer-encoding'] === undefined) s.request.observe(0);
    const sent = responseLength(res);
    if (sent >= 0) s.response.observe(sent);
  });
  return {
    /** Each server the app makes: its requests are counted in as they arrive. */
    watch(server: Server): void {
      watched = true;
      // Before the app's own listener, which may answer at once (a scrape reads this count).
      server.prependListener('request', arrive);
      server.prependListener('checkContinue', arrive);
    },
  };
}

/** The body length a response declared; -1 when it did not (a chunked stream). */
function responseLength(res: ServerResponse): number {
  // node keeps the Content-Length it wrote, whether headers came as writeHead's flat list (the
  // kernel's fast path, which getHeader() cannot see) or were set one by one.
  const known = (res as unknown as { _contentLength?: number | string | null })._contentLength;
  if (known !== null && known !== undefined) return +known;
  const header = res.getHeader('content-length');
  return header === undefined ? -1 : +header;
}

/** Pool gauges and query durations, for this app's pool only (another app's has its own). */
function instrumentDatabase(app: Application, registry: Registry, pool: Pool): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new (prom as PromClient).Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('db_pool_connections', 'Connections in the pool, idle or in use', () => pool.totalCount);
  gauge('db_pool_idle_connections', 'Connections in the pool not in use', () => pool.idleCount);
  gauge(
    'db_pool_waiting_clients',
    'Queries and transactions waiting for a connection',
    () => pool.waitingCount,
  );
  const queries = new LeanHistogram(
    'db_query_duration_seconds',
    'Database statements, from their start to their result, by outcome',
    ['outcome'],
    DURATION_BUCKETS,
  );
  registry.registerMetric(queries as never);
  const ok = queries.series({ outcome: 'ok' });
  const failed = queries.series({ outcome: 'error' });
  type Message = { pool: unknown; error?: unknown; [STARTED]?: number };
  const channel = tracingChannel<unknown, Message>('rococo:database:query');
  const handlers = {
    start(m: Message) {
      if (m.pool === pool) m[STARTED] = performance.now();
    },
    end() {},
    asyncStart() {},
    asyncEnd(m: Message) {
      const t = m[STARTED];
      if (t === undefined) return;
      (m.error === undefined ? ok : failed).observe((performance.now() - t) / 1000);
    },
    error() {},
  };
  channel.subscribe(handlers);
  app.on('cleanup', () => channel.unsubscribe(handlers));
}

/** Hub messages this process published and delivered, read from the hub at each scrape. */
function instrumentHub(registry: Registry, hub: Hub): void {
  new (prom as PromClient).Counter({
    name: 'hub_messages_total',
    help: 'Hub messages published by this process, and delivered to its subscribers',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: 'published' }, hub.counts.published);
      this.inc({ direction: 'delivered' }, hub.counts.delivered);
    },
  });
}
