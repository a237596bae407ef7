import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Application, Hub, inject, Injectable, OutageLog, SETTINGS } from '../../src';
import type { AppSettings } from '../settings';
import type { CommentView } from './comments.service';
import type { Project } from './projects.service';

/** A project's fields that its page shows, as the live page gets them after an edit. */
export interface ProjectFields {
  id: number;
  name: string;
  slug: string;
  description: string;
}

/** What an open page of a project is told over its WebSocket. */
export type LiveEvent =
  | { type: 'comment'; comment: CommentView }
  | { type: 'project'; project: ProjectFields }
  | { type: 'deleted' }
  | { type: 'viewers'; count: number };

/** Sends an event to one open page. */
export type LiveListener = (event: LiveEvent) => void;

export function projectFields(p: Project): ProjectFields {
  return { id: p.id, name: p.name, slug: p.slug, description: p.description };
}

/** The hub topic of a project's pages. */
export function liveTopic(projectId: number): string {
  return `project:${projectId}`;
}

/** One open page: its id among viewers, and the count it was last told. */
interface Viewer {
  member: string;
  send: LiveListener;
  shown: number | null;
}

/** The open pages of one project in this process, and their one subscription to the hub. */
interface Room {
  id: number;
  topic: string;
  viewers: Set<Viewer>;
  off: () => void;
  /** Resolves once the subscription is known to receive messages (see `LiveService.hello`). */
  ready: Promise<void>;
  hellos: Map<string, () => void>;
  /** Recounts run one after the other, so the last answer is the newest count. */
  recount: Promise<void>;
}

/** How long a viewer counts without being refreshed (a process that died stops counting then), and how often live ones are refreshed. */
const VIEWER_TTL_MS = 60_000;
const REFRESH_MS = 20_000;
/** How long to wait for the hub to deliver our own hello before going on without the guarantee. */
const HELLO_TIMEOUT_MS = 3000;
const HELLO_RETRY_MS = 50;

/**
 * The live pages of projects: events (a comment, an edit, the project deleted) published on the
 * app's {@link Hub} reach every open page of the project, in this process and, when the hub uses
 * Redis, in every worker; and each page is told how many pages of the project are open.
 *
 * Counting viewers: every WebSocket is a viewer. Without Redis they are counted in this process.
 * With `REDIS_URL` each viewer is a member of a Redis sorted set per project, scored with the
 * time it stops counting: a process refreshes its own viewers every 20 s, so the viewers of a
 * process that died without saying goodbye drop out after at most 60 s (the next join, leave or
 * refresh anywhere then shows the right number). A join or a leave publishes the count on the
 * hub; since two publishes from two workers can arrive in either order, a process that hears of
 * a change reads the count from Redis again (one read at a time, so the last one is the newest)
 * and tells its pages only a number that changed for them.
 */
@Injectable()
export class LiveService {
  private readonly rooms = new Map<number, Room>();
  private readonly counts: ViewerCounts;
  private readonly log: Logger;
  /** Redis failing fails every join, leave and event: logged once an outage, then counted. */
  private readonly outages: OutageLog;
  private readonly processId = randomUUID();
  private viewerSeq = 0;
  private readonly timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly hub: Hub,
    app: Application,
    @inject(SETTINGS) settings: AppSettings,
  ) {
    this.log = app.log;
    this.outages = new OutageLog(app.log, 'live: Redis');
    if (settings.REDIS_URL !== '') {
      this.counts = new RedisCounts(settings.REDIS_URL, `${settings.REDIS_PREFIX}viewers:`, this.log);
      this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
      this.timer.unref();
    } else {
      this.counts = new LocalCounts();
    }
    // Sockets are closed (and their viewers gone) before the cleanup hooks run.
    app.on('cleanup', async () => {
      if (this.timer !== null) clearInterval(this.timer);
      this.outages.close();
      await this.counts.close();
    });
  }

  /**
   * Sends `event` to every open page of the project. Never throws: the change it tells of is
   * already saved, and a page that missed it catches up when it reconnects.
   */
  async publish(projectId: number, event: LiveEvent): Promise<void> {
    try {
      await this.hub.publish(liveTopic(projectId), event);
      this.outages.ok();
    } catch (err) {
      this.outages.failed(err, 'live: an event could not be published', { projectId, type: event.type });
    }
  }

  /**
   * An open page of the project: `listener` gets the project's events from now on (the
   * subscription is in place when this resolves) and the viewer count, which this join changes.
   * Returns the function to call when the page goes away.
   */
  async join(projectId: number, listener: LiveListener): Promise<() => Promise<void>> {
    const room = this.room(projectId);
    const viewer: Viewer = { member: `${this.processId}:${++this.viewerSeq}`, send: listener, shown: null };
    room.viewers.add(viewer);
    await room.ready;
    await this.changeCount(room, () => this.counts.add(projectId, viewer.member));
    let left = false;
    return async () => {
      if (left) return;
      left = true;
      room.viewers.delete(viewer);
      if (room.viewers.size === 0 && this.rooms.get(projectId) === room) {
        this.rooms.delete(projectId);
        room.off();
      }
      await this.changeCount(room, () => this.counts.remove(projectId, viewer.member));
    };
  }

  private room(id: number): Room {
    const existing = this.rooms.get(id);
    if (existing !== undefined) return existing;
    const room: Room = {
      id,
      topic: liveTopic(id),
      viewers: new Set(),
      off: () => {},
      ready: Promise.resolve(),
      hellos: new Map(),
      recount: Promise.resolve(),
    };
    room.off = this.hub.subscribe(room.topic, (msg) => this.dispatch(room, msg));
    room.ready = this.hello(room);
    this.rooms.set(id, room);
    return room;
  }

  /**
   * Waits until the room's subscription receives messages. In one process it does at once; with
   * Redis, `hub.subscribe` sends SUBSCRIBE on the hub's subscriber connection (which may still be
   * connecting) while publishes go out on another one, so a count published right away could
   * be missed by the page that caused it. The room publishes a hello of its own until it hears
   * it back (or gives up after 3 s: Redis is slow or down, and the page works without counts).
   */
  private hello(room: Room): Promise<void> {
    if (!this.hub.distributed) return Promise.resolve();
    const nonce = randomUUID();
    return new Promise((resolve) => {
      const send = () => this.hub.publish(room.topic, { type: 'hello', nonce }).catch(() => undefined);
      const retry = setInterval(send, HELLO_RETRY_MS);
      const giveUp = setTimeout(() => {
        this.outages.failed(new Error('no hello back in 3 s'), 'live: the hub did not deliver within 3 s; going on', { projectId: room.id });
        done();
      }, HELLO_TIMEOUT_MS);
      const done = () => {
        clearInterval(retry);
        clearTimeout(giveUp);
        room.hellos.delete(nonce);
        resolve();
      };
      retry.unref();
      giveUp.unref();
      room.hellos.set(nonce, done);
      void send();
    });
  }

  private dispatch(room: Room, msg: unknown): void {
    if (typeof msg !== 'object' || msg === null) return;
    const event = msg as { type?: unknown; nonce?: unknown; count?: unknown };
    if (event.type === 'hello') {
      if (typeof event.nonce === 'string') room.hellos.get(event.nonce)?.();
      return;
    }
    if (event.type === 'viewers') {
      if (!this.counts.shared) {
        if (typeof event.count === 'number') this.show(room, event.count);
      } else {
        this.recount(room);
      }
      return;
    }
    for (const viewer of room.viewers) viewer.send(msg as LiveEvent);
  }

  /** Reads the count again and shows it (Redis: publishes may arrive out of order). */
  private recount(room: Room): void {
    room.recount = room.recount.then(
      () => this.counts.count(room.id).then((n) => this.show(room, n)),
      () => undefined,
    ).catch((err) => this.outages.failed(err, 'live: the viewer count could not be read', { projectId: room.id }));
  }

  private show(room: Room, count: number): void {
    for (const viewer of room.viewers) {
      if (viewer.shown === count) continue;
      viewer.shown = count;
      viewer.send({ type: 'viewers', count });
    }
  }

  private async changeCount(room: Room, change: () => Promise<number>): Promise<void> {
    try {
      const count = await change();
      await this.hub.publish(room.topic, { type: 'viewers', count });
      this.outages.ok();
    } catch (err) {
      this.outages.failed(err, 'live: the viewer count could not be updated', { projectId: room.id });
    }
  }

  /** Redis: keeps this process's viewers counted, and shows counts that changed without a join or leave (a dead worker's viewers dropping out). */
  private async refresh(): Promise<void> {
    if (this.rooms.size === 0) return;
    const members = new Map([...this.rooms].map(([id, room]) => [id, [...room.viewers].map((v) => v.member)]));
    try {
      await this.counts.refresh(members);
      this.outages.ok();
    } catch (err) {
      this.outages.failed(err, 'live: the viewers could not be refreshed');
      return;
    }
    for (const room of this.rooms.values()) this.recount(room);
  }
}

/** Where viewers are counted. */
interface ViewerCounts {
  /** Whether other processes count in the same place. */
  readonly shared: boolean;
  /** Adds a viewer; the project's count after it. */
  add(projectId: number, member: string): Promise<number>;
  /** Removes a viewer; the project's count after it. */
  remove(projectId: number, member: string): Promise<number>;
  count(projectId: number): Promise<number>;
  /** Keeps these viewers counted for another while. */
  refresh(members: Map<number, string[]>): Promise<void>;
  close(): Promise<void>;
}

/** Viewers of this process only: right for one process. */
class LocalCounts implements ViewerCounts {
  readonly shared = false;
  private readonly byProject = new Map<number, Set<string>>();

  async add(projectId: number, member: string): Promise<number> {
    let set = this.byProject.get(projectId);
    if (set === undefined) this.byProject.set(projectId, (set = new Set()));
    set.add(member);
    return set.size;
  }

  async remove(projectId: number, member: string): Promise<number> {
    const set = this.byProject.get(projectId);
    if (set === undefined) return 0;
    set.delete(member);
    if (set.size === 0) this.byProject.delete(projectId);
    return set.size;
  }

  async count(projectId: number): Promise<number> {
    return this.byProject.get(projectId)?.size ?? 0;
  }

  async refresh(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * Viewers of every process, in Redis: a sorted set per project, `<prefix><project id>`, whose
 * members are viewers and scores the time (ms) they stop counting unless refreshed. Each change
 * drops the expired members and counts in one transaction.
 */
class RedisCounts implements ViewerCounts {
  readonly shared = true;
  private readonly redis: Redis;

  constructor(
    url: string,
    private readonly prefix: string,
    log: Logger,
  ) {
    // Connects on first use; every command is bounded, so a Redis that is down slows nothing.
    this.redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 2000, retryStrategy: (n) => Math.min(n * 100, 2000) });
    this.redis.on('error', (err) => log.debug({ err }, 'live: Redis connection error'));
  }

  async add(projectId: number, member: string): Promise<number> {
    const key = this.prefix + projectId;
    const now = Date.now();
    const tx = this.redis.multi().zadd(key, now + VIEWER_TTL_MS, member).zremrangebyscore(key, '-inf', now).zcard(key).pexpire(key, VIEWER_TTL_MS);
    return answer(await tx.exec(), 2);
  }

  async remove(projectId: number, member: string): Promise<number> {
    const key = this.prefix + projectId;
    const tx = this.redis.multi().zrem(key, member).zremrangebyscore(key, '-inf', Date.now()).zcard(key);
    return answer(await tx.exec(), 2);
  }

  async count(projectId: number): Promise<number> {
    const key = this.prefix + projectId;
    return answer(await this.redis.multi().zremrangebyscore(key, '-inf', Date.now()).zcard(key).exec(), 1);
  }

  async refresh(members: Map<number, string[]>): Promise<void> {
    const until = Date.now() + VIEWER_TTL_MS;
    const batch = this.redis.pipeline();
    for (const [projectId, list] of members) {
      if (list.length === 0) continue;
      const key = this.prefix + projectId;
      // XX: only members still there; one that left meanwhile must not come back.
      batch.zadd(key, 'XX', ...list.flatMap((m) => [until, m])).pexpire(key, VIEWER_TTL_MS);
    }
    for (const [err] of (await batch.exec()) ?? []) if (err) throw err;
  }

  async close(): Promise<void> {
    const r = this.redis;
    if (r.status === 'wait' || r.status === 'end') return r.disconnect();
    await r.quit().then(
      () => undefined,
      () => r.disconnect(),
    );
  }
}

/** The answer of the `index`th command of a transaction, a number. */
function answer(results: [Error | null, unknown][] | null, index: number): number {
  if (results === null) throw new Error('the Redis transaction was aborted');
  for (const [err] of results) if (err) throw err;
  return Number(results[index][1]);
}
