import type { MetricValueWithName } from 'prom-client';

/** Upper bounds of request durations, in seconds (prom-client's defaults, and 30 s for slow ones). */
export const DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Upper bounds of body sizes, in bytes: 64 B to 16 MiB, by fours. */
export const SIZE_BUCKETS: readonly number[] = [
  64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216,
];

/**
 * One series of a {@link LeanHistogram}: its label values fixed once, so that an observation
 * is a bucket search and three additions (prom-client's `histogram.labels(...).observe()`
 * hashes the labels again on every call).
 */
export class HistogramSeries {
  /** Observations per bucket, not cumulative; the last slot is `+Inf`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A histogram that a prom-client `Registry` exposes like its own (`registry.registerMetric`:
 * it has `name`, `help`, `type`, `aggregator` and `get()`), with series made once per label
 * values and kept by the caller: the per-request path allocates nothing.
 *
 * @example
 * const h = new LeanHistogram('job_seconds', 'Job durations', ['job'], DURATION_BUCKETS);
 * registry.registerMetric(h as never);
 * const nightly = h.series({ job: 'nightly' });
 * nightly.observe(1.2);
 */
export class LeanHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly bounds: readonly number[],
  ) {}

  /** The series of these label values (made on first use): keep it, and observe on it. */
  series(labels: Readonly<Record<string, string>>): HistogramSeries {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let s = this.all.get(key);
    if (s === undefined) {
      s = new HistogramSeries(labels, this.bounds);
      this.all.set(key, s);
    }
    return s;
  }

  /** What prom-client's registry renders: buckets (cumulative), `_sum` and `_count` per series. */
  get(): {
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: MetricValueWithName<string>[];
  } {
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.all.values()) {
      let acc = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        acc += s.counts[i];
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { ...s.labels, le: i < this.bounds.length ? this.bounds[i] : '+Inf' },
          value: acc,
        });
      }
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  /** `registry.resetMetrics()`: every series back to zero (the series objects stay valid). */
  reset(): void {
    for (const s of this.all.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
