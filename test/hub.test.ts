import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  createApp,
  Controller,
  Hub,
  RococoError,
  WebSocket,
  type Application,
  type Request,
  type WebSocketConnection,
  websockets,
  hub,
} from '../src';
import { testClient, type TestClient, type TestWebSocket } from '../src/testing';
import { memoryLogger, type LogRecord } from './helpers/memory-logger';
import { freePort, RedisServer, redisServerBinary } from './helpers/redis-server';
import { TcpProxy } from './helpers/tcp-proxy';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Expects no message on `ws` for `ms` (the test fails if one comes). */
async function silent(ws: TestWebSocket, ms = 200): Promise<void> {
  await expect(ws.next(ms)).rejects.toThrow(/no message within/);
}

const SHARED_URL = process.env.REDIS_URL || undefined;
const BINARY = redisServerBinary();

interface Said {
  from: string;
  text: string;
}

/** A chat room per path: each socket's messages go to everyone in the room, through the hub. */
@Controller('/rooms', { name: 'rooms' })
class ChatController {
  constructor(private readonly hub: Hub) {}

  @WebSocket('/<room>', { name: 'room' })
  async room(ws: WebSocketConnection, req: Request) {
    const topic = `room:${req.params.room}`;
    const name = req.query.get('name') ?? 'anonymous';
    const off = this.hub.subscribe(topic, (msg) => ws.sendJson(msg));
    try {
      await ws.sendJson({
        joined: topic,
        injected: this.hub === req.app.hub!,
        distributed: this.hub.distributed,
      });
      for await (const m of ws) {
        try {
          await this.hub.publish(topic, { from: name, text: m.text });
        } catch (e) {
          await ws.sendJson({ error: (e as RococoError).code });
        }
      }
    } finally {
      off();
    }
  }
}

/** Joins a room and waits for the handler to have subscribed. */
async function join(client: TestClient, room: string, name: string): Promise<TestWebSocket> {
  const ws = await client.ws(`/rooms/${room}?name=${name}`);
  const hello = await ws.nextJson<{ joined: string; injected: boolean }>();
  expect(hello).toMatchObject({ joined: `room:${room}`, injected: true });
  return ws;
}

describe('Hub in one process', () => {
  let app: Application;
  let records: LogRecord[];

  beforeAll(() => {
    const log = memoryLogger('warn');
    records = log.records;
    app = createApp({ logger: log.logger, plugins: [hub()] });
  });
  afterAll(() => app.close());

  test('publish reaches every subscriber of the topic, and only of that topic', async () => {
    const hub = app.hub!;
    expect(hub.distributed).toBe(false);
    const a: unknown[] = [];
    const b: unknown[] = [];
    const other: unknown[] = [];
    const offA = hub.subscribe('news', (m) => void a.push(m));
    const offB = hub.subscribe('news', (m) => void b.push(m));
    const offOther = hub.subscribe('weather', (m) => void other.push(m));
    expect(hub.subscribers('news')).toBe(2);
    await hub.publish('news', { headline: 'rococo ships WebSockets', n: [1, 2] });
    await hub.publish('news', 'plain string');
    expect(a).toEqual([{ headline: 'rococo ships WebSockets', n: [1, 2] }, 'plain string']);
    expect(b).toEqual(a);
    expect(other).toEqual([]);
    await hub.publish('nobody-listens', 1); // no subscriber: nothing happens, no error
    offA();
    offB();
    offOther();
  });

  test('unsubscribe stops delivery to that listener only; twice is harmless', async () => {
    const hub = app.hub!;
    const a: unknown[] = [];
    const b: unknown[] = [];
    const offA = hub.subscribe('t', (m) => void a.push(m));
    const offB = hub.subscribe('t', (m) => void b.push(m));
    await hub.publish('t', 1);
    offA();
    offA();
    expect(hub.subscribers('t')).toBe(1);
    await hub.publish('t', 2);
    expect(a).toEqual([1]);
    expect(b).toEqual([1, 2]);
    offB();
    expect(hub.subscribers('t')).toBe(0);
    await hub.publish('t', 3);
    expect(b).toEqual([1, 2]);
  });

  test('a subscriber that throws or rejects does not stop the others; both failures are logged', async () => {
    const hub = app.hub!;
    const got: unknown[] = [];
    const offs = [
      hub.subscribe('fragile', () => {
        throw new Error('sync subscriber failure');
      }),
      hub.subscribe('fragile', async () => {
        throw new Error('async subscriber failure');
      }),
      hub.subscribe('fragile', (m) => void got.push(m)),
    ];
    await hub.publish('fragile', { ok: 1 });
    await hub.publish('fragile', { ok: 2 });
    expect(got).toEqual([{ ok: 1 }, { ok: 2 }]);
    await until('both failures in the log', () => {
      const messages = records
        .filter((r) => r.msg === 'hub: a subscriber failed')
        .map((r) => r.err?.message);
      return (
        messages.filter((m) => m === 'sync subscriber failure').length === 2 &&
        messages.filter((m) => m === 'async subscriber failure').length === 2
      );
    });
    expect(records.find((r) => r.msg === 'hub: a subscriber failed')).toMatchObject({
      level: 50,
      topic: 'fragile',
    });
    for (const off of offs) off();
  });

  test('during a delivery, a listener unsubscribed is not called, and one subscribed waits for the next message', async () => {
    const hub = app.hub!;
    const got: string[] = [];
    let offSecond = () => {};
    let added = false;
    // The first listener unsubscribes the second one and adds a third, once.
    const offFirst = hub.subscribe('churn', (m) => {
      got.push(`first ${m}`);
      offSecond();
      if (!added) {
        added = true;
        hub.subscribe('churn', (n) => void got.push(`third ${n}`));
      }
    });
    offSecond = hub.subscribe('churn', (m) => void got.push(`second ${m}`));
    await hub.publish('churn', 1);
    await hub.publish('churn', 2);
    expect(got).toEqual(['first 1', 'first 2', 'third 2']);
    offFirst();

    // A listener that renews its own subscription is called once per message, not again and again.
    let calls = 0;
    let off = () => {};
    const renewing = () => {
      calls++;
      if (calls > 100) return; // would loop forever otherwise; stop so that the test can fail
      off();
      off = hub.subscribe('renew', renewing);
    };
    off = hub.subscribe('renew', renewing);
    hub.subscribe('renew', () => {}); // another one, so that the topic's set stays the same
    await hub.publish('renew', 'x');
    expect(calls).toBe(1);
  });

  test('ready is resolved at once: there is nothing to confirm', async () => {
    const got: unknown[] = [];
    const off = app.hub!.subscribe('at-once', (m) => void got.push(m));
    let settled = false;
    void off.ready.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(true);
    await app.hub!.publish('at-once', 1);
    expect(got).toEqual([1]);
    off();
  });

  test('a value that is not JSON is refused', async () => {
    await expect(app.hub!.publish('t', undefined)).rejects.toThrow(TypeError);
    await expect(app.hub!.publish('t', () => 1)).rejects.toThrow(/not a JSON value/);
  });
});

describe('Hub injected into a controller: a chat room over WebSockets', () => {
  let app: Application;
  let client: TestClient;

  beforeAll(async () => {
    app = createApp({ plugins: [websockets(), hub()], controllers: [ChatController] });
    client = await testClient(app);
  });
  afterAll(async () => {
    await client?.close();
  });

  test('texts of one length, multibyte ones among them, reach every socket intact and in order', async () => {
    // Each text is sent to every socket of the room: the same string many times, then another
    // of the same length (send() keeps the last one encoded).
    const sockets = [
      await join(client, 'unicode', 'ann'),
      await join(client, 'unicode', 'bob'),
      await join(client, 'unicode', 'cat'),
    ];
    const texts = [
      'héllo wörld 1',
      'héllo wörld 2',
      'hello world 3',
      '€€€ 😀 ☃︎ 中文!!',
      'héllo wörld 1',
    ];
    for (const text of texts) await sockets[0].send(text);
    for (const ws of sockets) {
      for (const text of texts) expect(await ws.nextJson()).toEqual({ from: 'ann', text });
    }
    for (const ws of sockets) await ws.close();
    await until('everyone to leave', () => app.hub!.subscribers('room:unicode') === 0);
  });

  test('three sockets in a room each get every message once; another room gets none', async () => {
    const [ann, bob, cat] = [
      await join(client, 'lobby', 'ann'),
      await join(client, 'lobby', 'bob'),
      await join(client, 'lobby', 'cat'),
    ];
    const elsewhere = await join(client, 'attic', 'dan');
    expect(app.hub!.subscribers('room:lobby')).toBe(3);
    expect(app.url('rooms.room', { room: 'lobby' })).toBe('/rooms/lobby');

    await ann.send('hi all');
    for (const ws of [ann, bob, cat])
      expect(await ws.nextJson()).toEqual({ from: 'ann', text: 'hi all' });
    await bob.send('hello ann');
    await cat.send('hey');
    for (const ws of [ann, bob, cat]) {
      // one socket's messages stay in order; two senders may interleave either way
      const got = [await ws.nextJson<Said>(), await ws.nextJson<Said>()];
      expect(got).toEqual(
        expect.arrayContaining([
          { from: 'bob', text: 'hello ann' },
          { from: 'cat', text: 'hey' },
        ]),
      );
    }
    await silent(elsewhere);
    for (const ws of [ann, bob, cat]) await silent(ws, 50); // nothing twice

    await cat.close();
    await until('cat to leave', () => app.hub!.subscribers('room:lobby') === 2);
    await ann.send('cat left');
    expect(await bob.nextJson()).toEqual({ from: 'ann', text: 'cat left' });
    expect(await ann.nextJson()).toEqual({ from: 'ann', text: 'cat left' });
    for (const ws of [ann, bob, elsewhere]) await ws.close();
    await until(
      'everyone to leave',
      () => app.hub!.subscribers('room:lobby') === 0 && app.hub!.subscribers('room:attic') === 0,
    );
  });
});

/** Subscribers of a channel on a Redis server. */
async function numsub(redis: Redis, channel: string): Promise<number> {
  const reply = (await redis.pubsub('NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

const canRunRedis = SHARED_URL !== undefined || BINARY !== null;
if (!canRunRedis) {
  console.warn(
    'hub.test.ts: the Redis hub tests are SKIPPED: REDIS_URL is not set and redis-server is not on PATH (set REDIS_URL=redis://127.0.0.1:6379, or apt-get install redis-server)',
  );
}
const describeRedis = canRunRedis ? describe : describe.skip;

describeRedis('Hub across two apps through Redis', () => {
  const prefix = `rococo:test:hub:${randomBytes(6).toString('hex')}:`;
  let own: RedisServer | undefined;
  let url: string;
  let admin: Redis;
  const apps: Application[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    if (SHARED_URL === undefined) {
      console.warn('hub.test.ts: REDIS_URL is not set: starting a redis-server of its own');
      own = await RedisServer.start();
    }
    url = SHARED_URL ?? (own as RedisServer).url;
    admin = new Redis(url, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    for (const c of clients) await c.close();
    admin?.disconnect();
    await own?.dispose();
  });

  async function start(p = prefix): Promise<{ app: Application; client: TestClient }> {
    const app = createApp({
      plugins: [websockets(), hub({ redis: url, prefix: p })],
      controllers: [ChatController],
    });
    const client = await testClient(app);
    apps.push(app);
    clients.push(client);
    return { app, client };
  }

  test('the first publishes of a fresh app, made at once, all go through', async () => {
    const a = await start();
    const b = await start();
    const got: unknown[] = [];
    const topic = `burst:${randomBytes(4).toString('hex')}`;
    b.app.hub!.subscribe(topic, (m) => void got.push(m));
    await until(
      'the subscription to reach Redis',
      async () => (await numsub(admin, prefix + topic)) === 1,
      5000,
      25,
    );
    // A's publishing connection is opened by the first publish; the others must wait for it, not fail.
    const results = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((n) => a.app.hub!.publish(topic, n)),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    await until('five messages', () => got.length === 5, 3000);
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  test('a socket on app A publishes, sockets on app B (and on A) receive it once; another prefix hears nothing', async () => {
    const a = await start();
    const b = await start();
    const strangerPrefix = `rococo:test:hub:${randomBytes(6).toString('hex')}:`;
    const stranger = await start(strangerPrefix);
    expect(a.app.hub!.distributed).toBe(true);
    expect(a.app.hub!).not.toBe(b.app.hub!);

    const room = `r${randomBytes(4).toString('hex')}`;
    const onA = await join(a.client, room, 'ann');
    const onB1 = await join(b.client, room, 'bob');
    const onB2 = await join(b.client, room, 'bea');
    const outsider = await join(stranger.client, room, 'sid');
    // Subscribing is asynchronous: wait until Redis has the subscriptions.
    await until(
      'the subscriptions to reach Redis',
      async () => (await numsub(admin, `${prefix}room:${room}`)) === 2,
      5000,
      25,
    );
    await until(
      'the stranger’s subscription',
      async () => (await numsub(admin, `${strangerPrefix}room:${room}`)) === 1,
      5000,
      25,
    );
    // two connections (one per app) for three sockets: each app subscribes once per topic
    expect(b.app.hub!.subscribers(`room:${room}`)).toBe(2);

    await onA.send('from app A');
    for (const ws of [onB1, onB2, onA])
      expect(await ws.nextJson(3000)).toEqual({ from: 'ann', text: 'from app A' });
    await onB1.send('from app B');
    for (const ws of [onA, onB1, onB2])
      expect(await ws.nextJson(3000)).toEqual({ from: 'bob', text: 'from app B' });
    for (const ws of [onA, onB1, onB2]) await silent(ws, 100); // each exactly once
    await silent(outsider, 100);
    for (const ws of [onA, onB1, onB2, outsider]) await ws.close();
    await until(
      'the channel to be released',
      async () => (await numsub(admin, `${prefix}room:${room}`)) === 0,
      5000,
      25,
    );
  });
});

describeRedis('Hub.subscribe(): ready, with Redis', () => {
  const prefix = `rococo:test:ready:${randomBytes(6).toString('hex')}:`;
  let own: RedisServer | undefined;
  let url: string;
  const hubs: Hub[] = [];

  beforeAll(async () => {
    if (SHARED_URL === undefined) own = await RedisServer.start();
    url = SHARED_URL ?? (own as RedisServer).url;
  });
  afterAll(async () => {
    for (const h of hubs) await h.close();
    await own?.dispose();
  });

  function hub(redis = url, logger = memoryLogger('warn').logger): Hub {
    const h = new Hub(logger, { redis, prefix });
    hubs.push(h);
    return h;
  }

  test('a message published from another hub right after `await ready` always arrives (50 fresh subscribers)', async () => {
    const publisher = hub();
    await publisher.publish('warm-up', 0); // connected: its publishes below go out at once
    const missed: number[] = [];
    for (let i = 0; i < 50; i++) {
      // A fresh hub each time: its subscriber connection is still being made when it subscribes.
      const subscriber = new Hub(memoryLogger('warn').logger, { redis: url, prefix });
      const got: unknown[] = [];
      const first = subscriber.subscribe(`first:${i}`, (m) => void got.push(m));
      // A second subscriber of the topic, while its confirmation is on its way: every other
      // round, its `ready` is the one awaited, and it must wait for that same confirmation.
      const second = subscriber.subscribe(`first:${i}`, () => {});
      await (i % 2 === 0 ? first : second).ready;
      await publisher.publish(`first:${i}`, i);
      await until(`message ${i}`, () => got.length === 1, 1000).catch(() => missed.push(i));
      await subscriber.close();
    }
    expect(missed).toEqual([]);
  }, 60_000);

  test('Redis refusing connections: ready rejects with ROCOCO_HUB at once, and nobody has to await it', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const log = memoryLogger('warn');
      const down = hub(`redis://127.0.0.1:${await freePort()}`, log.logger);
      const ignored = down.subscribe('ignored', () => {}); // its ready is never looked at
      const started = Date.now();
      const off = down.subscribe('t', () => {});
      const again = down.subscribe('t', () => {});
      await expect(off.ready).rejects.toMatchObject({
        code: 'ROCOCO_HUB',
        message: expect.stringMatching(
          /hub.subscribe\('t'\): Redis did not confirm the subscription \(.*ECONNREFUSED/,
        ),
      });
      await expect(again.ready).rejects.toMatchObject({ code: 'ROCOCO_HUB' });
      expect(Date.now() - started).toBeLessThan(2000);
      // One outage, one line with its stack; the failures after it are counted, not each logged.
      const lines = log.records.filter((r) => r.msg?.startsWith('hub:'));
      expect(lines.map((r) => [r.msg, r.err?.message?.includes('ECONNREFUSED')])).toEqual([
        [expect.stringMatching(/^hub: (Redis connection error|subscribe failed)$/), true],
      ]);
      await sleep(50);
      expect(unhandled).toEqual([]);
      ignored();
      off();
      again();
      await down.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('Redis that accepts the connection and never answers: ready rejects after 5 s, not never', async () => {
    const proxy = new TcpProxy('127.0.0.1', 1);
    proxy.blackhole = true;
    await proxy.start();
    try {
      const silentRedis = hub(`redis://127.0.0.1:${proxy.port}`);
      const started = Date.now();
      await expect(silentRedis.subscribe('t', () => {}).ready).rejects.toThrow(
        /no confirmation within 5000 ms/,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(4900);
      expect(Date.now() - started).toBeLessThan(6000);
      await silentRedis.close();
    } finally {
      await proxy.stop();
    }
  }, 15_000);
});

if (BINARY === null) {
  console.warn(
    'hub.test.ts: the Redis restart test is SKIPPED: it needs redis-server on PATH to kill and restart a server of its own (apt-get install redis-server)',
  );
}
const describeRestart = BINARY === null ? describe.skip : describe;

describeRestart('Hub when its Redis restarts', () => {
  let server: RedisServer;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await server?.dispose();
  });

  test('app.close() while its Redis is down finishes promptly', async () => {
    const prefix = 'rococo:test:down:';
    const app = createApp({
      plugins: [websockets(), hub({ redis: server.url, prefix })],
      controllers: [ChatController],
      logger: memoryLogger('warn').logger,
    });
    const client = await testClient(app);
    const ws = await join(client, 'ops', 'ann');
    const admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      await until(
        'the subscription',
        async () => (await numsub(admin, `${prefix}room:ops`)) === 1,
        5000,
        25,
      );
    } finally {
      admin.disconnect();
    }
    await ws.send('hello');
    expect(await ws.nextJson(3000)).toEqual({ from: 'ann', text: 'hello' }); // both connections are up
    await server.stop();
    try {
      const started = Date.now();
      await client.close();
      expect(Date.now() - started).toBeLessThan(3000);
      expect((await ws.closed).code).toBe(1001);
      // ioredis' disconnect() arms a 2 s timer to destroy a stream that is already closed here;
      // let it run out, so that the worker exits cleanly.
      await sleep(2100);
    } finally {
      await server.start();
    }
  }, 20_000);

  test('the subscriber subscribes again, and a message published after the restart arrives', async () => {
    const log = memoryLogger('warn');
    const prefix = 'rococo:test:restart:';
    const appA = createApp({
      plugins: [websockets(), hub({ redis: server.url, prefix })],
      controllers: [ChatController],
      logger: log.logger,
    });
    const appB = createApp({
      plugins: [websockets(), hub({ redis: server.url, prefix })],
      controllers: [ChatController],
      logger: log.logger,
    });
    const a = await testClient(appA);
    const b = await testClient(appB);
    clients.push(a, b);
    const channel = `${prefix}room:ops`;

    const admin = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    admin.on('error', () => {});
    try {
      const listener = await join(b, 'ops', 'bob');
      const speaker = await join(a, 'ops', 'ann');
      await until('both subscriptions', async () => (await numsub(admin, channel)) === 2, 5000, 25);
      await speaker.send('before');
      expect(await listener.nextJson(3000)).toEqual({ from: 'ann', text: 'before' });
      expect(await speaker.nextJson(3000)).toEqual({ from: 'ann', text: 'before' });
      const runId = async () => /run_id:(\w+)/.exec(await admin.info('server'))?.[1];
      const firstRun = await runId();

      await server.stop();
      // While Redis is down, publishing fails at once (no offline queue), and the socket lives on.
      const downAt = Date.now();
      await speaker.send('while down');
      expect(await speaker.nextJson(3000)).toEqual({ error: 'ROCOCO_HUB' });
      expect(Date.now() - downAt).toBeLessThan(3000);
      await expect(appA.hub!.publish('room:ops', 'x')).rejects.toMatchObject({
        code: 'ROCOCO_HUB',
      });

      await server.start(); // same port, empty: no subscriptions until the clients make them again
      await until(
        'Redis to answer again',
        async () => (await runId().catch(() => undefined)) !== undefined,
        10_000,
        100,
      );
      expect(await runId()).not.toBe(firstRun);
      await until(
        'both apps to subscribe again',
        async () => (await numsub(admin, channel)) === 2,
        10_000,
        50,
      );

      // The publisher reconnects on its own too: the socket's next message goes through.
      let delivered: unknown = null;
      await until(
        'a message published after the restart to arrive',
        async () => {
          await speaker.send('after the restart');
          const reply = await speaker.nextJson<Record<string, unknown>>(3000);
          if ('error' in reply) return false; // the publishing connection is not back yet
          delivered = reply;
          return true;
        },
        10_000,
        200,
      );
      expect(delivered).toEqual({ from: 'ann', text: 'after the restart' });
      expect(await listener.nextJson(3000)).toEqual({ from: 'ann', text: 'after the restart' });
      await silent(listener, 100); // the message while down was never delivered
      await speaker.close();
      await listener.close();
    } finally {
      admin.disconnect();
    }
  }, 40_000);

  test('while Redis is down, ready rejects within 5 s; once it is back, every topic is subscribed again, those made while down too', async () => {
    const log = memoryLogger('warn');
    const prefix = 'rococo:test:ready-restart:';
    const a = new Hub(log.logger, { redis: server.url, prefix });
    const b = new Hub(log.logger, { redis: server.url, prefix });
    const got: string[] = [];
    try {
      await b.subscribe('kept', (m) => void got.push(`kept ${m}`)).ready;
      await server.stop();
      await sleep(200); // b's subscriber connection notices
      const started = Date.now();
      // Joining a topic whose subscription went with the old connection, and a new topic.
      const joined = b.subscribe('kept', (m) => void got.push(`joined ${m}`));
      const fresh = b.subscribe('fresh', (m) => void got.push(`fresh ${m}`));
      await expect(joined.ready).rejects.toMatchObject({ code: 'ROCOCO_HUB' });
      await expect(fresh.ready).rejects.toMatchObject({ code: 'ROCOCO_HUB' });
      expect(Date.now() - started).toBeLessThan(5500);

      await server.start();
      // A subscriber joining now waits for the new connection's SUBSCRIBE (reconnecting takes up to 2 s).
      await b.subscribe('fresh', (m) => void got.push(`later ${m}`)).ready;
      // a's publishing connection comes back on its own; until then publishing fails.
      await until(
        'a to publish again',
        () =>
          a.publish('kept', 1).then(
            () => true,
            () => false,
          ),
        10_000,
        100,
      );
      await a.publish('fresh', 2);
      await until('the messages', () => got.length === 4, 3000);
      expect(got.sort()).toEqual(['fresh 2', 'joined 1', 'kept 1', 'later 2']);
    } finally {
      await a.close();
      await b.close();
    }
  }, 30_000);
});
