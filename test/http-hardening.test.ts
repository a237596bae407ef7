import { randomBytes } from 'node:crypto';
import http from 'node:http';
import {
  Controller,
  createApp,
  EncryptedCookieStorage,
  Get,
  getSession,
  Post,
  RococoError,
  sessions,
  type Application,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { closedWithin, readResponse, slowloris } from './helpers/raw-http';
import { rawConnect } from './helpers/raw-websocket';
import { memoryLogger } from './helpers/memory-logger';
import { waitFor } from './helpers/pg-admin';

/**
 * The HTTP server's defences, over real sockets: slow and oversized request heads, uploads
 * that stop half-way, keep-alive timeouts, settings that cannot be served refused at
 * createApp; and which proxies' X-Forwarded-* headers are believed (TRUST_PROXY).
 */

/** What the upload handler saw, for the test that drives it. */
const upload = {
  started: null as null | (() => void),
  settled: null as null | ((outcome: { ok: boolean; error?: unknown }) => void),
};

@Controller('')
class HardeningController {
  @Get('/ping')
  ping() {
    return { ok: true };
  }

  @Get('/headers')
  headers(req: Request) {
    return {
      names: Object.keys(req.headers),
      big: (req.headers['x-big'] as string | undefined)?.length ?? 0,
    };
  }

  @Post('/upload')
  async upload(req: Request) {
    upload.started?.();
    try {
      const body = await req.buffer();
      upload.settled?.({ ok: true });
      return { bytes: body.length };
    } catch (error) {
      upload.settled?.({ ok: false, error });
      throw error;
    }
  }
}

function makeApp(
  settings: Record<string, unknown> = {},
  logger?: ReturnType<typeof memoryLogger>['logger'],
): Application {
  return createApp({ controllers: [HardeningController], settings, ...(logger ? { logger } : {}) });
}

function portOf(client: TestClient): number {
  return Number(new URL(client.url('/')).port);
}

describe('slowloris', () => {
  let client: TestClient;
  afterEach(() => client?.close());

  test('a head trickled a line every 300 ms is answered 408 and cut after HEADERS_TIMEOUT, while others are served', async () => {
    client = await testClient(makeApp({ HEADERS_TIMEOUT: 1000 }));
    const slow = slowloris(portOf(client), '/ping', 300, 8000);

    // A normal client on the same server, meanwhile: every request answered, and promptly.
    const normal: { status: number; ms: number }[] = [];
    for (let i = 0; i < 6; i++) {
      const t = Date.now();
      const res = await client.get('/ping');
      normal.push({ status: res.status, ms: Date.now() - t });
      expect(await res.json()).toEqual({ ok: true });
      await new Promise((r) => setTimeout(r, 150));
    }

    const { text, closedAfterMs, linesSent } = await slow;
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(closedAfterMs).toBeGreaterThanOrEqual(900);
    expect(closedAfterMs).toBeLessThan(4000); // timeout plus node's 1 s check interval, with slack for a busy machine
    expect(linesSent).toBeGreaterThanOrEqual(3); // it kept sending past the timeout: activity does not extend it
    expect(normal.every((n) => n.status === 200)).toBe(true);
    expect(Math.max(...normal.map((n) => n.ms))).toBeLessThan(1000);
    expect((await client.get('/ping')).status).toBe(200);
  });

  test('a complete head sent in time is not cut by HEADERS_TIMEOUT', async () => {
    client = await testClient(makeApp({ HEADERS_TIMEOUT: 1000 }));
    const socket = await rawConnect(portOf(client));
    try {
      socket.write('GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      await new Promise((r) => setTimeout(r, 400));
      socket.write('X-A: b\r\n\r\n');
      const res = await readResponse(socket);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ ok: true });
    } finally {
      socket.destroy();
    }
  });
});

describe('request head size', () => {
  let client: TestClient;
  afterEach(() => client?.close());

  test('a 100 KB header is a 431 with the default MAX_HEADER_SIZE (16 KiB); a 10 KB one passes', async () => {
    client = await testClient(makeApp());
    const big = await client.get('/headers', { headers: { 'x-big': 'a'.repeat(100 * 1024) } });
    expect(big.status).toBe(431);

    const fine = await client.get('/headers', { headers: { 'x-big': 'a'.repeat(10 * 1024) } });
    expect(fine.status).toBe(200);
    expect((await fine.json()).big).toBe(10 * 1024);

    // Just over the default: refused.
    expect(
      (await client.get('/headers', { headers: { 'x-big': 'a'.repeat(17 * 1024) } })).status,
    ).toBe(431);
    expect((await client.get('/ping')).status).toBe(200);
  });

  test('MAX_HEADER_SIZE lowers the limit', async () => {
    client = await testClient(makeApp({ MAX_HEADER_SIZE: 4096 }));
    expect((await client.get('/headers', { headers: { 'x-big': 'a'.repeat(5000) } })).status).toBe(
      431,
    );
    const fine = await client.get('/headers', { headers: { 'x-big': 'a'.repeat(2000) } });
    expect(fine.status).toBe(200);
    expect((await fine.json()).big).toBe(2000);
  });

  test('MAX_HEADER_SIZE raises the limit', async () => {
    client = await testClient(makeApp({ MAX_HEADER_SIZE: 256 * 1024 }));
    const res = await client.get('/headers', { headers: { 'x-big': 'a'.repeat(100 * 1024) } });
    expect(res.status).toBe(200);
    expect((await res.json()).big).toBe(100 * 1024);
  });

  test('MAX_HEADERS_COUNT: further headers are not read', async () => {
    const extras = Array.from({ length: 30 }, (_, i) => `X-Extra-${i}: ${i}\r\n`).join('');
    // Host first, as browsers send it: the headers after the count are dropped, not refused.
    const ask = async (c: TestClient) => {
      const socket = await rawConnect(portOf(c));
      try {
        socket.write(
          `GET /headers HTTP/1.1\r\nHost: 127.0.0.1\r\n${extras}Connection: close\r\n\r\n`,
        );
        const res = await readResponse(socket);
        expect(res.status).toBe(200);
        return (JSON.parse(res.body) as { names: string[] }).names;
      } finally {
        socket.destroy();
      }
    };
    client = await testClient(makeApp({ MAX_HEADERS_COUNT: 8 }));
    const names = await ask(client);
    expect(names.length).toBeLessThanOrEqual(8);
    expect(names).toContain('host');
    expect(names).toContain('x-extra-0');
    expect(names).not.toContain('x-extra-29');

    // The default (200) reads them all.
    await client.close();
    client = await testClient(makeApp());
    expect((await ask(client)).filter((n) => n.startsWith('x-extra-'))).toHaveLength(30);
  });
});

describe('request bodies that stop', () => {
  let client: TestClient;
  afterEach(() => {
    upload.started = null;
    upload.settled = null;
    return client?.close();
  });

  function watchUpload() {
    const started = new Promise<void>((resolve) => (upload.started = resolve));
    const settled = new Promise<{ ok: boolean; error?: unknown }>(
      (resolve) => (upload.settled = resolve),
    );
    return { started, settled };
  }

  function heapAndBuffers(): number {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  }

  test('an upload aborted mid-body rejects req.buffer(), keeps no memory for the declared size, and the server goes on', async () => {
    const declared = 256 * 1024 * 1024;
    const { logger, records } = memoryLogger('info');
    client = await testClient(makeApp({ MAX_BODY_SIZE: 1024 * 1024 * 1024 }, logger));
    const { started, settled } = watchUpload();
    const before = heapAndBuffers();

    const socket = await rawConnect(portOf(client));
    socket.on('error', () => {});
    socket.write(
      `POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`,
    );
    await started;
    const part = Buffer.alloc(1024 * 1024, 0x61);
    await new Promise<void>((resolve) => socket.write(part, () => resolve()));
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();

    const outcome = await Promise.race([
      settled,
      new Promise<never>((_, reject) =>
        setTimeout(
          () =>
            reject(new Error('req.buffer() neither resolved nor rejected within 3 s of the abort')),
          3000,
        ),
      ),
    ]);
    expect(outcome.ok).toBe(false);
    expect(heapAndBuffers() - before).toBeLessThan(declared / 4);

    // The access line says the client went away; the server keeps serving.
    await waitFor(
      () => records.some((r) => r.msg === 'request' && r.path === '/upload'),
      3000,
      'the access line of the upload',
    );
    const line = records.find((r) => r.msg === 'request' && r.path === '/upload')!;
    expect(line).toMatchObject({ aborted: true, method: 'POST', remote: '127.0.0.1' });
    const res = await client.get('/ping');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  test('an upload that stalls mid-body is answered 408 and cut after REQUEST_TIMEOUT', async () => {
    client = await testClient(makeApp({ HEADERS_TIMEOUT: 1000, REQUEST_TIMEOUT: 1500 }));
    const { started, settled } = watchUpload();
    const socket = await rawConnect(portOf(client));
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.write(
      'POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n0123456789',
    );
    await started;
    const ms = await closedWithin(socket, 6000);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(4500);
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect((await settled).ok).toBe(false);
    expect((await client.get('/ping')).status).toBe(200);
  });

  test('an upload within the limits that completes is read whole', async () => {
    client = await testClient(makeApp());
    const { settled } = watchUpload();
    const res = await client.post('/upload', {
      body: Buffer.alloc(300 * 1024, 1) as Uint8Array<ArrayBuffer>,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ bytes: 300 * 1024 });
    expect((await settled).ok).toBe(true);
  });
});

describe('keep-alive', () => {
  let client: TestClient;
  afterEach(() => client?.close());

  test('the server advertises a 72 s keep-alive by default', async () => {
    client = await testClient(makeApp());
    const res = await client.get('/ping');
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBe('keep-alive');
    expect(res.headers.get('keep-alive')).toBe('timeout=72');
  });

  test('KEEP_ALIVE_TIMEOUT changes what is advertised and when an idle connection is closed', async () => {
    client = await testClient(makeApp({ KEEP_ALIVE_TIMEOUT: 1000 }));
    const res = await client.get('/ping');
    expect(res.headers.get('keep-alive')).toBe('timeout=1');

    const socket = await rawConnect(portOf(client));
    socket.on('error', () => {});
    try {
      socket.write('GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
      const answer = await readResponse(socket);
      expect(answer.status).toBe(200);
      expect(answer.head).toMatch(/\r\nKeep-Alive: timeout=1(\r\n|$)/i);
      const idleMs = await closedWithin(socket, 5000);
      expect(idleMs).toBeGreaterThanOrEqual(500);
      expect(idleMs).toBeLessThan(4000);
    } finally {
      socket.destroy();
    }
  });

  test('with the default, an idle keep-alive connection is still open after a few seconds', async () => {
    client = await testClient(makeApp());
    const socket = await rawConnect(portOf(client));
    socket.on('error', () => {});
    try {
      socket.write('GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
      expect((await readResponse(socket)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 2500));
      expect(socket.destroyed).toBe(false);
      socket.write('GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      expect((await readResponse(socket)).status).toBe(200);
    } finally {
      socket.destroy();
    }
  });
});

describe('timeout and size settings', () => {
  const KEYS = [
    'HEADERS_TIMEOUT',
    'REQUEST_TIMEOUT',
    'KEEP_ALIVE_TIMEOUT',
    'MAX_HEADER_SIZE',
    'MAX_HEADERS_COUNT',
  ];

  test.each(KEYS.flatMap((key) => [0, -1, 'x', 1.5, null].map((value) => [key, value] as const)))(
    '%s: %p stops createApp',
    (key, value) => {
      let err: unknown;
      try {
        makeApp({ [key]: value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RococoError);
      expect((err as RococoError).code).toBe('ROCOCO_SETTINGS');
      expect((err as Error).message).toContain(key);
    },
  );

  test('HEADERS_TIMEOUT longer than REQUEST_TIMEOUT stops createApp, not listen()', () => {
    expect(() => makeApp({ HEADERS_TIMEOUT: 5000, REQUEST_TIMEOUT: 2000 })).toThrow(
      /ROCOCO_SETTINGS: HEADERS_TIMEOUT/,
    );
  });

  test('a REQUEST_TIMEOUT under the default HEADERS_TIMEOUT serves, the head bounded by it', async () => {
    const app = makeApp({ REQUEST_TIMEOUT: 5000 });
    const client = await testClient(app);
    try {
      expect((await client.get('/ping')).status).toBe(200);
      expect(app.server!.requestTimeout).toBe(5000);
      expect(app.server!.headersTimeout).toBe(5000);
    } finally {
      await client.close();
    }
  });

  test('the defaults reach the node server', async () => {
    const app = makeApp();
    const client = await testClient(app);
    try {
      const server = app.server!;
      expect(server.headersTimeout).toBe(20_000);
      expect(server.requestTimeout).toBe(300_000);
      expect(server.keepAliveTimeout).toBe(72_000);
      expect(server.maxHeadersCount).toBe(200);
    } finally {
      await client.close();
    }
  });
});

describe('TRUST_PROXY', () => {
  @Controller('')
  class WhoController {
    @Get('/who')
    who(req: Request) {
      return { ip: req.ip, protocol: req.protocol, host: req.host };
    }

    @Get('/visit')
    async visit(req: Request) {
      (await getSession(req)).set('seen', true);
      return { protocol: req.protocol };
    }
  }

  const KEY = randomBytes(32).toString('base64');
  const FORWARDED = {
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-proto': 'https, http',
    'x-forwarded-host': 'shop.example, evil.example',
    host: 'internal:8080',
  };

  async function who(
    trust: unknown,
    headers: Record<string, string> = FORWARDED,
  ): Promise<{ ip: string; protocol: string; host: string }> {
    const client = await testClient(
      createApp({
        controllers: [WhoController],
        settings: trust === undefined ? {} : { TRUST_PROXY: trust },
      }),
    );
    try {
      const res = await client.get('/who', { headers });
      expect(res.status).toBe(200);
      return await res.json();
    } finally {
      await client.close();
    }
  }

  test.each([undefined, false, 0, '0', 'false', ''])(
    '%p: X-Forwarded-For, -Proto and -Host are ignored',
    async (trust) => {
      expect(await who(trust)).toEqual({
        ip: '127.0.0.1',
        protocol: 'http',
        host: 'internal:8080',
      });
    },
  );

  test.each([
    'loopback',
    true,
    1,
    '1',
    'true',
    ['loopback'],
    '127.0.0.1',
    '127.0.0.0/8, 10.0.0.0/8',
  ])('%p (the test client is on loopback): they are used', async (trust) => {
    expect(await who(trust)).toEqual({
      ip: '203.0.113.7',
      protocol: 'https',
      host: 'shop.example',
    });
  });

  test.each(['10.0.0.0/8', ['10.0.0.0/8', '192.168.0.0/16'], 'uniquelocal', '::1'])(
    '%p, which does not include 127.0.0.1: ignored',
    async (trust) => {
      expect(await who(trust)).toEqual({
        ip: '127.0.0.1',
        protocol: 'http',
        host: 'internal:8080',
      });
    },
  );

  test('req.ip is the peer of each connection, request after request on kept-alive ones', async () => {
    const app = createApp({ controllers: [WhoController] });
    const base = await app.listen(0, '127.0.0.1');
    const { port } = new URL(base);
    // Two clients on two loopback addresses, interleaved: each keeps its connection open.
    const agents = ['127.0.0.1', '127.0.0.2'].map(
      (localAddress) => new http.Agent({ keepAlive: true, maxSockets: 1, localAddress }),
    );
    const get = (agent: http.Agent) =>
      new Promise<{ ip: string; port: number }>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: '/who', agent }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () =>
            resolve({ ip: (JSON.parse(body) as { ip: string }).ip, port: req.socket!.localPort! }),
          );
        });
        req.on('error', reject);
      });
    try {
      const seen: { ip: string; port: number }[][] = [[], []];
      for (let i = 0; i < 4; i++)
        for (const [k, agent] of agents.entries()) seen[k].push(await get(agent));
      expect(seen[0].map((s) => s.ip)).toEqual(Array(4).fill('127.0.0.1'));
      expect(seen[1].map((s) => s.ip)).toEqual(Array(4).fill('127.0.0.2'));
      // One connection each, kept alive.
      expect(new Set(seen[0].map((s) => s.port)).size).toBe(1);
      expect(new Set(seen[1].map((s) => s.port)).size).toBe(1);
    } finally {
      for (const agent of agents) agent.destroy();
      await app.close();
    }
  });

  test('without X-Forwarded headers, a trusted peer is the client', async () => {
    const got = await who('loopback', { host: 'direct.example' });
    expect(got).toEqual({ ip: '127.0.0.1', protocol: 'http', host: 'direct.example' });
  });

  test('X-Forwarded-Proto is read case-insensitively, and anything but https is http', async () => {
    expect((await who(true, { 'x-forwarded-proto': 'HTTPS' })).protocol).toBe('https');
    expect((await who(true, { 'x-forwarded-proto': 'http, https' })).protocol).toBe('http');
    expect((await who(true, { 'x-forwarded-proto': 'ftp' })).protocol).toBe('http');
  });

  describe('a chain of X-Forwarded-For', () => {
    const chain = { 'x-forwarded-for': '198.51.100.1, 203.0.113.2, 192.0.2.3' };
    test.each([
      [1, '192.0.2.3'],
      [2, '203.0.113.2'],
      [3, '198.51.100.1'],
      [10, '198.51.100.1'],
      ['2', '203.0.113.2'],
      [true, '198.51.100.1'],
      ['loopback', '192.0.2.3'],
      ['loopback, 192.0.2.3', '203.0.113.2'],
      [['loopback', '192.0.2.0/24', '203.0.113.0/24'], '198.51.100.1'],
      ['10.0.0.0/8', '127.0.0.1'],
    ])('TRUST_PROXY %p: req.ip is %s', async (trust, ip) => {
      expect((await who(trust, chain)).ip).toBe(ip);
    });
  });

  describe("the session cookie's Secure flag follows the protocol a trusted proxy gives", () => {
    async function cookieOf(
      trust: unknown,
      proto: string,
    ): Promise<{ protocol: string; cookie: string }> {
      const client = await testClient(
        createApp({
          controllers: [WhoController],
          settings: { TRUST_PROXY: trust },
          middlewares: [sessions(new EncryptedCookieStorage(KEY))],
        }),
      );
      try {
        const res = await client.get('/visit', { headers: { 'x-forwarded-proto': proto } });
        expect(res.status).toBe(200);
        const cookie = res.headers.getSetCookie().find((c) => c.startsWith('rococo_session='));
        expect(cookie).toBeDefined();
        return { protocol: (await res.json()).protocol, cookie: cookie! };
      } finally {
        await client.close();
      }
    }

    test('a trusted proxy that says https: Secure', async () => {
      const { protocol, cookie } = await cookieOf('loopback', 'https');
      expect(protocol).toBe('https');
      expect(cookie).toMatch(/;\s*Secure/i);
    });

    test('an untrusted one that says https: not Secure', async () => {
      for (const trust of [false, '10.0.0.0/8']) {
        const { protocol, cookie } = await cookieOf(trust, 'https');
        expect(protocol).toBe('http');
        expect(cookie).not.toMatch(/;\s*Secure/i);
      }
    });

    test('a trusted proxy that says http: not Secure', async () => {
      const { protocol, cookie } = await cookieOf(true, 'http');
      expect(protocol).toBe('http');
      expect(cookie).not.toMatch(/;\s*Secure/i);
    });
  });

  test.each([
    -1,
    1.5,
    Number.NaN,
    'not-an-address',
    '10.0.0.0/99',
    'loopback, 300.1.1.1',
    {},
    [1],
    ['loopback', 5],
    '-1',
  ])('%p stops createApp', (trust) => {
    let err: unknown;
    try {
      createApp({ controllers: [WhoController], settings: { TRUST_PROXY: trust } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RococoError);
    expect((err as RococoError).code).toBe('ROCOCO_SETTINGS');
    expect((err as Error).message).toContain('TRUST_PROXY');
  });
});
