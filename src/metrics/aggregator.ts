import type { Registry } from 'prom-client';

/**
 * What answers a scrape instead of the registry alone: under `rococo serve -w N`, the worker's
 * way to ask the master for every worker's series, summed. The metrics plugin knows only that
 * one may be set.
 */
export type MetricsAggregator = (registry: Registry) => Promise<string>;

const aggregators = new WeakMap<Registry, MetricsAggregator>();

/**
 * Makes `registry`'s scrapes answer with `aggregate(registry)` (null: the registry alone again).
 * `rococo serve` sets it in each worker for `app.metrics`.
 *
 * @example
 * setMetricsAggregator(app.metrics, async (registry) => askTheMaster(await registry.getMetricsAsJSON()));
 */
export function setMetricsAggregator(
  registry: Registry,
  aggregate: MetricsAggregator | null,
): void {
  if (aggregate === null) aggregators.delete(registry);
  else aggregators.set(registry, aggregate);
}

/** The exposition text of a scrape: the aggregate when one is set, else the registry's own. */
export function exposition(registry: Registry): Promise<string> {
  const aggregate = aggregators.get(registry);
  return aggregate === undefined ? registry.metrics() : aggregate(registry);
}
