import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RococoError } from '../core/errors';
import { OutageLog } from '../core/outage-log';
import { DONE } from './connection';

/** Options of the app's {@link Hub}: `createApp({ hub })`. */
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
 * Publish/subscribe by topic, injectable in any controller or service. In one process by
 * default; with a Redis URL (`createApp({ hub: { redis } })` or the `REDIS_URL` setting) a
 * message published in one worker or host reaches subscribers in all of them (Redis pub/sub,
 * on a connection of its own that subscribes again after Redis restarts). Messages are JSON.
 *
 * @example
 * const off = this.hub.subscribe(`project:${id}`, (msg) => ws.sendJson(msg));
 * await this.hub.publish(`project:${id}`, { comment });
 * off();
 */
export class Hub {
  private readonly topics = new Map<string, Set<HubListener>>();
  private readonly log: Logger;
  private readonly prefix: string;
  private readonly pub: Redis | null = null;
  private readonly sub: Redis | null = null;
  private connecting: Promise<void> | null = null;
  private readonly outages: OutageLog;

  /** @internal The app makes its hub. */
  constructor(log: Logger, options: HubOptions = {}) {
    this.log = log;
    this.outages = new OutageLog(log, 'hub: Redis');
    this.prefix = options.prefix ?? 'rococo:hub:';
    if (options.redis === undefined || options.redis === '') return;
    const { Redis: Client } = require('ioredis') as typeof import('ioredis');
    const common = { maxRetriesPerRequest: 1, retryStrategy: (times: number) => Math.min(times * 100, 2000), lazyConnect: true };
    this.pub = new Client(options.redis, { ...common, enableOfflineQueue: false });
    // Both connect on first use, so an app that never uses its hub opens no connection. The
    // subscriber keeps its subscriptions across reconnects (ioredis' autoResubscribe).
    this.sub = new Client(options.redis, common);
    // A reconnecting client fails every attempt while Redis is down: one outage, logged as such.
    for (const c of [this.pub, this.sub]) c.on('error', (err) => this.outages.failed(err, 'hub: Redis connection error')).on('ready', () => this.outages.ok());
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.deliver(channel.toString().slice(this.prefix.length), message.toString()));
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
    if (json === undefined) throw new TypeError(`hub.publish('${topic}'): ${typeof data} is not a JSON value`);
    if (this.pub === null) {
      this.deliver(topic, json);
      return;
    }
    try {
      await (await this.publisher()).publish(this.prefix + topic, json);
    } catch (err) {
      throw new RococoError('ROCOCO_HUB', `hub.publish('${topic}'): Redis is unavailable (${(err as Error).message})`);
    }
  }

  /** Calls `listener` with each message on `topic`; returns the function that unsubscribes. */
  subscribe(topic: string, listener: HubListener): () => void {
    let set = this.topics.get(topic);
    if (set === undefined) {
      this.topics.set(topic, (set = new Set()));
      this.sub?.subscribe(this.prefix + topic).catch((err) => this.outages.failed(err, 'hub: subscribe failed', { topic }));
    }
    set.add(listener);
    return () => {
      const s = this.topics.get(topic);
      if (s === undefined || !s.delete(listener) || s.size > 0) return;
      this.topics.delete(topic);
      this.sub?.unsubscribe(this.prefix + topic).catch(() => {});
    };
  }

  /** How many local subscribers a topic has. */
  subscribers(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /** @internal Closes the Redis connections (the app's cleanup). */
  async close(): Promise<void> {
    this.topics.clear();
    await Promise.all(
      [this.pub, this.sub].map((c) => {
        if (c === null) return undefined;
        if (c.status === 'wait' || c.status === 'end') return c.disconnect();
        return c.quit().then(() => undefined, () => c.disconnect());
      }),
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
    const set = this.topics.get(topic);
    if (set === undefined) return;
    let data: unknown;
    try {
      data = JSON.parse(json);
    } catch {
      return; // not ours
    }
    // The listeners of this moment: one subscribed meanwhile waits for the next message (iterating
    // the live Set would call it now, and call a listener that renews its own subscription again
    // and again); one unsubscribed meanwhile is skipped.
    for (const fn of [...set]) {
      if (!set.has(fn)) continue;
      try {
        const out = fn(data);
        // A send that did not have to wait returns an already resolved promise: nothing can fail
        // later, and a handler per subscriber per message would cost a microtask each.
        if (out instanceof Promise && out !== DONE) out.catch((err) => this.log.error({ err, topic }, 'hub: a subscriber failed'));
      } catch (err) {
        this.log.error({ err, topic }, 'hub: a subscriber failed');
      }
    }
  }
}
