import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { providedByPlugin } from '../core/provided';
import { RococoError } from '../core/errors';
import { OutageLog } from '../core/outage-log';
import { DONE } from './connection';

/** Options of the app's {@link Hub}: the `hub()` plugin's. */
export interface HubOptions {
  /** A Redis URL: messages reach subscribers in every process and host that uses it. */
  redis?: string;
  /** Prefix of the Redis channels; `rococo:hub:` by default. */
  prefix?: string;
}

/** The keys {@link HubOptions} accepts. */
export const HUB_OPTION_KEYS = ['redis', 'prefix'];

/** A subscriber: gets each message published on its topic. */
export type HubListener = (data: unknown) => void | Promise<void>;

/**
 * What {@link Hub.subscribe} returns: the function that unsubscribes (calling it again is
 * harmless), with `ready`.
 */
export interface HubSubscription {
  (): void;
  /**
   * Resolves once every message published from now on, in any process, reaches the listener:
   * at once in one process; with Redis, when Redis has confirmed the subscription (subscribers
   * of a topic whose confirmation is on its way wait for that same one). Rejects with
   * `ROCOCO_HUB` when Redis cannot be reached or has not confirmed within 5 s; the subscription
   * stays, and is made as soon as Redis is back. Awaiting it is optional: a rejection nobody
   * looks at is not an unhandled one. Resolves when unsubscribed before the confirmation.
   */
  readonly ready: Promise<void>;
}

/** How long `ready` waits for Redis to confirm a subscription. */
const CONFIRM_TIMEOUT_MS = 5000;
const CONFIRMED: Promise<void> = Promise.resolve();

/** A topic with local subscribers. */
interface Topic {
  listeners: Set<HubListener>;
  /** What a subscriber joining now gets as `ready`. */
  ready: Promise<void>;
  /** Whether Redis confirmed the subscription on its current connection (always, in one process). */
  confirmed: boolean;
  /** While subscribers wait for the confirmation: how to settle their `ready`, and its deadline. */
  waiting: { resolve: () => void; reject: (err: Error) => void; timer: NodeJS.Timeout } | null;
}

/**
 * Publish/subscribe by topic, injectable in any controller or service. In one process by
 * default; with a Redis URL (`hub({ redis })` or the `REDIS_URL` setting) a
 * message published in one worker or host reaches subscribers in all of them (Redis pub/sub,
 * on a connection of its own that subscribes again after Redis restarts). Messages are JSON.
 *
 * @example
 * const off = this.hub.subscribe(`project:${id}`, (msg) => ws.sendJson(msg));
 * await off.ready; // with Redis: confirmed, so no message published from now on is missed
 * await this.hub.publish(`project:${id}`, { comment });
 * off();
 */
export class Hub {
  private readonly topics = new Map<string, Topic>();
  private readonly log: Logger;
  private readonly prefix: string;
  private readonly pub: Redis | null = null;
  private readonly sub: Redis | null = null;
  private connecting: Promise<void> | null = null;
  private readonly outages: OutageLog;
  /** Messages this process published, and messages it delivered to local subscribers (for metrics). */
  readonly counts = { published: 0, delivered: 0 };

  /** @internal The app makes its hub. */
  constructor(log: Logger, options: HubOptions = {}) {
    this.log = log;
    this.outages = new OutageLog(log, 'hub: Redis');
    this.prefix = options.prefix ?? 'rococo:hub:';
    if (options.redis === undefined || options.redis === '') return;
    const { Redis: Client } = require('ioredis') as typeof import('ioredis');
    const common = {
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(times * 100, 2000),
      lazyConnect: true,
    };
    this.pub = new Client(options.redis, { ...common, enableOfflineQueue: false });
    // Both connect on first use, so an app that never uses its hub opens no connection. The
    // subscriber's channels are `topics`, all subscribed again on each new connection here
    // rather than by ioredis, which forgets a SUBSCRIBE that failed, could resend one for a
    // topic left meanwhile, and does not say when its resubscription is confirmed.
    this.sub = new Client(options.redis, {
      ...common,
      enableOfflineQueue: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
    });
    // A reconnecting client fails every attempt while Redis is down: one outage, logged as such.
    for (const c of [this.pub, this.sub])
      c.on('error', (err) => this.outages.failed(err, 'hub: Redis connection error')).on(
        'ready',
        () => this.outages.ok(),
      );
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) =>
      this.deliver(channel.toString().slice(this.prefix.length), message.toString()),
    );
    this.sub.on('ready', () => this.resubscribe());
    // A new connection starts with no subscriptions: whoever joins until they are made again waits.
    this.sub.on('close', () => {
      for (const t of this.topics.values()) t.confirmed = false;
    });
    // Redis cannot be reached: whoever waits for a confirmation hears so now rather than in 5 s.
    this.sub.on('error', (err: Error) => {
      for (const [name, t] of this.topics) if (t.waiting !== null) this.settle(name, t, err);
    });
  }

  /** Whether messages go through Redis. */
  get distributed(): boolean {
    return this.pub !== null;
  }

  /**
   * Sends `data` (any JSON value) to every subscriber of `topic`, in every process when the hub
   * uses Redis. Resolves once Redis took it (or, in one process, once subscribers were called).
   */
  async publish(topic: string, data: unknown): Promise<void> {
    const json = JSON.stringify(data);
    if (json === undefined)
      throw new TypeError(`hub.publish('${topic}'): ${typeof data} is not a JSON value`);
    this.counts.published++;
    if (this.pub === null) {
      this.deliver(topic, json);
      return;
    }
    try {
      await (await this.publisher()).publish(this.prefix + topic, json);
    } catch (err) {
      throw new RococoError(
        'ROCOCO_HUB',
        `hub.publish('${topic}'): Redis is unavailable (${(err as Error).message})`,
      );
    }
  }

  /**
   * Calls `listener` with each message on `topic`. Returns the function that unsubscribes; its
   * `ready` resolves once Redis has confirmed the subscription (see {@link HubSubscription}).
   */
  subscribe(topic: string, listener: HubListener): HubSubscription {
    let t = this.topics.get(topic);
    if (t === undefined) {
      t = { listeners: new Set(), ready: CONFIRMED, confirmed: this.sub === null, waiting: null };
      this.topics.set(topic, t);
    }
    t.listeners.add(listener);
    if (!t.confirmed && t.waiting === null) this.confirm(topic, t);
    const entry = t;
    const off = () => {
      if (
        this.topics.get(topic) !== entry ||
        !entry.listeners.delete(listener) ||
        entry.listeners.size > 0
      )
        return;
      this.topics.delete(topic);
      if (entry.waiting !== null) {
        clearTimeout(entry.waiting.timer);
        entry.waiting.resolve();
        entry.waiting = null;
      }
      // Not connected: the next connection subscribes to the topics there are then, not this one.
      if (this.sub?.status === 'ready') this.sub.unsubscribe(this.prefix + topic).catch(() => {});
    };
    return Object.assign(off, { ready: t.ready });
  }

  /** How many local subscribers a topic has. */
  subscribers(topic: string): number {
    return this.topics.get(topic)?.listeners.size ?? 0;
  }

  /** @internal Closes the Redis connections (the app's cleanup). */
  async close(): Promise<void> {
    this.outages.close();
    for (const [name, t] of this.topics)
      if (t.waiting !== null)
        this.settle(
          name,
          t,
          new RococoError('ROCOCO_HUB', `hub.subscribe('${name}'): the hub was closed`),
        );
    this.topics.clear();
    await Promise.all(
      [this.pub, this.sub].map((c) => {
        if (c === null) return undefined;
        if (c.status === 'wait' || c.status === 'end') return c.disconnect();
        return c.quit().then(
          () => undefined,
          () => c.disconnect(),
        );
      }),
    );
  }

  /** Starts waiting for Redis to confirm the topic's subscription: its `ready` until then. */
  private confirm(name: string, t: Topic): void {
    const sub = this.sub as Redis;
    t.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(name, t, new Error(`no confirmation within ${CONFIRM_TIMEOUT_MS} ms`)),
        CONFIRM_TIMEOUT_MS,
      );
      t.waiting = { resolve, reject, timer };
    });
    // Subscribers that never look at `ready` must not turn its rejection into an unhandled one.
    t.ready.catch(() => {});
    if (sub.status === 'ready') this.send([name]);
    else if (sub.status === 'wait')
      sub.connect().catch(() => {}); // `resubscribe` sends it once connected
    else if (sub.status === 'end')
      this.settle(
        name,
        t,
        new RococoError('ROCOCO_HUB', `hub.subscribe('${name}'): the hub was closed`),
      );
    // Otherwise a connection is being made, and `resubscribe` sends it once it is ready.
  }

  /** A new connection is ready: subscribes to every topic there is. */
  private resubscribe(): void {
    if (this.topics.size > 0 && this.sub?.status === 'ready') this.send([...this.topics.keys()]);
  }

  /** One SUBSCRIBE for these topics; its reply confirms those that are still the same topics. */
  private send(names: string[]): void {
    const sent = names.map((name) => {
      const t = this.topics.get(name) as Topic;
      return { name, t, waiting: t.waiting };
    });
    (this.sub as Redis).subscribe(...names.map((n) => this.prefix + n)).then(
      () => {
        for (const { name, t } of sent) if (this.topics.get(name) === t) this.settle(name, t, null);
      },
      (err: Error) => {
        // An earlier attempt failing late is no news to subscribers waiting for a later one.
        for (const { name, t, waiting } of sent)
          if (waiting !== null && t.waiting === waiting && this.topics.get(name) === t)
            this.settle(name, t, err);
      },
    );
  }

  /** Confirms a topic (`err` null), or tells the subscribers waiting for it why Redis did not. */
  private settle(name: string, t: Topic, err: Error | null): void {
    if (err === null) {
      t.confirmed = true;
      t.ready = CONFIRMED;
    }
    const waiting = t.waiting;
    if (waiting === null) return;
    t.waiting = null;
    clearTimeout(waiting.timer);
    if (err === null) {
      waiting.resolve();
      return;
    }
    if (err instanceof RococoError) return waiting.reject(err);
    this.outages.failed(err, 'hub: subscribe failed', { topic: name });
    waiting.reject(
      new RococoError(
        'ROCOCO_HUB',
        `hub.subscribe('${name}'): Redis did not confirm the subscription (${err.message}); it is made once Redis is back`,
      ),
    );
  }

  /**
   * The publishing connection, connected on first use (bounded: a Redis that is down fails fast).
   * Publishes made while that first connection is being made wait for it too: without an offline
   * queue, a command sent while connecting would fail.
   */
  private async publisher(): Promise<Redis> {
    const pub = this.pub as Redis;
    if (pub.status === 'wait' && this.connecting === null) {
      this.connecting = (async () => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no answer in 5000 ms')), 5000);
        });
        try {
          await Promise.race([pub.connect(), late]);
        } finally {
          clearTimeout(timer);
          this.connecting = null;
        }
      })();
    }
    if (this.connecting !== null) await this.connecting;
    return pub;
  }

  private deliver(topic: string, json: string): void {
    const set = this.topics.get(topic)?.listeners;
    if (set === undefined) return;
    let data: unknown;
    try {
      data = JSON.parse(json);
    } catch {
      return; // not ours
    }
    this.counts.delivered++;
    // The listeners of this moment: one subscribed meanwhile waits for the next message (iterating
    // the live Set would call it now, and call a listener that renews its own subscription again
    // and again); one unsubscribed meanwhile is skipped.
    for (const fn of [...set]) {
      if (!set.has(fn)) continue;
      try {
        const out = fn(data);
        // A send that did not have to wait returns an already resolved promise: nothing can fail
        // later, and a handler per subscriber per message would cost a microtask each.
        if (out instanceof Promise && out !== DONE)
          out.catch((err) => this.log.error({ err, topic }, 'hub: a subscriber failed'));
      } catch (err) {
        this.log.error({ err, topic }, 'hub: a subscriber failed');
      }
    }
  }
}

providedByPlugin(Hub, 'hub');
