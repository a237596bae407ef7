import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Application } from '../core/application';
import { HTTPServiceUnavailable, RococoError } from '../core/errors';
import { OutageLog } from '../core/outage-log';
import type { Request } from '../core/request';
import { Session } from './session';
import { SessionStorage, type SessionCookieOptions } from './storage';

/** Options of {@link RedisStorage}. */
export interface RedisStorageOptions extends SessionCookieOptions {
  /** Prefix of the Redis keys; `rococo:session:` by default. */
  prefix?: string;
  /** How long a Redis command may take before the request gets a 503, in ms; 2000 by default. */
  timeout?: number;
  /**
   * While Redis fails, at most one log line per kind of failure in this many ms (10000): the
   * first failure is logged with its stack, the rest counted; see {@link OutageLog}.
   */
  outageLogInterval?: number;
}

const ID = /^[A-Za-z0-9_-]{32}$/;
const CREATED = ':created';
const DATA = 'd:';

/**
 * Sessions kept in Redis (ioredis); the cookie holds only a random id of 192 bits. Each session
 * is a Redis hash that expires `maxAge` after its last save. Saving writes only the keys a
 * request changed, so two requests of one session that change different keys both keep their
 * change; for one key, the last write wins.
 *
 * Give it a URL and it makes its own client, without an offline queue (a request never waits
 * for a Redis that is down: it gets a 503) and closes it with the app; or give it your ioredis
 * client. Either way each command is bounded by `timeout`.
 *
 * @example
 * sessions(new RedisStorage(settings.REDIS_URL, { maxAge: 14 * 86400 }))
 */
export class RedisStorage extends SessionStorage {
  /** The ioredis client. */
  readonly client: Redis;
  private readonly prefix: string;
  private readonly timeout: number;
  private readonly owned: boolean;
  private readonly outageLogInterval: number | undefined;
  /** Made again with the app's logger by `setup`. */
  private outages: OutageLog;

  constructor(client: Redis | string, options: RedisStorageOptions = {}) {
    const { prefix, timeout, outageLogInterval, ...cookie } = options;
    super(cookie, 'RedisStorage', []);
    this.prefix = prefix ?? 'rococo:session:';
    this.timeout = timeout ?? 2000;
    if (!(this.timeout > 0))
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `RedisStorage: timeout must be a positive number of ms, got ${timeout}`,
      );
    this.outageLogInterval = outageLogInterval;
    this.outages = new OutageLog(null, 'sessions: Redis', { interval: outageLogInterval });
    this.owned = typeof client === 'string';
    if (typeof client === 'string') {
      if (client === '')
        throw new RococoError(
          'ROCOCO_OPTIONS',
          'RedisStorage: the Redis URL is empty (set REDIS_URL)',
        );
      const { Redis: Client } = require('ioredis') as typeof import('ioredis'); // only apps with Redis sessions load it
      this.client = new Client(client, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: this.timeout,
        commandTimeout: this.timeout,
        // Keep trying to reconnect, at most every 2 s, so sessions come back with Redis.
        retryStrategy: (times) => Math.min(times * 100, 2000),
      });
      // Connection errors reach requests as 503s; unheard, they would crash the process.
      this.client.on('error', () => {});
    } else {
      this.client = client;
    }
  }

  /** A client made from a URL is closed with the app. */
  override setup(app: Application): void {
    this.outages = new OutageLog(app.log, 'sessions: Redis', { interval: this.outageLogInterval });
    app.on('startup', () => this.ready());
    app.on('cleanup', () => this.outages.close());
    if (this.owned)
      app.on('cleanup', () =>
        this.client.quit().then(
          () => undefined,
          () => this.client.disconnect(),
        ),
      );
  }

  /**
   * Startup waits (at most `timeout`) for the connection, so the first requests do not get 503s
   * while it is being made; a Redis that cannot be reached stops startup, as a database does.
   */
  private async ready(): Promise<void> {
    const client = this.client;
    if (client.status === 'ready') return;
    if (client.status === 'wait') client.connect().catch(() => {}); // a lazyConnect client of the user's
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), this.timeout);
      const onReady = () => done(true);
      const done = (v: boolean) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        resolve(v);
      };
      client.on('ready', onReady);
    });
    if (!ok) {
      const { host, port } = client.options;
      throw new RococoError(
        'ROCOCO_REDIS',
        `sessions: Redis at ${host}:${port} did not answer within ${this.timeout} ms; is it running? (REDIS_URL)`,
      );
    }
  }

  async load(req: Request): Promise<Session> {
    const id = req.cookies[this.cookieName];
    // A malformed id never reaches Redis; an unknown one is not adopted (fixation): a new id is made.
    if (id === undefined || !ID.test(id)) return this.fresh();
    const hash = await this.run(() => this.client.hgetall(this.prefix + id));
    const created = Number(hash[CREATED]);
    if (!Number.isFinite(created)) return this.fresh();
    const data: Record<string, unknown> = Object.create(null);
    for (const field of Object.keys(hash)) {
      if (!field.startsWith(DATA)) continue;
      try {
        data[field.slice(DATA.length)] = JSON.parse(hash[field]);
      } catch {
        // a value written by something else: skip it, keep the rest
      }
    }
    return new Session(data, { created, id });
  }

  async save(_req: Request, session: Session): Promise<string> {
    const id = (session.id ??= randomBytes(24).toString('base64url'));
    const key = this.prefix + id;
    const { cleared, set, deleted } = session.changes();
    const multi = this.client.multi();
    if (cleared) multi.del(key);
    const fields: string[] = [CREATED, String(session.created)];
    for (const k of Object.keys(set)) fields.push(DATA + k, JSON.stringify(set[k]));
    multi.hset(key, ...fields);
    if (deleted.length > 0) multi.hdel(key, ...deleted.map((k) => DATA + k));
    multi.pexpire(key, this.maxAge * 1000);
    await this.run(async () => {
      // exec() resolves with each command's own error; a failed one fails the save.
      for (const [err] of (await multi.exec()) ?? []) if (err) throw err;
    });
    return id;
  }

  async destroy(session: Session): Promise<void> {
    if (session.id !== null) await this.run(() => this.client.del(this.prefix + session.id));
  }

  /**
   * A command bounded by `timeout`; any failure is a 503 that says sessions are unavailable (and
   * is logged once an outage, then counted).
   */
  private async run<T>(command: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer from Redis in ${this.timeout} ms`)),
        this.timeout,
      );
    });
    try {
      const answer = await Promise.race([command(), timedOut]);
      if (this.outages.failing) this.outages.ok();
      return answer;
    } catch (err) {
      this.outages.failed(err, 'sessions: Redis failed');
      throw new HTTPServiceUnavailable('Sessions are unavailable for a moment; try again', {
        headers: { 'retry-after': '5' },
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
