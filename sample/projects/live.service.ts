import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  Application,
  Hub,
  inject,
  Injectable,
  OutageLog,
  SETTINGS,
  type HubSubscription,
} from '../../src';
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
  off: HubSubscription;
  /** Resolves once the hub confirmed the subscription, or it could not (then logged). */
  ready: Promise<void>;
  /** Recounts run one after the other, so the last answer is the newest count. */
  recount: Promise<void>;
}

/** How long a viewer counts without being refreshed (a process that died stops counting then), and how often live ones are refreshed. */
const VIEWER_TTL_MS = 60_000;
const REFRESH_MS = 20_000;

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
      this.counts = new RedisCounts(
        settings.REDIS_URL,
        `${settings.REDIS_PREFIX}viewers:`,
        this.log,
      );
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
      this.outages.failed(err, 'live: an event could not be published', {
        projectId,
        type: event.type,
      });
    }
  }

  /**
   * An open page of the project: `listener` gets the project's events from now on (the
   * subscription is in place when this resolves) and the viewer count, which this join changes.
   * Returns the function to call when the page goes away.
   */
  async join(projectId: number, listener: LiveListener): Promise<() => Promise<void>> {
    const room = this.room(projectId);
    const viewer: Viewer = {
      member: `${this.processId}:${++this.viewerSeq}`,
      send: listener,
      shown: null,
    };
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

  /**
   * The project's room, subscribed to its topic. With Redis, the count a join publishes right
   * away would be missed by the page that caused it if the subscription were not confirmed yet:
   * a join waits for `ready` (which settles within 5 s: when Redis is slow or down, the page
   * works without counts).
   */
  private room(id: number): Room {
    const existing = this.rooms.get(id);
    if (existing !== undefined) return existing;
    const topic = liveTopic(id);
    // The listener runs on a message, never before `room` exists.
    const off = this.hub.subscribe(topic, (msg) => this.dispatch(room, msg));
    const ready = off.ready.catch((err) =>
      this.outages.failed(err, 'live: the hub did not confirm the subscription; going on', {
        projectId: id,
      }),
    );
    const room: Room = { id, topic, viewers: new Set(), off, ready, recount: Promise.resolve() };
    this.rooms.set(id, room);
    return room;
  }

  private dispatch(room: Room, msg: unknown): void {
    if (typeof msg !== 'object' || msg === null) return;
    const event = msg as { type?: unknown; count?: unknown };
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
    room.recount = room.recount
      .then(
        () => this.counts.count(room.id).then((n) => this.show(room, n)),
        () => undefined,
      )
      .catch((err) =>
        this.outages.failed(err, 'live: the viewer count could not be read', {
          projectId: room.id,
        }),
      );
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
      this.outages.failed(err, 'live: the viewer count could not be updated', {
        projectId: room.id,
      });
    }
  }

  /** Redis: keeps this process's viewers counted, and shows counts that changed without a join or leave (a dead worker's viewers dropping out). */
  private async refresh(): Promise<void> {
    if (this.rooms.size === 0) return;
    const members = new Map(
      [...this.rooms].map(([id, room]) => [id, [...room.viewers].map((v) => v.member)]),
    );
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
    this.redis = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      commandTimeout: 2000,
      retryStrategy: (n) => Math.min(n * 100, 2000),
    });
    this.redis.on('error', (err) => log.debug({ err }, 'live: Redis connection error'));
  }

  async add(projectId: number, member: string): Promise<number> {
    const key = this.prefix + projectId;
    const now = Date.now();
    const tx = this.redis
      .multi()
      .zadd(key, now + VIEWER_TTL_MS, member)
      .zremrangebyscore(key, '-inf', now)
      .zcard(key)
      .pexpire(key, VIEWER_TTL_MS);
    return answer(await tx.exec(), 2);
  }

  async remove(projectId: number, member: string): Promise<number> {
    const key = this.prefix + projectId;
    const tx = this.redis
      .multi()
      .zrem(key, member)
      .zremrangebyscore(key, '-inf', Date.now())
      .zcard(key);
    return answer(await tx.exec(), 2);
  }

  async count(projectId: number): Promise<number> {
    const key = this.prefix + projectId;
    return answer(
      await this.redis.multi().zremrangebyscore(key, '-inf', Date.now()).zcard(key).exec(),
      1,
    );
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
