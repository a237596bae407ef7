import { trace, type TracerProvider } from '@opentelemetry/api';
import { RococoError } from '../core/errors';
import type { Plugin } from '../core/plugin';
import { traceQueries, traceRenders } from './channels';
import { RequestSpans } from './http';
import { hasContextManager, recordsSpans } from './provider';

/** What {@link tracing} takes. */
export interface TracingOptions {
  /**
   * The provider to trace with: by default the global one (`trace.getTracerProvider()`), which
   * an OpenTelemetry SDK sets when it is registered.
   */
  readonly tracerProvider?: TracerProvider;
}

const OPTION_KEYS = ['tracerProvider'];

/**
 * OpenTelemetry traces: a server span per request, named by its route (`GET
 * /projects/<project_id>`) and continuing an incoming `traceparent`; a child span for each
 * database statement and template render; the trace and span ids on the request's log lines
 * (`trace_id`, `span_id`). Spans go to the tracer provider of the OpenTelemetry SDK, which must
 * be registered before `createApp`: with none, the plugin installs nothing and costs nothing.
 *
 * @example
 * // telemetry.ts, imported before the app is built:
 * const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
 * trace.setGlobalTracerProvider(provider);
 * context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
 * propagation.setGlobalPropagator(new W3CTraceContextPropagator());
 * // app.ts:
 * createApp({ controllers, plugins: [database(), templates({ dir }), tracing()] });
 */
export function tracing(options: TracingOptions = {}): Plugin {
  if (options === null || typeof options !== 'object') fail('tracing(): options must be an object');
  for (const key of Object.keys(options))
    if (!OPTION_KEYS.includes(key))
      fail(`tracing(): unknown option '${key}' (known: ${OPTION_KEYS.join(', ')})`);
  const given = options.tracerProvider;
  if (given !== undefined && typeof (given as Partial<TracerProvider>)?.getTracer !== 'function')
    fail('tracing(): tracerProvider must be a TracerProvider (an object with getTracer())');
  return {
    name: 'tracing',
    setup(app) {
      const tracer = (given ?? trace.getTracerProvider()).getTracer('rococo');
      // Decided once: with no SDK, no hook, middleware or subscription, and routes keep the
      // kernel's direct path. An SDK registered later is not seen (OpenTelemetry's own rule for
      // instrumentations: register it first).
      if (!recordsSpans(tracer)) {
        app.log.debug(
          'tracing(): no OpenTelemetry SDK is registered (before createApp): nothing is traced',
        );
        return;
      }
      if (!hasContextManager())
        app.log.warn(
          'tracing(): no OpenTelemetry context manager is registered: query and render spans will not be children of their request span (register AsyncLocalStorageContextManager)',
        );
      const s = new RequestSpans(tracer);
      app.onRequest((req) => s.start(req));
      app.use((req, next) => s.run(req, next));
      app.onResponse((req, res) => s.end(req, res));
      app.logFields((req) => s.logFields(req));
      app.on('cleanup', traceQueries(app, tracer));
      app.on('cleanup', traceRenders(app, tracer));
    },
  };
}

function fail(message: string): never {
  throw new RococoError('ROCOCO_TRACING', message);
}
