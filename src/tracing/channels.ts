import { tracingChannel } from 'node:diagnostics_channel';
import {
  context,
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { Application } from '../core/application';
import { HTTPError } from '../core/errors';
import type { QueryMessage } from '../database/database';
import type { RenderMessage } from '../templates/templates';
import { statementOf } from './statements';

/** The channels the database and the templates publish on (their modules name them too). */
const QUERY_CHANNEL = 'rococo:database:query';
const RENDER_CHANNEL = 'rococo:templates:render';

/** The handlers of a TracingChannel, as node's types spell them. */
type Handlers<M extends object> = Parameters<
  ReturnType<typeof tracingChannel<unknown, M>>['subscribe']
>[0];

/**
 * A span for each of the app's statements, child of the active span (the request's): the
 * database publishes `start` in the caller's async context. Channels are process-wide, so only
 * the app's own pool's statements count. Returns the unsubscription, for the app's cleanup.
 *
 * @example
 * app.on('cleanup', traceQueries(app, tracer));
 */
export function traceQueries(app: Application, tracer: Tracer): () => void {
  let server: Attributes | undefined;
  return subscribe<QueryMessage>(QUERY_CHANNEL, true, {
    start(message) {
      const db = app.database;
      if (db === undefined || message.pool !== db.pool) return undefined;
      server ??= serverOf(db.pool.options);
      const { operation, summary } = statementOf(message.text);
      return tracer.startSpan(
        summary,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'db.system.name': 'postgresql',
            'db.query.text': message.text,
            'db.query.summary': summary,
            'db.operation.name': operation,
            ...server,
          },
        },
        context.active(),
      );
    },
    failed(span, err) {
      const code = (err as { code?: unknown } | null)?.code;
      // PostgreSQL's SQLSTATE, when the server refused the statement.
      if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
      span.setAttribute('error.type', typeof code === 'string' ? code : errorType(err));
    },
  });
}

/**
 * A span for each of the app's template renders (`render project.html`), child of the active
 * span; only this app's engine's renders.
 *
 * @example
 * app.on('cleanup', traceRenders(app, tracer));
 */
export function traceRenders(app: Application, tracer: Tracer): () => void {
  return subscribe<RenderMessage>(RENDER_CHANNEL, false, {
    start(message) {
      if (app.templates === undefined || message.engine !== app.templates) return undefined;
      return tracer.startSpan(
        `render ${message.name}`,
        { kind: SpanKind.INTERNAL, attributes: { 'rococo.template.name': message.name } },
        context.active(),
      );
    },
    failed(span, err) {
      span.setAttribute('error.type', errorType(err));
    },
  });
}

/**
 * Subscribes to a TracingChannel whose message is `M`: `start` makes the span (or none), kept
 * with the message; the span ends at `asyncEnd` for promises (`async`), or at `end` for
 * synchronous work and for a promise-returning function that threw before it returned one.
 */
function subscribe<M extends { error?: unknown }>(
  name: string,
  async: boolean,
  on: { start(message: M): Span | undefined; failed(span: Span, err: unknown): void },
): () => void {
  const spans = new WeakMap<M, Span>();
  const finish = (message: M) => {
    const span = spans.get(message);
    if (span === undefined) return;
    spans.delete(message);
    span.end();
  };
  const channel = tracingChannel<unknown, M>(name);
  const handlers: Handlers<M> = {
    start(message) {
      const span = on.start(message);
      if (span !== undefined) spans.set(message, span);
    },
    end(message) {
      // A promise's work ends at asyncEnd, unless it threw before it returned one: then it has
      // its error already, and no asyncEnd follows.
      if (!async || message.error !== undefined) finish(message);
    },
    asyncStart() {},
    asyncEnd: finish,
    error(message) {
      const span = spans.get(message);
      if (span === undefined) return;
      const err = message.error;
      // one() finding no row is the app's 404, not a failed statement.
      if (err instanceof HTTPError && err.status < 500) return;
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      on.failed(span, err);
    },
  };
  channel.subscribe(handlers);
  return () => channel.unsubscribe(handlers);
}

function errorType(err: unknown): string {
  return err instanceof Error ? err.constructor.name : typeof err;
}

/** `server.address`, `server.port` and `db.namespace` from pg's pool options, read once. */
function serverOf(options: {
  connectionString?: string;
  host?: string;
  port?: number;
  database?: string;
}): Attributes {
  let host = options.host;
  let port: number | undefined = options.port;
  let database = options.database;
  if (options.connectionString !== undefined) {
    try {
      const url = new URL(options.connectionString);
      host ??= decodeURIComponent(url.hostname) || undefined;
      port ??= url.port === '' ? undefined : Number(url.port);
      database ??= decodeURIComponent(url.pathname.slice(1)) || undefined;
    } catch {
      // A connection string pg reads but URL does not (a socket path): no server attributes.
    }
  }
  const out: Attributes = {};
  if (host !== undefined) out['server.address'] = host;
  if (port !== undefined) out['server.port'] = port;
  if (database !== undefined) out['db.namespace'] = database;
  return out;
}
