import { AsyncLocalStorage } from 'node:async_hooks';
import { tracingChannel } from 'node:diagnostics_channel';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { Logger } from 'pino';
import { HTTPNotFound, HTTPServiceUnavailable, RococoError } from '../core/errors';
import { providedByPlugin } from '../core/provided';
import { OutageLog } from '../core/outage-log';
import { SqlQuery } from './sql';

/** Options of the database engine: the `database()` plugin's. Unknown keys are refused. */
export interface DatabaseOptions {
  /** `postgres://user:password@host:port/database`; defaults to `settings.DATABASE_URL`. */
  url?: string;
  /** Largest number of connections in the pool (10). */
  max?: number;
  /** How long a query waits for a connection before it is a 503, in ms (5000). */
  connectionTimeoutMillis?: number;
  /** Server-side `statement_timeout` of every connection, in ms (none). */
  statementTimeout?: number;
  /**
   * Client-side limit on a query's answer, in ms (30000; 0 for none): a connection whose
   * network froze without closing would otherwise wait forever. Over it, the connection is
   * cut and the query is a 503.
   */
  queryTimeout?: number;
  /** A folder of `.sql` migrations. */
  migrations?: string;
  /** Apply `migrations` at startup (false). */
  migrate?: boolean;
  /**
   * While the server is unreachable, at most one log line per kind of failure in this many ms
   * (10000): the first failure is logged with its stack, the rest counted; see {@link OutageLog}.
   */
  outageLogInterval?: number;
}

/** The keys {@link DatabaseOptions} accepts. */
export const DATABASE_OPTION_KEYS = [
  'url',
  'max',
  'connectionTimeoutMillis',
  'statementTimeout',
  'queryTimeout',
  'migrations',
  'migrate',
  'outageLogInterval',
];

/** `one()` or `many()` found no row: a 404 when it reaches the client. */
export class NoRowsError extends HTTPNotFound {}

/** `one()` or `maybeOne()` found more than one row: a bug in the query, so a 500. */
export class TooManyRowsError extends Error {
  constructor(count: number) {
    super(`Expected at most one row, got ${count}`);
    this.name = 'TooManyRowsError';
  }
}

// Errors that mean "the server is not there", as opposed to "the query is wrong".
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08')))
    return true;
  return (
    typeof e?.message === 'string' &&
    /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/.test(
      e.message,
    )
  );
}

type Query = SqlQuery | string;

/**
 * One level of a transaction on one connection: the savepoints opened at this level queue on
 * `queue`, since savepoints are a stack and two open side by side would release each other.
 */
interface Frame {
  client: PoolClient;
  depth: number;
  queue: Promise<unknown>;
  parent: Frame | undefined;
}

// The savepoint a piece of code runs in, so that `tx.transaction()` called from inside a nested
// callback nests under that callback's savepoint instead of waiting behind it (a deadlock).
// Only savepoint callbacks run in it: apps that never nest never pay for async context.
const frames = new AsyncLocalStorage<Frame>();

/** What the `rococo:database:query` channel publishes for a statement. */
export interface QueryMessage {
  /** The statement's text with its `$n` placeholders: never the values. */
  readonly text: string;
  /** The pool of the engine that runs it: tells one app's database from another's. */
  readonly pool: Pool;
  /** Set by the channel: the statement's failure, when it failed. */
  error?: unknown;
}

/**
 * Every statement the engine runs, as a `diagnostics_channel` TracingChannel (start, end,
 * asyncStart, asyncEnd, error): how tracing and metrics see queries without the engine knowing
 * them. `start` runs in the caller's async context. Without subscribers a query pays one check.
 */
export const queryChannel = tracingChannel<unknown, QueryMessage>('rococo:database:query');

/**
 * A promise of this realm: node's TracingChannel makes its promises in node's own, which
 * `instanceof Promise` does not see where the global Promise is another (jest's sandbox), so a
 * handler returning a query unawaited would look like a plain value to the kernel.
 */
function ownPromise<R>(p: Promise<R>): Promise<R> {
  return p instanceof Promise ? p : Promise.resolve(p);
}

/** `run()`, published on {@link queryChannel} when someone listens. */
function traced<R>(pool: Pool, text: string, run: () => Promise<R>): Promise<R> {
  return queryChannel.hasSubscribers
    ? ownPromise(queryChannel.tracePromise(run, { text, pool }))
    : run();
}

// Statements on one connection go one after the other: pg queues them itself, but warns that
// pg 9 will not.
const lanes = new WeakMap<PoolClient, Promise<unknown>>();

function exec<T extends QueryResultRow>(
  dog: Watchdog | null,
  pool: Pool,
  client: PoolClient,
  text: string,
  values?: unknown[],
) {
  const run = (lanes.get(client) ?? Promise.resolve()).then(() =>
    traced(pool, text, () => watched(dog, client, client.query<T>(text, values))),
  );
  lanes.set(
    client,
    run.catch(() => undefined),
  );
  return run;
}

/**
 * Bounds how long a query may wait for its answer. pg's own `query_timeout` arms a timer per
 * query (measured: 13k instructions, about 3% of a one-query request); here one timer a pool
 * sweeps the queries in flight and cuts the connection of one that waited too long, which
 * fails it like any dead connection (a 503).
 */
class Watchdog {
  private readonly started = new Map<PoolClient, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly limit: number) {}

  start(client: PoolClient): void {
    this.started.set(client, Date.now());
    if (this.timer === null) {
      this.timer = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, this.limit / 4)));
      this.timer.unref();
    }
  }

  stop(client: PoolClient): void {
    this.started.delete(client);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [client, at] of this.started) {
      if (now - at < this.limit) continue;
      this.started.delete(client);
      // pg keeps its socket here; destroying it fails the pending query at once.
      (
        client as unknown as { connection: { stream: { destroy(): void } } }
      ).connection.stream.destroy();
    }
    if (this.started.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}

function watched<T>(dog: Watchdog | null, client: PoolClient, query: Promise<T>): Promise<T> {
  if (dog === null) return query;
  dog.start(client);
  return query.finally(() => dog.stop(client));
}

const ignore = (): void => {};

const rowsAsThey = <T>(rows: T[]): T[] => rows;

function exactlyOne<T>(rows: T[]): T {
  if (rows.length === 0) throw new NoRowsError();
  if (rows.length > 1) throw new TooManyRowsError(rows.length);
  return rows[0];
}

function oneOrNone<T>(rows: T[]): T | null {
  if (rows.length > 1) throw new TooManyRowsError(rows.length);
  return rows.length === 0 ? null : rows[0];
}

function someRows<T>(rows: T[]): T[] {
  if (rows.length === 0) throw new NoRowsError();
  return rows;
}

/**
 * The database engine (aiopg's role): a pg pool, queries built with the `sql` tag, and
 * transactions. Inject it into controllers and services; `req.app.database` reaches it too.
 *
 * @example
 * const projects = await db.query<Project>(sql`SELECT * FROM projects ORDER BY id`);
 * await db.transaction(async (tx) => { await tx.query(sql`...`); await tx.query(sql`...`); });
 */
export class Database {
  /** The pg pool, for what the engine does not wrap. */
  readonly pool: Pool;
  private readonly frame: Frame | null;
  private readonly log: Logger | null;
  private readonly dog: Watchdog | null;
  /** The engine's, shared by its transactions: one outage is logged once, not per request. */
  private readonly outages: OutageLog;
  private readonly fail: (err: unknown) => never;

  /** @internal The application builds it from its options. */
  constructor(
    pool: Pool,
    log: Logger | null,
    frame: Frame | null = null,
    dog: Watchdog | null = null,
    outages = new OutageLog(log, 'database'),
  ) {
    this.pool = pool;
    this.log = log;
    this.frame = frame;
    this.dog = dog;
    this.outages = outages;
    this.fail = (err) => {
      throw this.unavailable(err);
    };
  }

  /** A pool for `url` whose idle-connection errors are logged, never thrown. */
  static create(options: DatabaseOptions & { url: string }, log: Logger | null): Database {
    // Required here, not at the top: an app without a database never loads pg.
    const { Pool } = require('pg') as typeof import('pg');
    const pool = new Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
      // TCP keep-alive finds a dead peer on an idle connection the OS would otherwise trust.
      keepAlive: true,
      ...(options.statementTimeout === undefined
        ? {}
        : { statement_timeout: options.statementTimeout }),
    });
    const outages = new OutageLog(log, 'database', { interval: options.outageLogInterval });
    // An idle client's connection dies when the server restarts: pg emits it here, and an
    // 'error' event without a listener would end the process. Every idle connection dies at
    // once then: one outage, logged as such.
    pool.on('error', (err) =>
      outages.failed(err, 'an idle database connection failed; the pool replaces it'),
    );
    // pg-pool listens for errors only while a connection is idle: one that dies while checked
    // out emits 'error' too, after failing its query. The query's failure is what counts.
    pool.on('connect', (client) => client.on('error', ignore));
    const limit = options.queryTimeout ?? 30_000;
    return new Database(pool, log, null, limit > 0 ? new Watchdog(limit) : null, outages);
  }

  /** Rows of a query (none is fine). */
  query<T extends QueryResultRow = QueryResultRow>(q: Query): Promise<T[]> {
    return this.run<T, T[]>(q, rowsAsThey);
  }

  /** Exactly one row: none is a {@link NoRowsError} (404), several a {@link TooManyRowsError}. */
  one<T extends QueryResultRow = QueryResultRow>(q: Query): Promise<T> {
    return this.run<T, T>(q, exactlyOne);
  }

  /** One row or null; several are a {@link TooManyRowsError}. */
  maybeOne<T extends QueryResultRow = QueryResultRow>(q: Query): Promise<T | null> {
    return this.run<T, T | null>(q, oneOrNone);
  }

  /** At least one row, else a {@link NoRowsError} (404). Use `query()` when none is fine. */
  many<T extends QueryResultRow = QueryResultRow>(q: Query): Promise<T[]> {
    return this.run<T, T[]>(q, someRows);
  }

  /**
   * A query's rows, shaped by `shape` (which may throw). Outside a transaction, pg's callback
   * API under a single promise: pool.connect() and client.query() as promises, the watchdog's
   * finally() and a then() per layer made six promises a query (/db: 61-62 µs of server CPU a
   * request, now 52-54; Fastify's pool.query() 56-63).
   */
  private run<T extends QueryResultRow, R>(q: Query, shape: (rows: T[]) => R): Promise<R> {
    const text = typeof q === 'string' ? q : q.text;
    const values = typeof q === 'string' ? undefined : (q.values as unknown[]);
    if (this.frame === null && queryChannel.hasSubscribers)
      return ownPromise(
        queryChannel.tracePromise(() => this.pooled(text, values, shape), {
          text,
          pool: this.pool,
        }),
      );
    if (this.frame !== null)
      return exec<T>(this.dog, this.pool, this.frame.client, text, values).then(
        (result) => shape(result.rows),
        this.fail,
      );
    return this.pooled(text, values, shape);
  }

  /** A query outside a transaction: on a connection of the pool's, given back at once. */
  private pooled<T extends QueryResultRow, R>(
    text: string,
    values: unknown[] | undefined,
    shape: (rows: T[]) => R,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pool.connect((err, client, release) => {
        if (err !== undefined && err !== null) return reject(this.unavailable(err));
        const c = client as PoolClient;
        this.dog?.start(c);
        c.query<T>(text, values as unknown[], (error, result) => {
          this.dog?.stop(c);
          if (error !== undefined && error !== null) {
            // A connection that failed is dropped; one that ran a wrong query goes back.
            release(isUnavailable(error) ? error : undefined);
            return reject(this.unavailable(error));
          }
          release();
          if (this.outages.failing) this.outages.ok();
          try {
            resolve(shape(result.rows));
          } catch (e) {
            reject(e);
          }
        });
      });
    });
  }

  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. Called
   * on the `tx` it gives, it nests with a savepoint, so an inner failure undoes only its part.
   */
  async transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T> {
    if (this.frame !== null) return this.savepoint(this.frame, fn);
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.unavailable(err);
    }
    let broken: Error | undefined;
    // A checked-out client has no error listener in pg-pool: a connection that dies between
    // two queries of this transaction would otherwise end the process.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await traced(this.pool, 'BEGIN', () => client.query('BEGIN'));
      if (this.outages.failing) this.outages.ok();
      // No frames.run() here: the context is needed only inside savepoints, and entering an
      // AsyncLocalStorage turns on node's promise hooks for the whole process.
      const frame: Frame = {
        client,
        depth: 1,
        queue: Promise.resolve(),
        parent: frames.getStore(),
      };
      const result = await fn(new Database(this.pool, this.log, frame, this.dog, this.outages));
      await exec(this.dog, this.pool, client, 'COMMIT');
      return result;
    } catch (err) {
      try {
        await exec(this.dog, this.pool, client, 'ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error; // the connection is gone: do not give it back
      }
      throw this.unavailable(err);
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  /** Queues a savepoint behind its siblings: at the level the caller runs in, on this connection. */
  private savepoint<T>(own: Frame, fn: (tx: Database) => Promise<T>): Promise<T> {
    let parent = frames.getStore();
    while (parent !== undefined && parent.client !== own.client) parent = parent.parent;
    const level = parent ?? own;
    const run = level.queue.then(() => this.runSavepoint(level, fn));
    level.queue = run.catch(() => undefined);
    return run;
  }

  private async runSavepoint<T>(level: Frame, fn: (tx: Database) => Promise<T>): Promise<T> {
    const name = `rococo_sp_${level.depth}`;
    const { client } = level;
    await exec(this.dog, this.pool, client, `SAVEPOINT ${name}`);
    try {
      const frame: Frame = {
        client,
        depth: level.depth + 1,
        queue: Promise.resolve(),
        parent: level,
      };
      const result = await frames.run(frame, () =>
        fn(new Database(this.pool, this.log, frame, this.dog, this.outages)),
      );
      await exec(this.dog, this.pool, client, `RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await exec(this.dog, this.pool, client, `ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    }
  }

  /**
   * Checks that the server answers; startup calls it so that a wrong URL or a stopped server
   * fails at once, with host, port and database (never the password) in the message.
   */
  async check(): Promise<void> {
    try {
      await this.pool.query('SELECT 1');
    } catch (err) {
      const o = this.pool.options as { connectionString?: string };
      throw new RococoError(
        'ROCOCO_DATABASE',
        `cannot reach PostgreSQL at ${describeUrl(o.connectionString ?? '')}: ${(err as Error).message}`,
      );
    }
  }

  /** Closes every connection; the app's cleanup calls it. */
  async close(): Promise<void> {
    this.outages.close();
    await this.pool.end();
  }

  /** A 503 for a server that is not there (logged once an outage, then counted); other errors as they are. */
  private unavailable(err: unknown): unknown {
    if (!isUnavailable(err)) return err;
    this.outages.failed(err, 'database unavailable');
    return new HTTPServiceUnavailable('The database is unavailable; try again shortly', {
      headers: { 'retry-after': '5' },
    });
  }
}

/** `host:port/database` of a connection URL, without user or password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}/${decodeURIComponent(u.pathname.slice(1))}`;
  } catch {
    return '(an invalid DATABASE_URL)';
  }
}

providedByPlugin(Database, 'database');
