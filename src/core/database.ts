import { AsyncLocalStorage } from 'node:async_hooks';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { Logger } from 'pino';
import { HTTPNotFound, HTTPServiceUnavailable, RococoError } from './errors';
import { SqlQuery } from './sql';

/** Options of the database engine: `createApp({ database })`. Unknown keys are refused. */
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
   * Client-side limit on a query's answer, in ms (30000): a connection whose network froze
   * without closing would otherwise wait forever. Over it, the query is a 503.
   */
  queryTimeout?: number;
  /** A folder of `.sql` migrations. */
  migrations?: string;
  /** Apply `migrations` at startup (false). */
  migrate?: boolean;
}

/** The keys {@link DatabaseOptions} accepts. */
export const DATABASE_OPTION_KEYS = ['url', 'max', 'connectionTimeoutMillis', 'statementTimeout', 'queryTimeout', 'migrations', 'migrate'];

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
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);

function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return typeof e?.message === 'string' && /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/.test(e.message);
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

// Statements on one connection go one after the other: pg queues them itself, but warns that
// pg 9 will not.
const lanes = new WeakMap<PoolClient, Promise<unknown>>();

function exec<T extends QueryResultRow>(client: PoolClient, text: string, values?: unknown[]) {
  const run = (lanes.get(client) ?? Promise.resolve()).then(() => client.query<T>(text, values));
  lanes.set(client, run.catch(() => undefined));
  return run;
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

  /** @internal The application builds it from its options. */
  constructor(pool: Pool, log: Logger | null, frame: Frame | null = null) {
    this.pool = pool;
    this.log = log;
    this.frame = frame;
  }

  /** A pool for `url` whose idle-connection errors are logged, never thrown. */
  static create(options: DatabaseOptions & { url: string }, log: Logger | null): Database {
    // Required here, not at the top: an app without a database never loads pg.
    const { Pool } = require('pg') as typeof import('pg');
    const pool = new Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
      query_timeout: options.queryTimeout ?? 30_000,
      // TCP keep-alive finds a dead peer on an idle connection the OS would otherwise trust.
      keepAlive: true,
      ...(options.statementTimeout === undefined ? {} : { statement_timeout: options.statementTimeout }),
    });
    // An idle client's connection dies when the server restarts: pg emits it here, and an
    // 'error' event without a listener would end the process.
    pool.on('error', (err) => log?.warn({ err }, 'an idle database connection failed; the pool replaces it'));
    return new Database(pool, log);
  }

  /** Rows of a query (none is fine). */
  async query<T extends QueryResultRow = QueryResultRow>(q: Query): Promise<T[]> {
    const text = typeof q === 'string' ? q : q.text;
    const values = typeof q === 'string' ? undefined : (q.values as unknown[]);
    try {
      const result = this.frame === null ? await this.pool.query<T>(text, values) : await exec<T>(this.frame.client, text, values);
      return result.rows;
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  /** Exactly one row: none is a {@link NoRowsError} (404), several a {@link TooManyRowsError}. */
  async one<T extends QueryResultRow = QueryResultRow>(q: Query): Promise<T> {
    const rows = await this.query<T>(q);
    if (rows.length === 0) throw new NoRowsError();
    if (rows.length > 1) throw new TooManyRowsError(rows.length);
    return rows[0];
  }

  /** One row or null; several are a {@link TooManyRowsError}. */
  async maybeOne<T extends QueryResultRow = QueryResultRow>(q: Query): Promise<T | null> {
    const rows = await this.query<T>(q);
    if (rows.length > 1) throw new TooManyRowsError(rows.length);
    return rows.length === 0 ? null : rows[0];
  }

  /** At least one row, else a {@link NoRowsError} (404). Use `query()` when none is fine. */
  async many<T extends QueryResultRow = QueryResultRow>(q: Query): Promise<T[]> {
    const rows = await this.query<T>(q);
    if (rows.length === 0) throw new NoRowsError();
    return rows;
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
      await client.query('BEGIN');
      // No frames.run() here: the context is needed only inside savepoints, and entering an
      // AsyncLocalStorage turns on node's promise hooks for the whole process.
      const frame: Frame = { client, depth: 1, queue: Promise.resolve(), parent: frames.getStore() };
      const result = await fn(new Database(this.pool, this.log, frame));
      await exec(client, 'COMMIT');
      return result;
    } catch (err) {
      try {
        await exec(client, 'ROLLBACK');
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
    await exec(client, `SAVEPOINT ${name}`);
    try {
      const frame: Frame = { client, depth: level.depth + 1, queue: Promise.resolve(), parent: level };
      const result = await frames.run(frame, () => fn(new Database(this.pool, this.log, frame)));
      await exec(client, `RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await exec(client, `ROLLBACK TO SAVEPOINT ${name}`);
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
      throw new RococoError('ROCOCO_DATABASE', `cannot reach PostgreSQL at ${describeUrl(o.connectionString ?? '')}: ${(err as Error).message}`);
    }
  }

  /** Closes every connection; the app's cleanup calls it. */
  async close(): Promise<void> {
    await this.pool.end();
  }

  private unavailable(err: unknown): unknown {
    if (!isUnavailable(err)) return err;
    this.log?.warn({ err }, 'database unavailable');
    return new HTTPServiceUnavailable('The database is unavailable; try again shortly', { headers: { 'retry-after': '5' } });
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
