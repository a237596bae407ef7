import type { Application } from '../core/application';
import { HTTPServiceUnavailable, RococoError } from '../core/errors';
import { checkOptions } from '../core/options';
import type { Plugin } from '../core/plugin';
import { json, type Response } from '../core/response';
import type { Database } from '../database/database';
import {
  checkCheck,
  checkMs,
  Health,
  type HealthCheck,
  type HealthCheckFunction,
  type HealthReport,
} from './health';

declare module '../core/application' {
  interface Application {
    /** The readiness checks, when the `health` plugin is installed: add checks, run them. */
    readonly health?: Health;
  }
}

/**
 * What {@link health} takes. Unknown keys are refused.
 *
 * @example
 * health({ checks: { redis: redisCheck(settings.REDIS_URL) }, timeout: 2000 })
 */
export interface HealthOptions {
  /** The liveness probe's path (`/healthz`), or false for none. */
  live?: string | false;
  /** The readiness probe's path (`/readyz`), or false for none. */
  ready?: string | false;
  /**
   * Readiness checks by name: a function, a `{ run, timeout }` object, `redisCheck(...)`, or
   * false to leave one out (`database: false` turns off the check the database plugin brings).
   */
  checks?: Readonly<Record<string, HealthCheckFunction | HealthCheck | false>>;
  /** Ms a check may take before it counts as failed, unless it says otherwise; 1000. */
  timeout?: number;
  /** Ms a run's report answers the probes that follow it; 1000. 0: only concurrent probes share a run. */
  cache?: number;
  /** While a check fails, at most one log line per kind of failure in this many ms (10000). */
  outageLogInterval?: number;
}

const OPTION_KEYS = ['live', 'ready', 'checks', 'timeout', 'cache', 'outageLogInterval'];
const NO_STORE = { 'cache-control': 'no-store' };

/**
 * Kubernetes-style probes. `GET /healthz` (liveness) answers 200 while the process serves, also
 * while it drains. `GET /readyz` (readiness) runs the checks, each with a timeout, at most once
 * per `cache` ms however many probes come: 200 with each check `up`, or a 503 problem naming
 * the checks that failed (names only; the reasons go to the log at `warn`, once an outage). From
 * the moment `close()` starts (SIGTERM under `rococo serve`) it answers 503 without running
 * anything, while requests in flight finish: the load balancer stops sending first.
 *
 * With the `database` plugin installed, a check `database` (`SELECT 1` through its pool) is
 * there without asking; Redis is checked where you say so (`redisCheck`). Probe requests are
 * written to the access log at `debug` only. The checks are published as `app.health`.
 *
 * @example
 * createApp({
 *   controllers,
 *   plugins: [database(), health({ checks: { redis: redisCheck(settings.REDIS_URL) } })],
 * });
 */
export function health(options: HealthOptions = {}): Plugin {
  checkOptions('health', options, OPTION_KEYS);
  const live = path('live', options.live, '/healthz');
  const ready = path('ready', options.ready, '/readyz');
  if (live !== false && live === ready)
    throw new RococoError('ROCOCO_HEALTH', `health: live and ready are both '${live}'`);
  const timeout = checkMs('health: timeout', options.timeout ?? 1000);
  const cache = checkMs('health: cache', options.cache ?? 1000, true);
  const { outageLogInterval } = options;
  if (outageLogInterval !== undefined) checkMs('health: outageLogInterval', outageLogInterval);
  const given = options.checks ?? {};
  if (given === null || typeof given !== 'object' || Array.isArray(given))
    throw new RococoError('ROCOCO_HEALTH', 'health: checks must be an object of checks by name');
  // Checked now, so that a mistake stops the program where the options are written.
  for (const [name, value] of Object.entries(given))
    if (value !== false) checkCheck('health: checks', name, value);

  return {
    name: 'health',
    setup(app) {
      // Of this app's own: one plugin object may be given to several apps (tests do).
      const checks = new Health(app.log, { timeout, cache, outageLogInterval });
      for (const [name, value] of Object.entries(given))
        if (value !== false) checks.add(name, value);
      app.decorate('health', checks);
      app.on('cleanup', () => checks.close());
      if (live !== false)
        app.addRoute({
          methods: ['GET'],
          pattern: live,
          name: 'health.live',
          origin: 'health (liveness)',
          handler: () => json({ status: 'ok' }, { headers: NO_STORE }),
          quiet: true,
        });
      if (ready !== false)
        app.addRoute({
          methods: ['GET'],
          pattern: ready,
          name: 'health.ready',
          origin: 'health (readiness)',
          handler: () => readiness(app, checks),
          quiet: true,
        });
    },
    ready(app) {
      // Here, not in setup: the database plugin may be listed after this one.
      const db = (app as Application & { database?: Database }).database;
      const checks = app.health as Health;
      if (db !== undefined && given.database !== false && !checks.has('database'))
        checks.add('database', () => db.query('SELECT 1'));
    },
  };
}

/** A probe's path: the default, the one given, or false. */
function path(which: string, value: unknown, fallback: string): string | false {
  if (value === undefined) return fallback;
  if (value === false) return false;
  if (typeof value !== 'string' || !value.startsWith('/') || /[<>?#\s]/.test(value))
    throw new RococoError(
      'ROCOCO_HEALTH',
      `health: ${which} must be a path such as '${fallback}', or false; got ${JSON.stringify(value)}`,
    );
  return value;
}

async function readiness(app: Application, checks: Health): Promise<Response> {
  if (app.draining) return draining();
  const report = await checks.check();
  // A drain that began while the checks ran has the last word.
  if (app.draining) return draining();
  if (report.ok) return json({ status: 'ok', checks: report.checks }, { headers: NO_STORE });
  return notReady(report);
}

function draining(): Response {
  return new HTTPServiceUnavailable('The server is shutting down', {
    headers: NO_STORE,
    extensions: { draining: true },
  }).toResponse();
}

function notReady(report: HealthReport): Response {
  const failed = Object.keys(report.checks).filter((n) => report.checks[n] !== 'up');
  return new HTTPServiceUnavailable(`Not ready: ${failed.join(', ')}`, {
    headers: NO_STORE,
    extensions: { checks: report.checks },
  }).toResponse();
}
