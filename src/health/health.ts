import type { Logger } from 'pino';
import { RococoError } from '../core/errors';
import { OutageLog } from '../core/outage-log';

/**
 * A readiness check: returns (or resolves to) anything when what it checks can serve; throws
 * or rejects when not. `signal` aborts when its timeout passes: give it to what accepts one
 * (`fetch(url, { signal })`); whatever the check does, the probe has its answer at the timeout.
 *
 * @example
 * const payments: HealthCheckFunction = async (signal) => {
 *   const res = await fetch('https://payments.internal/ping', { signal });
 *   if (!res.ok) throw new Error(`payments answered ${res.status}`);
 * };
 */
export type HealthCheckFunction = (signal: AbortSignal) => unknown;

/**
 * A readiness check with a timeout of its own, or one that opens something to close with the
 * app (what {@link redisCheck} makes). Unknown keys are refused.
 *
 * @example
 * health({ checks: { search: { run: () => search.ping(), timeout: 3000 } } })
 */
export interface HealthCheck {
  /** The check itself (see {@link HealthCheckFunction}). */
  readonly run: HealthCheckFunction;
  /** Ms it may take before it counts as failed; the plugin's `timeout` by default. */
  readonly timeout?: number;
  /** Closes what the check opened; the app's cleanup calls it. */
  readonly close?: () => void | Promise<void>;
}

/**
 * What a readiness check said: `up`, `down` (it failed) or `timeout` (no answer in time).
 *
 * @example
 * const failed = Object.keys(report.checks).filter((name) => report.checks[name] !== 'up');
 */
export type CheckStatus = 'up' | 'down' | 'timeout';

/**
 * The result of a run of the readiness checks: `ok` when every check is `up`. Names only, no
 * error messages: the reasons are in the server's log.
 *
 * @example
 * const { ok, checks } = await app.health!.check(); // { ok: false, checks: { database: 'down', redis: 'up' } }
 */
export interface HealthReport {
  readonly ok: boolean;
  readonly checks: Readonly<Record<string, CheckStatus>>;
}

/**
 * How {@link Health} runs its checks: the `health()` plugin's options of the same names.
 *
 * @example
 * new Health(app.log, { timeout: 1000, cache: 1000 })
 */
export interface HealthSettings {
  /** Ms a check may take by default. */
  readonly timeout: number;
  /** Ms a report is reused after its run ended; 0: every check() after a run runs again. */
  readonly cache: number;
  /** While a check fails, at most one log line per kind of failure in this many ms. */
  readonly outageLogInterval?: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const CHECK_KEYS = ['run', 'timeout', 'close'];

interface Entry {
  readonly run: HealthCheckFunction;
  readonly timeout: number;
  readonly close: (() => void | Promise<void>) | undefined;
  readonly outages: OutageLog;
}

/**
 * A positive (or with `zero`, non-negative), finite number of ms, or a `ROCOCO_HEALTH` error
 * naming `what`.
 *
 * @example
 * const cache = checkMs('health: cache', options.cache ?? 1000, true);
 */
export function checkMs(what: string, value: unknown, zero = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !zero))
    throw new RococoError(
      'ROCOCO_HEALTH',
      `${what} must be a ${zero ? 'non-negative' : 'positive'} number of ms, got ${String(value)}`,
    );
  return value;
}

/**
 * A check as given (a function or a {@link HealthCheck}), checked: a bad name, value, key or
 * timeout is a `ROCOCO_HEALTH` error naming the check. `where` says whose check it is.
 *
 * @example
 * const { run, timeout } = checkCheck('health: checks', 'redis', value);
 */
export function checkCheck(
  where: string,
  name: string,
  value: unknown,
): { run: HealthCheckFunction; timeout?: number; close?: () => void | Promise<void> } {
  if (!NAME.test(name))
    throw new RococoError(
      'ROCOCO_HEALTH',
      `${where}: '${name}' is not a check name (letters, digits, '_', '.', ':', '-')`,
    );
  if (typeof value === 'function') return { run: value as HealthCheckFunction };
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new RococoError(
      'ROCOCO_HEALTH',
      `${where}: check '${name}' is ${JSON.stringify(value) ?? typeof value}: give a function, a { run, timeout } object, redisCheck(...), or false to leave it out`,
    );
  for (const key of Object.keys(value))
    if (!CHECK_KEYS.includes(key))
      throw new RococoError(
        'ROCOCO_HEALTH',
        `${where}: check '${name}': unknown key '${key}' (known: ${CHECK_KEYS.join(', ')})`,
      );
  const check = value as HealthCheck;
  if (typeof check.run !== 'function')
    throw new RococoError('ROCOCO_HEALTH', `${where}: check '${name}' has no run function`);
  if (check.close !== undefined && typeof check.close !== 'function')
    throw new RococoError('ROCOCO_HEALTH', `${where}: check '${name}': close must be a function`);
  if (check.timeout !== undefined) checkMs(`${where}: check '${name}': timeout`, check.timeout);
  return check;
}

/**
 * The app's readiness checks (`app.health`, published by the `health()` plugin): what
 * `GET /readyz` runs. Each check has a timeout; checks run side by side; callers that come while
 * a run is under way share it, and its report serves the callers of the next `cache` ms, so a
 * storm of probes costs one `SELECT 1`, not one each. A failing check is logged at `warn` by an
 * {@link OutageLog} of its own: once when it begins failing, then counted, then "back".
 *
 * @example
 * // In another plugin: its own readiness check, whatever the order of the plugins.
 * ready(app) { app.health?.add('search', () => client.ping()); }
 */
export class Health {
  private readonly entries = new Map<string, Entry>();
  private running: Promise<HealthReport> | null = null;
  private last: HealthReport | null = null;
  private lastAt = 0;

  /** @internal The `health()` plugin makes it. */
  constructor(
    private readonly log: Logger | null,
    private readonly settings: HealthSettings,
  ) {}

  /**
   * Adds a readiness check; a name taken, a bad name or a bad value stops with `ROCOCO_HEALTH`.
   * Its `close` runs with the app's cleanup.
   */
  add(name: string, check: HealthCheckFunction | HealthCheck): this {
    const c = checkCheck('app.health.add', name, check);
    if (this.entries.has(name))
      throw new RococoError(
        'ROCOCO_HEALTH',
        `app.health.add: there is already a check named '${name}'`,
      );
    this.entries.set(name, {
      run: c.run,
      timeout: c.timeout ?? this.settings.timeout,
      close: c.close,
      outages: new OutageLog(this.log, `health: ${name}`, {
        interval: this.settings.outageLogInterval,
      }),
    });
    this.last = null; // a report without the new check would say too much
    return this;
  }

  /** Whether a check of this name is there. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The checks' names, in the order they were added. */
  get names(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * The checks' report: the run under way if there is one, the last one if it ended less than
   * `cache` ms ago, else a new run. Never rejects; resolves within the longest timeout.
   */
  check(): Promise<HealthReport> {
    if (this.running !== null) return this.running;
    if (this.last !== null && Date.now() - this.lastAt < this.settings.cache)
      return Promise.resolve(this.last);
    const run = (this.running = this.runAll().then((report) => {
      if (this.running === run) {
        this.running = null;
        this.last = report;
        this.lastAt = Date.now();
      }
      return report;
    }));
    return run;
  }

  /** @internal Closes what the checks opened and writes what their logs still count. */
  async close(): Promise<void> {
    for (const entry of this.entries.values()) entry.outages.close();
    await Promise.all([...this.entries.values()].map((e) => e.close?.()));
  }

  private async runAll(): Promise<HealthReport> {
    const names = [...this.entries.keys()];
    const statuses = await Promise.all(names.map((n) => this.runOne(n, this.entries.get(n)!)));
    const checks: Record<string, CheckStatus> = {};
    let ok = true;
    names.forEach((name, i) => {
      checks[name] = statuses[i];
      if (statuses[i] !== 'up') ok = false;
    });
    return { ok, checks };
  }

  private runOne(name: string, entry: Entry): Promise<CheckStatus> {
    return new Promise<CheckStatus>((resolve) => {
      const controller = new AbortController();
      let settled = false;
      const settle = (status: CheckStatus, err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (status === 'up') entry.outages.ok();
        else
          entry.outages.failed(
            err,
            status === 'timeout'
              ? `readiness check '${name}' timed out`
              : `readiness check '${name}' failed`,
            { check: name },
          );
        resolve(status);
      };
      const timer = setTimeout(() => {
        const err = new RococoError(
          'ROCOCO_HEALTH',
          `readiness check '${name}' gave no answer within ${entry.timeout} ms`,
        );
        settle('timeout', err);
        controller.abort(err);
      }, entry.timeout);
      let out: unknown;
      try {
        out = entry.run(controller.signal);
      } catch (err) {
        settle('down', err);
        return;
      }
      Promise.resolve(out).then(
        () => settle('up'),
        (err: unknown) => settle('down', err),
      );
    });
  }
}
