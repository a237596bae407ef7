import type { Logger } from 'pino';
import { RococoError } from './errors';

/** Options of an {@link OutageLog}. */
export interface OutageLogOptions {
  /** At most one line per kind of failure in this many ms while an outage lasts (10000). */
  interval?: number;
}

/** One kind of failure (a message and an error code) counted since the last line about it. */
interface Pending {
  msg: string;
  kind: string;
  count: number;
}

// A success this soon after a failure may be a request that was under way before it: "back" is
// said once this long has passed without a failure.
const SETTLE_MS = 1000;
// At most this many count lines an interval (error messages with ids in them): the rest share one.
const MAX_KINDS = 10;
const OTHER = 'other';

/**
 * Logs the failures of a dependency (a database, Redis, an API) so that an outage stays readable
 * at any request rate: its first failure in full, with the error and its stack; then at most one
 * line per kind of failure (message and error code) per `interval`, with how many there were;
 * and an `info` line "<name> is back" with the outage's length (to the first success) and count,
 * once a second has passed after that success without a failure (a request under way when the
 * outage began may still succeed). An outage that comes back within an interval of its end is
 * the same outage (counted, no second stack), so a dependency that flaps is bounded too. State
 * is per instance: make one per dependency, not per request.
 *
 * Its cost on the success path is one field check: call `ok()` or test `failing` first.
 *
 * @example
 * const outages = new OutageLog(app.log, 'payments API');
 * try {
 *   const answer = await fetch(url);
 *   outages.ok();
 *   return answer;
 * } catch (err) {
 *   outages.failed(err, 'payments API unreachable', { url });
 *   throw new HTTPServiceUnavailable('Payments are unavailable; try again shortly');
 * }
 */
export class OutageLog {
  /** Whether the last thing heard was a failure. Read it; do not set it. */
  failing = false;
  private readonly interval: number;
  /** When the outage on record began; 0: none on record. */
  private started = 0;
  private failures = 0;
  /** When the last line about failures was written, or the outage began. */
  private lastCounts = 0;
  private readonly pending = new Map<string, Pending>();
  /** The first success since the last failure; 0: none. */
  private upAt = 0;
  /** When this outage's last "is back" line was written; 0: none yet. */
  private lastBack = 0;
  private timer: NodeJS.Timeout | null = null;
  private settling: NodeJS.Timeout | null = null;

  /** `name` says what failed in the "is back" line: `database`, `sessions: Redis`. */
  constructor(
    private readonly log: Logger | null,
    readonly name: string,
    options: OutageLogOptions = {},
  ) {
    const interval = options.interval ?? 10_000;
    if (!(typeof interval === 'number' && interval > 0 && Number.isFinite(interval))) {
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${name}: the outage log interval must be a positive number of ms, got ${String(options.interval)}`,
      );
    }
    this.interval = interval;
  }

  /**
   * A failure: logged at `warn` as `msg` with `err` and `fields` when it begins an outage;
   * otherwise counted under `msg` and the error's code (or message), and reported with the
   * others of its kind at the end of the interval.
   */
  failed(err: unknown, msg: string, fields?: Record<string, unknown>): void {
    const now = Date.now();
    this.failing = true;
    this.upAt = 0;
    if (this.started === 0) {
      this.started = now;
      this.lastCounts = now;
      this.failures = 1;
      this.lastBack = 0;
      this.log?.warn({ ...fields, err }, msg);
      this.arm();
      return;
    }
    this.failures++;
    const kind = kindOf(err);
    let key = `${msg}\0${kind}`;
    let entry = this.pending.get(key);
    if (entry === undefined) {
      if (this.pending.size >= MAX_KINDS - 1) key = OTHER;
      entry = this.pending.get(key) ?? {
        msg: key === OTHER ? `${this.name} failed` : msg,
        kind: key === OTHER ? OTHER : kind,
        count: 0,
      };
      this.pending.set(key, entry);
    }
    entry.count++;
    this.arm();
  }

  /**
   * A success: after failures, the "is back" line follows if no failure comes within a second
   * (and none was said in the last interval). Costs a field check otherwise.
   */
  ok(): void {
    if (this.failing) this.recovered();
  }

  /** Writes what is still counted and stops the timers (the app's cleanup). */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.settling !== null) clearTimeout(this.settling);
    this.timer = this.settling = null;
    this.writeCounts(Date.now());
  }

  private recovered(): void {
    this.failing = false;
    if (this.started === 0) return;
    this.upAt = Date.now();
    if (this.settling === null) this.settle(Math.min(SETTLE_MS, this.interval));
  }

  private settle(ms: number): void {
    this.settling = setTimeout(() => this.settled(), ms);
    this.settling.unref();
  }

  private settled(): void {
    this.settling = null;
    if (this.failing || this.upAt === 0) return; // failed again meanwhile: the same outage
    const now = Date.now();
    // Up again after a failure that came while this timer ran: wait the rest of its second.
    const wait = this.upAt + Math.min(SETTLE_MS, this.interval) - now;
    if (wait > 0) return this.settle(wait);
    // Flapping: at most one "is back" line an interval; the tick says it if it is still true then.
    if (this.lastBack === 0 || now - this.lastBack >= this.interval) this.back(now);
    this.arm(this.interval - (now - this.lastBack));
  }

  private back(now: number): void {
    this.lastBack = now;
    // The counts not yet written are in the total: a "still failing" line after this one would mislead.
    this.pending.clear();
    this.lastCounts = now;
    const ms = this.upAt - this.started;
    this.upAt = 0;
    this.log?.info(
      { failures: this.failures, ms },
      `${this.name} is back after ${(ms / 1000).toFixed(1)} s (${this.failures} ${this.failures === 1 ? 'failure' : 'failures'})`,
    );
  }

  private arm(ms = this.interval): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => this.tick(), Math.max(ms, 1));
    this.timer.unref();
  }

  /** The end of an interval: the counts, an "is back" line held back by flapping, or the outage closed. */
  private tick(): void {
    this.timer = null;
    const now = Date.now();
    this.writeCounts(now);
    // Failing (the next failure arms the timer again), or back and not yet settled (settled() does).
    if (this.failing || this.started === 0 || this.settling !== null) return;
    const sinceBack = now - this.lastBack;
    if (sinceBack < this.interval) return this.arm(this.interval - sinceBack);
    if (this.upAt !== 0) {
      this.back(now);
      this.arm();
    } else {
      this.started = 0; // up for an interval since the last "is back": the next failure begins a new outage
    }
  }

  private writeCounts(now: number): void {
    if (this.pending.size === 0) return;
    const seconds = Math.round((now - this.lastCounts) / 100) / 10;
    const again = this.lastBack !== 0;
    for (const { msg, kind, count } of this.pending.values()) {
      this.log?.warn(
        { kind, failures: count, seconds, again: again || undefined },
        `${msg}${again ? ' again' : ''}: ${count} ${count === 1 ? 'time' : 'times'} in ${seconds} s (${kind})`,
      );
    }
    this.pending.clear();
    this.lastCounts = now;
  }
}

/** What tells failures apart: the error's code (ECONNREFUSED, 57P01), else its message. */
function kindOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  if (typeof e?.code === 'string' && e.code !== '') return e.code;
  if (typeof e?.message === 'string' && e.message !== '') return e.message.slice(0, 100);
  return String(err).slice(0, 100);
}
