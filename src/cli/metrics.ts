import type { Worker } from 'node:cluster';
import type { Registry } from 'prom-client';
import { setMetricsAggregator } from '../metrics/aggregator';

/** One worker's series, as `registry.getMetricsAsJSON()` gives them (plain JSON, for IPC). */
export type MetricsSnapshot = {
  name: string;
  help: string;
  type: string;
  aggregator: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}[];

/** How long the master waits for the other workers' series; a late one gives its last known. */
export const COLLECT_TIMEOUT_MS = 1000;

/** Metrics messages from a worker to the master. */
export type WorkerMetricsMessage =
  /** A scrape came to this worker: its own series, and a request for everyone's. */
  | { rococo: 'metrics-scrape'; id: number; metrics: MetricsSnapshot }
  /** Its series, as the master asked (`id`). */
  | { rococo: 'metrics'; id: number; metrics: MetricsSnapshot }
  /** Its last series, sent as it stops, after its last request. */
  | { rococo: 'metrics-final'; metrics: MetricsSnapshot };

/** Metrics messages from the master to a worker. */
export type MasterMetricsMessage =
  | { rococo: 'metrics-collect'; id: number }
  | { rococo: 'metrics-result'; id: number; text: string };

type Send = (message: WorkerMetricsMessage) => Promise<void>;

/**
 * A worker's side: scrapes of `app.metrics` answer with every worker's series, which the master
 * sums; the master's requests for this worker's series are answered. Returns what sends the
 * final snapshot as the worker stops; null when the app has no metrics.
 */
export function workerMetrics(app: object, send: Send): (() => Promise<void>) | null {
  const registry = (app as { metrics?: Registry }).metrics;
  if (registry === undefined || typeof registry.getMetricsAsJSON !== 'function') return null;
  const snapshot = () => registry.getMetricsAsJSON() as unknown as Promise<MetricsSnapshot>;
  const waiting = new Map<number, (text: string) => void>();
  let next = 0;
  setMetricsAggregator(registry, async () => {
    const metrics = await snapshot();
    const id = ++next;
    return new Promise<string>((resolve) => {
      // A master that does not answer (busy, or gone) must not hang the scrape: this worker's
      // own series then, which a Prometheus sees as a reset of the sums at worst.
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(registry.metrics());
      }, COLLECT_TIMEOUT_MS * 3);
      waiting.set(id, (text) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(text);
      });
      void send({ rococo: 'metrics-scrape', id, metrics });
    });
  });
  process.on('message', (m: MasterMetricsMessage) => {
    if (m?.rococo === 'metrics-collect')
      void snapshot().then((metrics) => send({ rococo: 'metrics', id: m.id, metrics }));
    else if (m?.rococo === 'metrics-result') waiting.get(m.id)?.(m.text);
  });
  return async () => send({ rococo: 'metrics-final', metrics: await snapshot() });
}

/** What the master knows of one worker for the metrics. */
interface Known {
  worker: Worker;
  /** Its latest series: from the last scrape it answered, or its final snapshot. */
  last: MetricsSnapshot | null;
}

/** A scrape the master is gathering series for. */
interface Gathering {
  gid: number;
  /** The asking worker's own id for the scrape. */
  askId: number;
  asker: Worker;
  fresh: Map<number, MetricsSnapshot>;
  expected: Set<number>;
  timer: NodeJS.Timeout;
}

/**
 * The master's side: gathers every worker's series for a scrape (those that do not answer within
 * {@link COLLECT_TIMEOUT_MS} count with their last known counters), adds what workers that are
 * gone had counted, and sums them with prom-client's `AggregatorRegistry`. Counters and
 * histograms of a replaced or dead worker stay in the sums (from its final snapshot, else its
 * last known one), so that they never decrease and Prometheus' `rate()` sees no reset; its
 * gauges go away with it.
 */
export class MetricsAggregation {
  private readonly known = new Map<number, Known>();
  private readonly gatherings = new Map<number, Gathering>();
  /** The counters and histograms of the workers that are gone, summed. */
  private retired: MetricsSnapshot = [];
  /**
   * What each gone worker added to `retired`: its final snapshot may still be in the IPC pipe when
   * its exit is seen, and then replaces what was added for it.
   */
  private readonly folded = new Map<number, MetricsSnapshot>();
  private next = 0;

  /** A worker serves: it may be asked for its series. */
  add(id: number, worker: Worker): void {
    this.known.set(id, { worker, last: null });
  }

  /** A worker exited: its last counters join the retired sums. */
  remove(id: number): void {
    const k = this.known.get(id);
    this.known.delete(id);
    if (k?.last) this.retire(id, cumulative(k.last));
    for (const g of this.gatherings.values()) {
      g.expected.delete(id);
      this.settleIfDone(g);
    }
  }

  /** A metrics message of a worker's; false when it is not one. */
  onMessage(id: number, worker: Worker, m: WorkerMetricsMessage | { rococo?: unknown }): boolean {
    switch (m.rococo) {
      case 'metrics-final':
        this.remember(id, (m as WorkerMetricsMessage & { rococo: 'metrics-final' }).metrics);
        return true;
      case 'metrics': {
        const { id: gid, metrics } = m as WorkerMetricsMessage & { rococo: 'metrics' };
        this.remember(id, metrics);
        const g = this.gatherings.get(gid);
        if (g !== undefined && g.expected.has(id)) {
          g.fresh.set(id, metrics);
          this.settleIfDone(g);
        }
        return true;
      }
      case 'metrics-scrape': {
        const { id: askId, metrics } = m as WorkerMetricsMessage & { rococo: 'metrics-scrape' };
        this.remember(id, metrics);
        this.gather(id, worker, askId, metrics);
        return true;
      }
    }
    return false;
  }

  private remember(id: number, metrics: MetricsSnapshot): void {
    const k = this.known.get(id);
    if (k !== undefined) k.last = metrics;
    else if (this.folded.has(id)) this.retire(id, cumulative(metrics)); // a final snapshot after the exit
  }

  private retire(id: number, cumulativeSeries: MetricsSnapshot): void {
    const before = this.folded.get(id);
    this.retired = sumSnapshots(
      before === undefined
        ? [this.retired, cumulativeSeries]
        : [this.retired, negated(before), cumulativeSeries],
    );
    this.folded.set(id, cumulativeSeries);
    // Only the last few can still have a message on the way.
    if (this.folded.size > 64) this.folded.delete(this.folded.keys().next().value as number);
  }

  private gather(id: number, asker: Worker, askId: number, own: MetricsSnapshot): void {
    const gid = ++this.next;
    const expected = new Set([...this.known.keys()].filter((k) => k !== id));
    const g: Gathering = {
      gid,
      askId,
      asker,
      fresh: new Map([[id, own]]),
      expected,
      timer: setTimeout(() => this.settle(g), COLLECT_TIMEOUT_MS),
    };
    this.gatherings.set(gid, g);
    for (const other of expected) {
      try {
        this.known.get(other)!.worker.send({ rococo: 'metrics-collect', id: gid });
      } catch {
        expected.delete(other); // gone: its exit follows
      }
    }
    this.settleIfDone(g);
  }

  private settleIfDone(g: Gathering): void {
    if ([...g.expected].every((k) => g.fresh.has(k))) this.settle(g);
  }

  private settle(g: Gathering): void {
    if (!this.gatherings.delete(g.gid)) return;
    clearTimeout(g.timer);
    const parts: MetricsSnapshot[] = [...g.fresh.values(), this.retired];
    let late = 0;
    for (const id of g.expected) {
      if (g.fresh.has(id)) continue;
      late++;
      // It did not answer in time: its counters as last known, so that the sums do not drop.
      const last = this.known.get(id)?.last;
      if (last) parts.push(cumulative(last));
    }
    parts.push(scrapeInfo(g.fresh.size, late));
    const failed = (e: Error) => this.answer(g, `# rococo: aggregation failed: ${e.message}\n`);
    try {
      // Loaded here: a master whose app has no metrics never loads prom-client.
      const { AggregatorRegistry } = require('prom-client') as typeof import('prom-client');
      AggregatorRegistry.aggregate(parts as never)
        .metrics()
        .then((text) => this.answer(g, text), failed);
    } catch (e) {
      failed(e as Error);
    }
  }

  private answer(g: Gathering, text: string): void {
    try {
      g.asker.send({ rococo: 'metrics-result', id: g.askId, text } satisfies MasterMetricsMessage);
    } catch {
      // the asker is gone: nobody waits for this scrape
    }
  }
}

/** The series that only grow (counters, histograms): what a gone worker leaves in the sums. */
function cumulative(snapshot: MetricsSnapshot): MetricsSnapshot {
  return snapshot.filter(
    (m) => (m.type === 'counter' || m.type === 'histogram') && m.aggregator === 'sum',
  );
}

function negated(snapshot: MetricsSnapshot): MetricsSnapshot {
  return snapshot.map((m) => ({ ...m, values: m.values.map((v) => ({ ...v, value: -v.value })) }));
}

/** Snapshots summed series by series (same name, metric name and labels). */
export function sumSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  const out = new Map<string, MetricsSnapshot[number] & { index: Map<string, number> }>();
  for (const snapshot of snapshots) {
    for (const m of snapshot) {
      let into = out.get(m.name);
      if (into === undefined) {
        into = { ...m, values: [], index: new Map() };
        out.set(m.name, into);
      }
      for (const v of m.values) {
        const key = `${v.metricName ?? ''}${JSON.stringify(Object.entries(v.labels).sort())}`;
        const at = into.index.get(key);
        if (at === undefined) {
          into.index.set(key, into.values.length);
          into.values.push({ ...v });
        } else into.values[at].value += v.value;
      }
    }
  }
  return [...out.values()].map(({ index: _index, ...m }) => m);
}

/** How the scrape was made: the workers that answered, and those left at their last known. */
function scrapeInfo(answered: number, late: number): MetricsSnapshot {
  return [
    {
      name: 'rococo_metrics_workers',
      help: 'Workers in this scrape: answered in time, or late (counted with their last known counters and histograms, no gauges)',
      type: 'gauge',
      aggregator: 'first',
      values: [
        { labels: { state: 'answered' }, value: answered },
        { labels: { state: 'late' }, value: late },
      ],
    },
  ];
}
