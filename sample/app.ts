import 'reflect-metadata';
import { join } from 'node:path';
import {
  Application,
  compression,
  createApp,
  csrf,
  database,
  health,
  intConverter,
  metrics,
  openapi,
  rateLimit,
  redisCheck,
  schemas,
  securityHeaders,
  sessions,
  staticFiles,
  templates,
  websockets,
  hub,
  tracing,
} from '../src';
import { AuthController } from './auth/auth.controller';
import { currentUserContext } from './auth/current-user';
import { apiCors } from './cors';
import { errorPages, serverTiming } from './middlewares';
import { PagesController } from './pages/pages.controller';
import { ApiController } from './projects/api.controller';
import { LiveController } from './projects/live.controller';
import { ProjectsController } from './projects/projects.controller';
import { SAMPLE_DIR } from './paths';
import { sessionStorage } from './session-storage';
import { loadSettings, type AppSettings } from './settings';
import { UsersController } from './users/users.controller';

/**
 * Builds the project tracker. `settings.DATABASE_URL` must point at PostgreSQL: `main.ts` sets
 * it (an embedded server when the environment has none), tests give their own. Sessions need
 * `SESSION_KEYS` (or `REDIS_URL`) unless DEBUG is on.
 *
 * Middlewares, outermost first: timing; sessions, saved around everything (also error pages
 * and redirects); error pages; then CSRF checks, so that a refused form is a 403 page. They run
 * on the WebSocket handshake of a project's live page too. Rate limits (`@RateLimit`) run inside
 * them, so a 429 is an error page for browsers and a problem for API clients.
 */
export function createSampleApp(settings: AppSettings = loadSettings()): Application {
  // Before the session storage opens its Redis client: a wrong CORS_ORIGINS leaks nothing.
  const corsPlugin = apiCors(settings);
  return createApp({
    controllers: [
      PagesController,
      ProjectsController,
      LiveController,
      UsersController,
      AuthController,
      ApiController,
    ],
    settings,
    // `<project_id:id>`: the ids of the tables' `serial` columns (PostgreSQL integer). Any other
    // number in a path is a 404 at the router, never a query that PostgreSQL refuses.
    converters: { id: intConverter({ min: 1, max: 2 ** 31 - 1 }) },
    middlewares: [serverTiming, sessions(sessionStorage(settings)), errorPages, csrf()],
    plugins: [
      // OpenTelemetry spans of requests, queries and renders when serve.ts started the SDK
      // (OTEL_EXPORTER_OTLP_ENDPOINT); else nothing. First: its hook sees CORS preflights too.
      tracing(),
      // Prometheus metrics at /metrics (request durations by route name, the pool, WebSockets);
      // under `rococo serve -w N` a scrape of any worker sums them all.
      metrics(),
      // helmet's headers; a policy without 'unsafe-inline': the pages' scripts and styles are
      // files under /static, and a page that needs an inline one gives it {{ csp_nonce() }}.
      // connect-src 'self' covers the live page's WebSocket (ws: and wss: of this host).
      securityHeaders({
        contentSecurityPolicy: {
          directives: { styleSrc: ["'self'"], connectSrc: ["'self'"] },
        },
      }),
      database({ migrations: join(SAMPLE_DIR, 'migrations'), migrate: true }),
      // /healthz and /readyz for the orchestrator: the database's SELECT 1 comes with database();
      // Redis (sessions, hub, limits, live viewers) is checked when REDIS_URL is set.
      health({ checks: { redis: settings.REDIS_URL !== '' && redisCheck(settings.REDIS_URL) } }),
      templates({ dir: join(SAMPLE_DIR, 'templates'), contextProcessors: [currentUserContext] }),
      staticFiles([{ prefix: '/static', dir: join(SAMPLE_DIR, 'static') }]),
      schemas(),
      websockets(),
      // Pages of CORS_ORIGINS may call the JSON API (preflights are answered before the middlewares).
      corsPlugin,
      // Through Redis when settings.REDIS_URL is set (project pages in every worker).
      hub({ prefix: `${settings.REDIS_PREFIX}hub:` }),
      openapi({
        title: 'Rococo Tracker API',
        version: '1.0.0',
        description: 'Projects of the rococo sample, as JSON.',
        prefix: '/api',
      }),
      // Last, so a refused request costs nothing else (no validation, no body). Counted in Redis
      // when settings.REDIS_URL is set (every worker shares the budgets), else in this process.
      // The limits are on the routes: AuthController.login and ApiController's writes.
      rateLimit({ prefix: `${settings.REDIS_PREFIX}ratelimit:` }),
      // Pages, JSON and files as the browser accepts them (br, gzip); static files with a
      // .br or .gz beside them are sent as those. Its send hook runs last, on the headers the
      // plugins before it added.
      compression(),
    ],
  });
}
