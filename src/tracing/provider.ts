import {
  context,
  createContextKey,
  ROOT_CONTEXT,
  trace,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api';

// A made-up remote parent that asked not to be sampled: see recordsSpans().
const PROBE_PARENT = {
  traceId: '5b8efff798038103d269b633813fc60c',
  spanId: 'eee19b7ec3c1b174',
  traceFlags: TraceFlags.NONE,
  isRemote: true,
};

/**
 * Whether `tracer` comes from an SDK, or from the API's no-op (the global provider before an
 * SDK is registered). Asked once, at setup, through the public API alone: the API's
 * `ProxyTracerProvider` and its `getDelegate()` are deprecated, and `instanceof` fails when the
 * SDK brought its own copy of `@opentelemetry/api`. The no-op tracer hands back the parent's own
 * span context for a child; an SDK makes a new span id, even for a span it does not sample. The
 * parent is not sampled, so that a parent-based sampler (the SDK's default) makes no span, and
 * span processors see nothing.
 *
 * @example
 * if (!recordsSpans(trace.getTracer('rococo'))) return; // no SDK: install nothing
 */
export function recordsSpans(tracer: Tracer): boolean {
  const parent = trace.setSpanContext(ROOT_CONTEXT, PROBE_PARENT);
  const probe = tracer.startSpan('rococo.probe', {}, parent);
  const made = probe.spanContext();
  return made.spanId !== PROBE_PARENT.spanId && trace.isSpanContextValid(made);
}

const PROBE_KEY = createContextKey('rococo.tracing.probe');

/**
 * Whether a context manager is registered (`AsyncLocalStorageContextManager`, as NodeSDK
 * registers): without one, `context.with()` does nothing, and a query's span cannot find its
 * request's.
 *
 * @example
 * if (!hasContextManager()) app.log.warn('spans of queries will not find their request span');
 */
export function hasContextManager(): boolean {
  const probe = ROOT_CONTEXT.setValue(PROBE_KEY, true);
  return context.with(probe, () => context.active() === probe);
}
