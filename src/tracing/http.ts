import type { ServerResponse } from 'node:http';
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { HTTPError } from '../core/errors';
import type { Response } from '../core/response';
import type { Request } from '../core/request';

/** The methods the HTTP semantic conventions name; any other is `_OTHER`. */
const METHODS = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'QUERY',
  'TRACE',
]);

/** A request's span, its context (the span active in it) and what failed in it. */
interface Traced {
  readonly span: Span;
  readonly context: Context;
  /** Set when the handler or a middleware threw something other than a 4xx. */
  failed: boolean;
}

/**
 * The server spans of one app's requests (HTTP semantic conventions): started once a request
 * is routed, active around the middlewares and the handler, ended when the response is done.
 *
 * @example
 * const spans = new RequestSpans(tracer);
 * app.onRequest((req) => spans.start(req));
 */
export class RequestSpans {
  private readonly traced = new WeakMap<Request, Traced>();

  constructor(private readonly tracer: Tracer) {}

  /** Starts the request's span, child of the caller's `traceparent` when it sent one. */
  start(req: Request): undefined {
    const known = METHODS.has(req.method);
    const pattern = req.route?.pattern.source;
    const attributes: Attributes = {
      'http.request.method': known ? req.method : '_OTHER',
      'url.path': req.path,
      'url.scheme': req.protocol,
      'client.address': req.ip,
      'network.protocol.version': req.raw.httpVersion,
    };
    if (!known) attributes['http.request.method_original'] = req.method;
    if (pattern !== undefined) attributes['http.route'] = pattern;
    addServer(attributes, req.host);
    const agent = req.headers['user-agent'];
    if (agent !== undefined) attributes['user_agent.original'] = agent;
    const method = known ? req.method : 'HTTP';
    const parent = propagation.extract(context.active(), req.headers);
    const span = this.tracer.startSpan(
      pattern === undefined ? method : `${method} ${pattern}`,
      { kind: SpanKind.SERVER, attributes },
      parent,
    );
    this.traced.set(req, { span, context: trace.setSpan(parent, span), failed: false });
    return undefined;
  }

  /** Runs the middlewares and the handler with the request's span active. */
  run(req: Request, next: () => Promise<Response>): Promise<Response> {
    const t = this.traced.get(req);
    if (t === undefined) return next();
    return context.with(t.context, next).catch((err: unknown) => {
      // A 4xx is the client's mistake, not the server's: no exception on the span.
      if (!(err instanceof HTTPError && err.status < 500)) {
        t.failed = true;
        t.span.recordException(err instanceof Error ? err : String(err));
        t.span.setStatus({
          code: SpanStatusCode.ERROR,
          message: err instanceof Error ? err.message : String(err),
        });
      }
      throw err;
    });
  }

  /** Ends the request's span with its final status; an error for a 5xx or a cut-short response. */
  end(req: Request, res: ServerResponse): void {
    const t = this.traced.get(req);
    if (t === undefined) return;
    const span = t.span;
    const status = res.statusCode;
    span.setAttribute('http.response.status_code', status);
    if (!res.writableFinished) {
      span.setAttribute('error.type', 'aborted');
      if (!t.failed)
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: 'the client went away before the response was done',
        });
    } else if (status >= 500) {
      span.setAttribute('error.type', String(status));
      if (!t.failed) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  /**
   * The ids on the request's log lines, under the names of OpenTelemetry's "trace context in
   * non-OTLP log formats" (those of its pino instrumentation, and what collectors parse).
   */
  logFields(req: Request): Record<string, string> | undefined {
    const t = this.traced.get(req);
    if (t === undefined) return undefined;
    const ids = t.span.spanContext();
    return {
      trace_id: ids.traceId,
      span_id: ids.spanId,
      trace_flags:
        ids.traceFlags < 16 ? `0${ids.traceFlags.toString(16)}` : ids.traceFlags.toString(16),
    };
  }
}

/** `server.address` and `server.port` from the host the client asked for (`[::1]:8080`). */
function addServer(attributes: Attributes, host: string): void {
  if (host === '') return;
  const colon = host.lastIndexOf(':');
  const bracket = host.lastIndexOf(']');
  const name = colon === -1 || colon < bracket ? host : host.slice(0, colon);
  attributes['server.address'] = name.startsWith('[') ? name.slice(1, -1) : name;
  if (name === host) return;
  const port = Number(host.slice(colon + 1));
  if (Number.isInteger(port) && port > 0) attributes['server.port'] = port;
}
