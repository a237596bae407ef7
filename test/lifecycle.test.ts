import { createApp, Application, Controller, Get, type Hook } from '../src';
import { Agent, request as httpRequest } from 'node:http';
import { testClient } from '../src/testing';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('hooks', () => {
  test('onStartup/onShutdown/onCleanup options then app.on() hooks run in order, each once, with the app', async () => {
    const events: string[] = [];
    const apps: Application[] = [];
    const hook =
      (name: string, delay = 0): Hook =>
      async (app) => {
        apps.push(app);
        if (delay) await sleep(delay);
        events.push(name);
      };
    @Controller()
    class C {
      @Get('/')
      index() {
        events.push('request');
        return { ok: true };
      }
    }
    const app = createApp({
      controllers: [C],
      onStartup: [hook('startup1', 30), hook('startup2')],
      onShutdown: [hook('shutdown1', 20), hook('shutdown2')],
      onCleanup: [hook('cleanup1', 10), hook('cleanup2')],
    });
    expect(app.on('startup', hook('startup3'))).toBe(app);
    app.on('shutdown', hook('shutdown3'));
    app.on('cleanup', (a) => {
      apps.push(a);
      events.push('cleanup3'); // a synchronous hook
    });
    expect(events).toEqual([]); // createApp runs no hook

    const client = await testClient(app);
    expect(events).toEqual(['startup1', 'startup2', 'startup3']);
    const res = await client.get('/');
    expect(res.status).toBe(200);
    await client.close();
    expect(events).toEqual([
      'startup1',
      'startup2',
      'startup3',
      'request',
      'shutdown1',
      'shutdown2',
      'shutdown3',
      'cleanup1',
      'cleanup2',
      'cleanup3',
    ]);
    expect(apps).toHaveLength(9);
    for (const a of apps) expect(a).toBe(app);
  });

  test('a startup hook finishes before the first request is served', async () => {
    let ready = false;
    @Controller()
    class C {
      @Get('/ready')
      r() {
        return { ready };
      }
    }
    const app = createApp({ controllers: [C] });
    app.on('startup', async () => {
      await sleep(50);
      ready = true;
    });
    const client = await testClient(app);
    try {
      expect(await (await client.get('/ready')).json()).toEqual({ ready: true });
    } finally {
      await client.close();
    }
  });

  test('app.on() with an unknown event throws', () => {
    const app = createApp({});
    expect(() => app.on('stop' as never, () => {})).toThrow(/stop/);
  });

  test('app.startup() runs the startup hooks once, even called twice (and then by listen)', async () => {
    let runs = 0;
    const app = createApp({
      onStartup: [
        async () => {
          await sleep(10);
          runs++;
        },
      ],
    });
    await Promise.all([app.startup(), app.startup()]);
    await app.startup();
    expect(runs).toBe(1);
    const client = await testClient(app);
    expect(runs).toBe(1);
    await client.close();
    expect(runs).toBe(1);
  });

  test('a failing startup hook makes listen() reject', async () => {
    const app = createApp({ onStartup: [() => Promise.reject(new Error('no db'))] });
    await expect(app.listen(0)).rejects.toThrow('no db');
    expect(app.server).toBeNull();
  });
});

describe('close()', () => {
  test('lets an in-flight request finish, and resolves only after it', async () => {
    const events: string[] = [];
    let started!: () => void;
    const handlerStarted = new Promise<void>((r) => (started = r));
    @Controller()
    class C {
      @Get('/fast')
      fast() {
        return { fast: true };
      }

      @Get('/slow')
      async slow() {
        events.push('handler start');
        started();
        await sleep(300);
        events.push('handler end');
        return { slow: 'done' };
      }
    }
    const app = createApp({
      controllers: [C],
      onShutdown: [() => void events.push('shutdown')],
      onCleanup: [() => void events.push('cleanup')],
    });
    const client = await testClient(app);
    expect((await client.get('/fast')).status).toBe(200); // leaves an idle keep-alive connection
    const pending = client
      .get('/slow')
      .then(async (res) => ({ status: res.status, body: await res.json() }));
    await handlerStarted;
    const t0 = Date.now();
    const closing = client.close().then(() => events.push('closed'));
    const result = await pending;
    await closing;
    expect(result).toEqual({ status: 200, body: { slow: 'done' } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    // shutdown hooks run at once, while the request is in flight; cleanup only after it finished.
    expect(events).toEqual(['handler start', 'shutdown', 'handler end', 'cleanup', 'closed']);
  });

  test('after close() the server accepts no new connection', async () => {
    @Controller()
    class C {
      @Get('/')
      index() {
        return {};
      }
    }
    const app = createApp({ controllers: [C] });
    const url = await app.listen(0);
    expect((await fetch(url + '/')).status).toBe(200);
    await app.close();
    expect(app.server?.listening).toBe(false);
    await expect(fetch(url + '/')).rejects.toThrow();
  });

  test('close() twice is safe: hooks run once, both calls resolve', async () => {
    let shutdowns = 0;
    let cleanups = 0;
    const app = createApp({
      onShutdown: [() => void shutdowns++],
      onCleanup: [() => void cleanups++],
    });
    await app.listen(0);
    const a = app.close();
    const b = app.close();
    await Promise.all([a, b]);
    await app.close();
    expect(shutdowns).toBe(1);
    expect(cleanups).toBe(1);
  });

  test('close() of an app that never listened runs its hooks and resolves', async () => {
    const events: string[] = [];
    const app = createApp({
      onShutdown: [() => void events.push('shutdown')],
      onCleanup: [() => void events.push('cleanup')],
    });
    await app.close();
    expect(events).toEqual(['shutdown', 'cleanup']);
  });
});

describe('listen()', () => {
  test('returns an http URL that serves', async () => {
    @Controller('/api')
    class C {
      @Get('/ping')
      ping() {
        return { pong: true };
      }
    }
    const app = createApp({ controllers: [C] });
    const url = await app.listen(0);
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const port = Number(new URL(url).port);
      expect(port).toBeGreaterThan(0);
      const res = await fetch(url + '/api/ping');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await res.json()).toEqual({ pong: true });
      await expect(app.listen(0)).rejects.toThrow(/already/);
    } finally {
      await app.close();
    }
  });
});

describe('close() and keep-alive connections', () => {
  // A request in flight on a reused keep-alive connection once lost its response to the
  // shutdown's sweep of idle connections (ECONNRESET) when a sweep fell just after its end:
  // handler times from 40 to 230 ms meet any sweep period.
  test('a request in flight on a reused connection gets its answer, round after round', async () => {
    for (let round = 0; round < 20; round++) {
      let started!: () => void;
      const handlerStarted = new Promise<void>((r) => (started = r));
      @Controller()
      class C {
        @Get('/fast') fast() {
          return { fast: true };
        }
        @Get('/slow') async slow() {
          started();
          await new Promise((r) => setTimeout(r, 40 + round * 10));
          return { slow: round };
        }
      }
      const client = await testClient(createApp({ controllers: [C] }));
      expect((await client.get('/fast')).status).toBe(200);
      const pending = client.get('/slow').then(
        async (r) => [r.status, await r.json()],
        (e: Error) => e.message,
      );
      await handlerStarted;
      const closing = client.close();
      expect(await pending).toEqual([200, { slow: round }]);
      await closing;
    }
  });
});

describe('close() while clients keep using their connections', () => {
  @Controller()
  class C {
    @Get('/ping') async ping() {
      await new Promise((r) => setTimeout(r, 2));
      return { pong: true };
    }
  }

  /** Requests one after another on one keep-alive connection, until the server says it closes. */
  async function loop(
    port: number,
    pauseMs: number,
    stats: { ok: number; errors: string[] },
  ): Promise<void> {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (;;) {
        // Node's errors are not instances of the test realm's Error: keep their message.
        type Outcome = { status: number; connection?: string; error?: string };
        const res = await new Promise<Outcome>((resolve, reject) => {
          const req = httpRequest({ agent, port, host: '127.0.0.1', path: '/ping' }, (r) => {
            r.resume();
            r.on('end', () =>
              resolve({ status: r.statusCode ?? 0, connection: r.headers.connection }),
            );
          });
          req.on('error', reject);
          req.end();
        }).catch((e: Error): Outcome => ({ status: 0, error: e.message }));
        if (res.error !== undefined) return void stats.errors.push(res.error);
        if (res.status !== 200) return void stats.errors.push(`status ${res.status}`);
        stats.ok++;
        if (res.connection === 'close') return;
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
      }
    } finally {
      agent.destroy();
    }
  }

  test.each([
    ['back to back', 0],
    ['with pauses shorter than the grace period', 150],
  ])('%s: no request fails, every client is told Connection: close', async (_what, pauseMs) => {
    const app = createApp({ controllers: [C] });
    const port = Number(new URL(await app.listen(0)).port);
    const stats = { ok: 0, errors: [] as string[] };
    const loops = Array.from({ length: 8 }, () => loop(port, pauseMs, stats));
    await new Promise((r) => setTimeout(r, 300));
    const before = stats.ok;
    await app.close();
    await Promise.all(loops);
    expect(stats.errors).toEqual([]);
    expect(before).toBeGreaterThan(8);
    expect(stats.ok).toBeGreaterThan(before); // requests on open connections were still served
  });

  test('an idle keep-alive connection is ended after the grace period, not the 72 s keep-alive timeout', async () => {
    const app = createApp({ controllers: [C] });
    const port = Number(new URL(await app.listen(0)).port);
    const agent = new Agent({ keepAlive: true });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        httpRequest({ agent, port, host: '127.0.0.1', path: '/ping' }, (r) =>
          r.resume().on('end', () => resolve(r.statusCode ?? 0)),
        )
          .on('error', reject)
          .end();
      });
      expect(status).toBe(200);
      const t0 = Date.now();
      await app.close();
      // Serving keeps no per-request timestamp: the grace period counts from close().
      expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
      expect(Date.now() - t0).toBeLessThan(1500);
    } finally {
      agent.destroy();
    }
  });
});
