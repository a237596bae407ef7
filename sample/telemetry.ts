import { context, propagation, trace } from '@opentelemetry/api';

let registered = false;

/**
 * OpenTelemetry's SDK for the sample, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (a collector,
 * Jaeger or Tempo: `http://localhost:4318`): spans batched to it over OTLP/HTTP, under the
 * service name `OTEL_SERVICE_NAME` (`rococo-sample`). Called before the app is built, since
 * `tracing()` looks for the SDK once, at setup; once per process. Returns a function that
 * flushes and stops it (for the app's cleanup), or null when nothing was started. The SDK's
 * packages load only when it starts.
 *
 * @example
 * const stop = startTelemetry();
 * const app = createSampleApp(settings);
 * if (stop !== null) app.on('cleanup', stop);
 */
export function startTelemetry(
  env: Record<string, string | undefined> = process.env,
): (() => Promise<void>) | null {
  if (registered || !env.OTEL_EXPORTER_OTLP_ENDPOINT) return null;
  registered = true;
  const { BasicTracerProvider, BatchSpanProcessor } =
    require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { AsyncLocalStorageContextManager } =
    require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator } =
    require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const { resourceFromAttributes } =
    require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME ?? 'rococo-sample',
    }),
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _HEADERS) itself.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return () => provider.shutdown();
}
