import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket as WsClient } from 'ws';
import {
  createApp,
  Controller,
  Template,
  templates,
  Get,
  Post,
  Use,
  WebSocket,
  EncryptedCookieStorage,
  sessions,
  getSession,
  immutableSettings,
  HTTPForbidden,
  HTTPUnauthorized,
  HTTPServiceUnavailable,
  Response,
  type Application,
  type Middleware,
  type Request,
  type WebSocketConnection,
  websockets,
} from '../src';
import { testClient, WebSocketRefused, type TestClient, type TestWebSocket } from '../src/testing';
import { memoryLogger, type LogRecord } from './helpers/memory-logger';
import {
  closeCode,
  frame,
  handshake,
  rawConnect,
  rawRequest,
  rawWebSocket,
} from './helpers/raw-websocket';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it is true; fails with `what` after `timeoutMs`. */
async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** The WebSocketRefused a refused handshake rejects with (fails the test if it opened). */
async function refused(p: Promise<TestWebSocket>): Promise<WebSocketRefused> {
  let ws: TestWebSocket;
  try {
    ws = await p;
  } catch (e) {
    if (e instanceof WebSocketRefused) return e;
    throw e;
  }
  await ws.close();
  throw new Error('the handshake was accepted');
}

// What the handlers saw, for the tests to check that a refused handshake never reached one.
const runs: Record<string, number> = {};
const ran = (name: string) => (runs[name] = (runs[name] ?? 0) + 1);

/** App middleware: `?deny=app` is refused with a 401; otherwise it marks req.state. */
const appGuard: Middleware = async (req, next) => {
  ran('appGuard');
  if (req.query.get('deny') === 'app') throw new HTTPUnauthorized('the app middleware says no');
  req.state.trace = ['app'];
  return next();
};

/** Controller middleware: only `X-Role: admin` passes (403 otherwise). */
const adminOnly: Middleware = async (req, next) => {
  if (req.headers['x-role'] !== 'admin') throw new HTTPForbidden('admins only');
  (req.state.trace as string[]).push('controller');
  return next();
};

/** Method middleware: a bearer token, or 401; sets the user in req.state. */
const token: Middleware = async (req, next) => {
  if (req.headers.authorization !== 'Bearer s3cret')
    throw new HTTPUnauthorized('a token is needed');
  req.state.user = 'alice';
  (req.state.trace as string[]).push('method');
  return next();
};

/** Method middleware that takes its time (a slow session store, say), and counts chains that end. */
const slowGate = { entered: 0, settled: 0 };
const slow: Middleware = async (req, next) => {
  slowGate.entered++;
  await sleep(300);
  try {
    return await next();
  } finally {
    slowGate.settled++;
  }
};

/** Handler's progress in the flood (backpressure) test. */
const flood = { sent: 0, total: 0 };
const CHUNK = 64 * 1024;

@Controller('/ws', { name: 'ws' })
class SocketsController {
  @Get('/http', { name: 'http' })
  http() {
    return { ok: true };
  }

  @Post('/login')
  async login(req: Request) {
    const { user } = (await req.json()) as { user: string };
    (await getSession(req)).set('user', user);
    return { ok: true };
  }

  @WebSocket('/echo', { name: 'echo' })
  async echo(ws: WebSocketConnection) {
    ran('echo');
    for await (const msg of ws) await ws.send(msg.isBinary ? msg.data : msg.text);
  }

  /** A relay: each message sent back as it came (ws.send of the message itself). */
  @WebSocket('/relay')
  async relay(ws: WebSocketConnection) {
    for await (const msg of ws) await ws.send(msg);
  }

  /** The same relay with compression, when the client offers it. */
  @WebSocket('/deflate', { perMessageDeflate: true })
  async deflate(ws: WebSocketConnection) {
    for await (const msg of ws) await ws.send(msg.isBinary ? msg : msg.text);
  }

  @WebSocket('/json')
  async json(ws: WebSocketConnection) {
    for await (const msg of ws) await ws.sendJson({ got: msg.json(), binary: msg.isBinary });
  }

  @WebSocket('/items/<id:\\d+>', { name: 'item' })
  async item(ws: WebSocketConnection, req: Request) {
    await ws.sendJson({
      id: req.params.id,
      sameRequest: ws.req === req,
      query: req.query.get('q'),
    });
  }

  @WebSocket('/chat', { name: 'chat', protocols: ['v2.chat', 'v1.chat'] })
  async chat(ws: WebSocketConnection) {
    await ws.sendJson({ protocol: ws.protocol });
    await ws.closed;
  }

  @WebSocket('/limited', { maxPayload: 1024 })
  async limited(ws: WebSocketConnection) {
    for await (const msg of ws) await ws.send(msg.text);
  }

  @WebSocket('/late')
  async late(ws: WebSocketConnection) {
    const started = Date.now();
    await sleep(300);
    await ws.sendJson({ readingAt: Date.now(), started });
    const got: string[] = [];
    for await (const msg of ws) {
      if (msg.text === 'end') break;
      got.push(msg.text);
    }
    await ws.sendJson(got);
  }

  @WebSocket('/returns')
  async returns(ws: WebSocketConnection) {
    await ws.send('bye');
  }

  @WebSocket('/throws')
  async throws(ws: WebSocketConnection) {
    await ws.send('about to fail');
    throw new Error('boom in a WebSocket handler');
  }

  @WebSocket('/private')
  @Use(token)
  async private(ws: WebSocketConnection, req: Request) {
    ran('private');
    await ws.sendJson({
      user: req.state.user,
      viaConnection: ws.req.state.user,
      trace: req.state.trace,
    });
  }

  @WebSocket('/whoami')
  async whoami(ws: WebSocketConnection, req: Request) {
    const session = await getSession(req);
    await ws.sendJson({ user: session.get('user') ?? null, isNew: session.isNew });
  }

  @WebSocket('/partners', { allowedOrigins: ['https://partner.example'] })
  async partners(ws: WebSocketConnection) {
    await ws.send('welcome, partner');
    await ws.closed;
  }

  @WebSocket('/slow')
  @Use(slow)
  async slowly(ws: WebSocketConnection) {
    ran('slow');
    await ws.send('through');
  }

  @WebSocket('/flood')
  async flood(ws: WebSocketConnection) {
    const go = await ws.next();
    if (go === null) return;
    flood.total = Number(go.text);
    flood.sent = 0;
    for (let i = 0; i < flood.total; i++) {
      // A fresh buffer each time, as a real handler would build: a queue that does not wait
      // would keep every one of them.
      await ws.send(Buffer.alloc(CHUNK, i & 0xff));
      flood.sent = i + 1;
    }
    await ws.send('done');
    await ws.next(); // until the client closes
  }
}

@Use(adminOnly)
@Controller('/admin', { name: 'admin' })
class AdminController {
  @WebSocket('/feed')
  @Use(token)
  async feed(ws: WebSocketConnection, req: Request) {
    ran('admin');
    await ws.sendJson({ trace: req.state.trace });
  }
}

describe('WebSockets on one app', () => {
  let app: Application;
  let client: TestClient;
  let port: number;
  let records: LogRecord[];

  beforeAll(async () => {
    const log = memoryLogger('warn');
    records = log.records;
    app = createApp({
      plugins: [websockets()],
      controllers: [SocketsController, AdminController],
      middlewares: [
        sessions(new EncryptedCookieStorage(randomBytes(32).toString('base64'))),
        appGuard,
      ],
      logger: log.logger,
    });
    client = await testClient(app);
    port = Number(new URL(client.url('/')).port);
  });

  afterAll(async () => {
    await client?.close();
  });

  describe('messages', () => {
    test('text and binary echo, each as its own kind', async () => {
      const ws = await client.ws('/ws/echo');
      await ws.send('héllo, wörld ✓');
      expect(await ws.next()).toBe('héllo, wörld ✓');
      const bytes = randomBytes(3000);
      await ws.send(bytes);
      const back = await ws.next();
      expect(Buffer.isBuffer(back)).toBe(true);
      expect((back as Buffer).equals(bytes)).toBe(true);
      await ws.send('');
      expect(await ws.next()).toBe('');
      expect(await ws.close()).toEqual({ code: 1000, reason: '' });
    });

    test('ws.send(msg) relays a message as it came: text as text (multibyte too), binary as binary', async () => {
      const ws = await client.ws('/ws/relay');
      await ws.send('héllo, 日本 🎉');
      expect(await ws.next()).toBe('héllo, 日本 🎉');
      const bytes = randomBytes(3000);
      await ws.send(bytes);
      const back = await ws.next();
      expect(Buffer.isBuffer(back)).toBe(true);
      expect((back as Buffer).equals(bytes)).toBe(true);
      // Bytes that are valid UTF-8 still come back binary, and text that looks binary as text.
      await ws.send(Buffer.from('plain'));
      expect(Buffer.isBuffer(await ws.next())).toBe(true);
      await ws.send('');
      expect(await ws.next()).toBe('');
      expect(await ws.close()).toEqual({ code: 1000, reason: '' });
    });

    test('answers to messages that came in one read leave in one write, in order', async () => {
      const raw = await rawWebSocket(port, '/ws/relay');
      // node:net makes every write and writev of a socket through _writeGeneric: counting the
      // calls on the server's end of this connection counts its writes.
      const net = Socket.prototype as unknown as { _writeGeneric(...args: unknown[]): unknown };
      const writeGeneric = net._writeGeneric;
      const serverEnd = raw.socket.localPort;
      let writes = 0;
      net._writeGeneric = function (this: Socket, ...args: unknown[]) {
        if (this.remotePort === serverEnd) writes++;
        return writeGeneric.apply(this, args);
      };
      const N = 20;
      try {
        const frames = Array.from({ length: N }, (_, i) =>
          frame(i % 2 === 0 ? 0x1 : 0x2, `message ${i}`),
        );
        raw.socket.write(Buffer.concat(frames));
        for (let i = 0; i < N; i++) {
          const f = await raw.nextFrame();
          expect([f.opcode, f.payload.toString()]).toEqual([
            i % 2 === 0 ? 0x1 : 0x2,
            `message ${i}`,
          ]);
        }
      } finally {
        net._writeGeneric = writeGeneric;
      }
      expect(writes).toBe(1);
      // One message alone is answered as before, and the socket is not left corked.
      raw.socket.write(frame(0x1, 'alone'));
      expect((await raw.nextFrame()).payload.toString()).toBe('alone');
      raw.socket.write(frame(0x8, Buffer.from([0x03, 0xe8])));
      expect(closeCode(await raw.nextFrame())).toBe(1000);
      await raw.ended;
    });

    test('with permessage-deflate agreed, text and binary still echo as they came', async () => {
      const ws = new WsClient(client.url('/ws/deflate').replace(/^http/, 'ws'), {
        perMessageDeflate: { threshold: 0 },
      });
      const got: { data: Buffer; isBinary: boolean }[] = [];
      ws.on('message', (data: Buffer, isBinary) => got.push({ data, isBinary }));
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      expect(ws.extensions).toContain('permessage-deflate');
      const text = 'héllo '.repeat(500);
      const bytes = randomBytes(5000);
      // The echo of 3,500 bytes of repeated text crosses the wire compressed.
      const socket = (ws as unknown as { _socket: Socket })._socket;
      const before = socket.bytesRead;
      ws.send(text);
      await until('the text echo', () => got.length === 1);
      expect(socket.bytesRead - before).toBeLessThan(100);
      ws.send(bytes);
      await until('the binary echo', () => got.length === 2);
      expect(got[0].isBinary).toBe(false);
      expect(got[0].data.toString()).toBe(text);
      expect(got[1].isBinary).toBe(true);
      expect(got[1].data.equals(bytes)).toBe(true);
      ws.close();
      await new Promise((resolve) => ws.once('close', resolve));
    });

    test('JSON: msg.json(), sendJson and nextJson', async () => {
      const ws = await client.ws('/ws/json');
      await ws.sendJson({ a: [1, 2, { b: null }], s: 'ü' });
      expect(await ws.nextJson()).toEqual({
        got: { a: [1, 2, { b: null }], s: 'ü' },
        binary: false,
      });
      await ws.send(Buffer.from('[true]'));
      expect(await ws.nextJson()).toEqual({ got: [true], binary: true });
      await ws.close();
    });

    test('text that is not JSON makes msg.json() throw: the handler fails, 1011, logged', async () => {
      const ws = await client.ws('/ws/json');
      await ws.send('{not json');
      expect((await ws.closed).code).toBe(1011);
      await until('the error log', () =>
        records.some((r) => r.msg === 'WebSocket handler failed' && r.err?.type === 'SyntaxError'),
      );
    });

    test('messages sent before the handler reads are all kept, in order', async () => {
      const ws = await client.ws('/ws/late');
      const sent: string[] = [];
      for (let i = 0; i < 200; i++) sent.push(`m${i}-${'x'.repeat(i % 50)}`);
      await Promise.all(sent.map((m) => ws.send(m)));
      const allSentAt = Date.now();
      await ws.send('end');
      const { readingAt } = await ws.nextJson<{ readingAt: number }>(5000);
      // Every message was on the wire before the handler started to read.
      expect(allSentAt).toBeLessThan(readingAt);
      expect(await ws.nextJson(5000)).toEqual(sent);
      expect((await ws.closed).code).toBe(1000);
    });
    test('more messages than the queue holds before reading (it pauses the socket, then compacts as it is read) all arrive, in order', async () => {
      // 3,000 is well over the 1,024 a connection queues before it stops reading the socket:
      // the queue is read 1,023 deep without ever emptying, and must drop its read slots intact.
      const ws = await client.ws('/ws/late');
      const sent: string[] = [];
      for (let i = 0; i < 3000; i++) sent.push(`m${i}`);
      for (const m of sent) void ws.send(m);
      await ws.send('end');
      await ws.nextJson<{ readingAt: number }>(5000);
      expect(await ws.nextJson(10_000)).toEqual(sent);
      expect((await ws.closed).code).toBe(1000);
    });
  });

  describe('routes', () => {
    test('route parameters reach the handler; a value the regex refuses is a 404', async () => {
      const ws = await client.ws('/ws/items/42?q=x');
      expect(await ws.nextJson()).toEqual({ id: '42', sameRequest: true, query: 'x' });
      expect((await ws.closed).code).toBe(1000);
      expect((await refused(client.ws('/ws/items/abc'))).status).toBe(404);
    });

    test('route names and app.url()', async () => {
      expect(app.url('ws.echo')).toBe('/ws/echo');
      expect(app.url('ws.item', { id: 7 })).toBe('/ws/items/7');
      expect(() => app.url('ws.item', { id: 'seven' })).toThrow();
      const ws = await client.ws(app.url('ws.item', { id: 7 }, { q: 'named' }));
      expect(await ws.nextJson()).toEqual({ id: '7', sameRequest: true, query: 'named' });
      await ws.closed;
    });

    test('subprotocols: the route’s preferred one among those offered', async () => {
      const both = await client.ws('/ws/chat', { protocols: ['v1.chat', 'v2.chat'] });
      expect(both.protocol).toBe('v2.chat');
      expect(await both.nextJson()).toEqual({ protocol: 'v2.chat' });
      await both.close();

      const old = await client.ws('/ws/chat', { protocols: ['x.other', 'v1.chat'] });
      expect(old.protocol).toBe('v1.chat');
      expect(await old.nextJson()).toEqual({ protocol: 'v1.chat' });
      await old.close();

      const none = await client.ws('/ws/chat');
      expect(none.protocol).toBe('');
      expect(await none.nextJson()).toEqual({ protocol: '' });
      await none.close();

      // The server agrees to none of these: a conforming client then gives up.
      await expect(client.ws('/ws/chat', { protocols: ['x.other'] })).rejects.toThrow(
        /subprotocol/i,
      );
    });

    test('a plain GET to a WebSocket route is a 426 with Upgrade: websocket', async () => {
      const res = await client.get('/ws/echo');
      expect(res.status).toBe(426);
      expect(res.headers.get('upgrade')).toBe('websocket');
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    });

    test('an upgrade to an unknown path is a 404, before any middleware', async () => {
      const before = runs.appGuard ?? 0;
      const e = await refused(client.ws('/ws/nothing-here'));
      expect(e.status).toBe(404);
      expect(runs.appGuard ?? 0).toBe(before);
    });

    test('an upgrade to an HTTP route is a 404, and the HTTP route still works', async () => {
      const e = await refused(client.ws('/ws/http'));
      expect(e.status).toBe(404);
      expect(JSON.parse(e.body)).toMatchObject({ status: 404 });
      expect(await (await client.get('/ws/http')).json()).toEqual({ ok: true });
    });
  });

  describe('malformed handshakes (raw sockets)', () => {
    test.each([
      ['a key that is not 16 bytes of base64', { 'sec-websocket-key': 'c2hvcnQ=' }],
      ['no key', { 'sec-websocket-key': null }],
      ['version 8', { 'sec-websocket-version': '8' }],
      ['no version', { 'sec-websocket-version': null }],
    ])('%s is a 400, and no handler runs', async (_what, overrides) => {
      const before = runs.echo ?? 0;
      const res = await rawRequest(port, handshake('/ws/echo', port, overrides));
      expect(res.status).toBe(400);
      expect(res.headers['sec-websocket-version']).toBe('13');
      expect(res.headers.connection).toBe('close');
      expect(JSON.parse(res.body)).toMatchObject({ status: 400 });
      expect(runs.echo ?? 0).toBe(before);
    });

    test('a POST with upgrade headers is a 400', async () => {
      const before = runs.echo ?? 0;
      const res = await rawRequest(port, handshake('/ws/echo', port, {}, 'POST'));
      expect(res.status).toBe(400);
      expect(runs.echo ?? 0).toBe(before);
    });

    test('a hand-written valid handshake is a 101 with the right accept key', async () => {
      const raw = await rawWebSocket(port, '/ws/echo');
      raw.socket.write(frame(0x1, 'raw hello'));
      const f = await raw.nextFrame();
      expect(f).toMatchObject({ fin: true, opcode: 0x1 });
      expect(f.payload.toString()).toBe('raw hello');
      raw.socket.write(frame(0x8, Buffer.from([0x03, 0xe8])));
      const close = await raw.nextFrame();
      expect(close.opcode).toBe(0x8);
      expect(closeCode(close)).toBe(1000);
      await raw.ended;
    });
  });

  describe('middlewares on the upgrade', () => {
    test('a method middleware that throws HTTPUnauthorized: 401, no socket, the handler never runs', async () => {
      const before = runs.private ?? 0;
      const e = await refused(client.ws('/ws/private'));
      expect(e.status).toBe(401);
      expect(JSON.parse(e.body)).toMatchObject({ status: 401, detail: 'a token is needed' });
      await sleep(50);
      expect(runs.private ?? 0).toBe(before);
    });

    test('an app middleware that throws HTTPUnauthorized refuses any WebSocket route with 401', async () => {
      const before = runs.echo ?? 0;
      expect((await refused(client.ws('/ws/echo?deny=app'))).status).toBe(401);
      expect(runs.echo ?? 0).toBe(before);
    });

    test('a controller middleware that throws HTTPForbidden: 403', async () => {
      const before = runs.admin ?? 0;
      const e = await refused(
        client.ws('/admin/feed', {
          headers: { authorization: 'Bearer s3cret', 'x-role': 'guest' },
        }),
      );
      expect(e.status).toBe(403);
      expect(runs.admin ?? 0).toBe(before);
    });

    test('app, controller and method middlewares all pass: the handler sees what they set, in order', async () => {
      const ws = await client.ws('/admin/feed', {
        headers: { authorization: 'Bearer s3cret', 'x-role': 'admin' },
      });
      expect(await ws.nextJson()).toEqual({ trace: ['app', 'controller', 'method'] });
      expect((await ws.closed).code).toBe(1000);
    });

    test('req.state set by a middleware is visible through the req argument and ws.req', async () => {
      const ws = await client.ws('/ws/private', { headers: { authorization: 'Bearer s3cret' } });
      expect(await ws.nextJson()).toEqual({
        user: 'alice',
        viaConnection: 'alice',
        trace: ['app', 'method'],
      });
      await ws.closed;
    });

    test('sessions: the handler reads the session of the cookie sent with the handshake', async () => {
      const anonymous = await client.ws('/ws/whoami');
      expect(await anonymous.nextJson()).toEqual({ user: null, isNew: true });
      await anonymous.closed;

      expect((await client.post('/ws/login', { json: { user: 'bob' } })).status).toBe(200);
      expect(client.cookies.has('rococo_session')).toBe(true);
      const ws = await client.ws('/ws/whoami');
      expect(await ws.nextJson()).toEqual({ user: 'bob', isNew: false });
      await ws.closed;
    });

    test.each([
      ['closes its end (FIN)', false],
      ['resets the connection (RST)', true],
    ])(
      'a client that %s while a middleware is still running: the chain ends, nothing is left waiting',
      async (_what, reset) => {
        const before = { ...slowGate, handler: runs.slow ?? 0 };
        const socket = await rawConnect(port);
        socket.on('error', () => {});
        socket.write(handshake('/ws/slow', port));
        await until('the slow middleware', () => slowGate.entered === before.entered + 1);
        if (reset) socket.resetAndDestroy();
        else socket.destroy();
        await until(
          'the middleware chain to settle',
          () => slowGate.settled === before.settled + 1,
          3000,
        );
        expect(runs.slow ?? 0).toBe(before.handler);
        // and the route still works
        const ws = await client.ws('/ws/slow');
        expect(await ws.next()).toBe('through');
        expect((await ws.closed).code).toBe(1000);
      },
    );
  });

  describe('origins', () => {
    test('a foreign Origin is refused with 403, and the handler does not run', async () => {
      const before = runs.echo ?? 0;
      const e = await refused(
        client.ws('/ws/echo', { headers: { origin: 'https://evil.example' } }),
      );
      expect(e.status).toBe(403);
      expect(runs.echo ?? 0).toBe(before);
      expect((await refused(client.ws('/ws/echo', { headers: { origin: 'null' } }))).status).toBe(
        403,
      );
      // Same host, other scheme: a page served over https elsewhere is another origin.
      expect(
        (await refused(client.ws('/ws/echo', { headers: { origin: `https://127.0.0.1:${port}` } })))
          .status,
      ).toBe(403);
    });

    test('the app’s own origin passes, and so does a client that sends none', async () => {
      const same = await client.ws('/ws/echo', { headers: { origin: `http://127.0.0.1:${port}` } });
      await same.send('same');
      expect(await same.next()).toBe('same');
      await same.close();
      const none = await client.ws('/ws/echo');
      await none.send('none');
      expect(await none.next()).toBe('none');
      await none.close();
    });

    test('allowedOrigins lets a listed origin through, and only that one', async () => {
      const ok = await client.ws('/ws/partners', {
        headers: { origin: 'https://partner.example' },
      });
      expect(await ok.next()).toBe('welcome, partner');
      await ok.close();
      expect(
        (await refused(client.ws('/ws/partners', { headers: { origin: 'https://other.example' } })))
          .status,
      ).toBe(403);
      // the list is per route
      expect(
        (await refused(client.ws('/ws/echo', { headers: { origin: 'https://partner.example' } })))
          .status,
      ).toBe(403);
    });
  });

  describe('closing codes', () => {
    test('a handler that returns closes with 1000', async () => {
      const ws = await client.ws('/ws/returns');
      expect(await ws.next()).toBe('bye');
      expect(await ws.closed).toEqual({ code: 1000, reason: '' });
    });

    test('a handler that throws closes with 1011, and the error is logged', async () => {
      const ws = await client.ws('/ws/throws');
      expect(await ws.next()).toBe('about to fail');
      expect((await ws.closed).code).toBe(1011);
      await until('the error log', () =>
        records.some((r) => r.err?.message === 'boom in a WebSocket handler'),
      );
      const rec = records.find(
        (r) => r.err?.message === 'boom in a WebSocket handler',
      ) as LogRecord;
      expect(rec).toMatchObject({
        level: 50,
        msg: 'WebSocket handler failed',
        url: '/ws/throws',
        route: 'SocketsController.throws',
      });
    });

    test('a message over maxPayload closes with 1009; one at the limit is fine', async () => {
      const ws = await client.ws('/ws/limited');
      await ws.send('a'.repeat(1024));
      expect(await ws.next()).toBe('a'.repeat(1024));
      await ws.send('b'.repeat(1025));
      expect((await ws.closed).code).toBe(1009);
    });

    test.each([
      ['an unmasked frame', frame(0x1, 'not masked', { mask: false })],
      ['a reserved opcode', frame(0x3, 'opcode 3')],
      ['a reserved bit', frame(0x1, 'rsv1', { rsv: 4 })],
    ])('%s closes that socket with 1002; another socket keeps working', async (_what, bad) => {
      const other = await client.ws('/ws/echo');
      const raw = await rawWebSocket(port, '/ws/echo');
      raw.socket.write(bad);
      const f = await raw.nextFrame();
      expect(f.opcode).toBe(0x8);
      expect(closeCode(f)).toBe(1002);
      await raw.ended;
      await other.send('still here');
      expect(await other.next()).toBe('still here');
      await other.close();
    });
  });

  describe('backpressure', () => {
    // Exposes gc() so that memory is measured without garbage in it.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const used = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.external; // external includes the Buffers
    };

    test('a client that stops reading stops the handler’s sends; memory stays bounded; everything arrives after', async () => {
      const TOTAL = 2048; // 128 MiB in 64 KiB messages
      const ws = await client.ws('/ws/flood');
      ws.pause();
      const before = used();
      await ws.send(String(TOTAL));
      // Wait until the handler stalls: no send completes for 500 ms.
      let last = -1;
      let stableSince = Date.now();
      await until(
        'the sends to stall',
        () => {
          if (flood.sent !== last) {
            last = flood.sent;
            stableSince = Date.now();
          }
          return flood.total === TOTAL && flood.sent > 0 && Date.now() - stableSince >= 500;
        },
        15_000,
      );
      const stalled = flood.sent;
      const grown = used() - before;
      // Once the peer stops reading, a send resolves only while the socket holds at most 1 MiB
      // (SEND_HIGH_WATER). What was sent sits in that buffer or the kernel's: the sender's
      // (tcp_wmem, at most 4 MiB here) and the client's receive buffer, which does not grow
      // while the client is not reading (autotuning follows what the application reads), plus
      // the paused client's stream buffer. 256 messages (16 MiB) is well above that and far
      // below the 2048 a send that never waits would complete.
      expect(stalled).toBeLessThan(256);
      await sleep(500);
      expect(flood.sent).toBe(stalled); // still stalled: not merely slow
      // A send that did not wait would hold every remaining message in the server's memory:
      // (2048 - stalled) * 64 KiB, over 110 MiB. Waiting, the process holds the 1 MiB socket
      // buffer and a message or two, plus what the client buffered; 24 MiB leaves room for the
      // allocator's slack.
      expect(grown).toBeLessThan(24 * 1024 * 1024);

      ws.resume();
      for (let i = 0; i < TOTAL; i++) {
        const m = (await ws.next(10_000)) as Buffer;
        if (
          !Buffer.isBuffer(m) ||
          m.length !== CHUNK ||
          m[0] !== (i & 0xff) ||
          m[CHUNK - 1] !== (i & 0xff)
        ) {
          throw new Error(
            `message ${i} is wrong: ${Buffer.isBuffer(m) ? `${m.length} bytes of ${m[0]}` : String(m)}`,
          );
        }
      }
      expect(await ws.next(5000)).toBe('done');
      expect(flood.sent).toBe(TOTAL);
      expect((await ws.close()).code).toBe(1000);
    }, 60_000);
  });
});

@Controller('/hb')
class HeartbeatController {
  @WebSocket('/echo', { heartbeat: 200 })
  async echo(ws: WebSocketConnection) {
    for await (const msg of ws) await ws.send(msg.text);
  }
}

describe('heartbeat', () => {
  let client: TestClient;
  beforeAll(async () => {
    client = await testClient(
      createApp({ plugins: [websockets()], controllers: [HeartbeatController] }),
    );
  });
  afterAll(async () => {
    await client?.close();
  });

  test('a peer that does not answer pings is cut off after the second one (1006 on its side)', async () => {
    const started = Date.now();
    const ws = await client.ws('/hb/echo', { autoPong: false });
    const { code } = await ws.closed;
    const elapsed = Date.now() - started;
    expect(code).toBe(1006);
    // Pinged at ~200 ms, cut off at ~400 ms when the second tick finds no pong.
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(2000);
  });

  test('a peer that answers survives many heartbeats', async () => {
    const ws = new WsClient(client.url('/hb/echo').replace(/^http/, 'ws'));
    let pings = 0;
    ws.on('ping', () => pings++);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    let closedEarly = false;
    void closed.then(() => (closedEarly = true));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    await sleep(1300);
    expect(pings).toBeGreaterThanOrEqual(4);
    expect(closedEarly).toBe(false);
    const echoed = new Promise<string>((resolve) =>
      ws.once('message', (d) => resolve(d.toString())),
    );
    ws.send('alive');
    expect(await echoed).toBe('alive');
    ws.close(1000);
    expect(await closed).toBe(1000);
  });
});

describe('app.close() with open sockets', () => {
  let release: () => void = () => {};
  const stubborn = new Promise<void>((r) => (release = r));
  const ended: string[] = [];

  @Controller()
  class ClosingController {
    @WebSocket('/loop')
    async loop(ws: WebSocketConnection) {
      for await (const msg of ws) await ws.send(msg.text);
      ended.push('loop');
    }

    @WebSocket('/waits')
    async waits(ws: WebSocketConnection) {
      await ws.closed; // ignores messages, ends with the socket
      ended.push('waits');
    }

    @WebSocket('/stubborn')
    async stubborn(ws: WebSocketConnection) {
      await ws.send('ready');
      await stubborn; // ignores the close altogether
    }
  }

  afterAll(() => release());

  test('every open socket gets 1001, the handlers end, close() resolves promptly', async () => {
    const client = await testClient(
      createApp({ plugins: [websockets()], controllers: [ClosingController] }),
    );
    const sockets = [await client.ws('/loop'), await client.ws('/loop'), await client.ws('/waits')];
    await sockets[0].send('x');
    expect(await sockets[0].next()).toBe('x');
    const started = Date.now();
    await client.close();
    expect(Date.now() - started).toBeLessThan(2000);
    for (const s of sockets) expect((await s.closed).code).toBe(1001);
    expect(ended.sort()).toEqual(['loop', 'loop', 'waits']);
  });

  test('a handler that ignores the close: close() still finishes within its 5 s bound', async () => {
    const client = await testClient(
      createApp({ plugins: [websockets()], controllers: [ClosingController] }),
    );
    const ws = await client.ws('/stubborn');
    expect(await ws.next()).toBe('ready');
    const started = Date.now();
    await client.close();
    const elapsed = Date.now() - started;
    expect((await ws.closed).code).toBe(1001);
    expect(elapsed).toBeLessThan(7500);
  }, 15_000);
});

describe('MAX_WEBSOCKETS', () => {
  const deny: Middleware = async () => {
    throw new HTTPUnauthorized();
  };

  @Controller()
  class CappedController {
    @WebSocket('/echo')
    async echo(ws: WebSocketConnection) {
      for await (const msg of ws) await ws.send(msg.text);
    }

    @WebSocket('/denied')
    @Use(deny)
    async denied(ws: WebSocketConnection) {
      await ws.send('never');
    }
  }

  let client: TestClient;
  beforeAll(async () => {
    client = await testClient(
      createApp({
        plugins: [websockets()],
        controllers: [CappedController],
        settings: immutableSettings({ MAX_WEBSOCKETS: 2 }),
      }),
    );
  });
  afterAll(async () => {
    await client?.close();
  });

  test('refused handshakes do not use up the cap', async () => {
    for (let i = 0; i < 5; i++) expect((await refused(client.ws('/denied'))).status).toBe(401);
    const a = await client.ws('/echo');
    const b = await client.ws('/echo');
    await a.close();
    await b.close();
  });

  test('a third socket gets 503 with Retry-After; once one closes, a new one is accepted', async () => {
    const a = await client.ws('/echo');
    const b = await client.ws('/echo');
    const e = await refused(client.ws('/echo'));
    expect(e.status).toBe(503);
    expect(e.headers['retry-after']).toBe('5');
    // the two open ones are unaffected
    await b.send('b');
    expect(await b.next()).toBe('b');
    await a.close();
    let c: TestWebSocket | null = null;
    const deadline = Date.now() + 3000;
    while (c === null) {
      try {
        c = await client.ws('/echo');
      } catch (err) {
        if (!(err instanceof WebSocketRefused) || err.status !== 503 || Date.now() > deadline)
          throw err;
        await sleep(20);
      }
    }
    await c.send('c');
    expect(await c.next()).toBe('c');
    await c.close();
    await b.close();
  });
});

describe('1,000 concurrent sockets on one process', () => {
  const live = { open: 0, peak: 0 };

  @Controller()
  class ManyController {
    @WebSocket('/echo')
    async echo(ws: WebSocketConnection) {
      live.open++;
      live.peak = Math.max(live.peak, live.open);
      try {
        for await (const msg of ws) await ws.send(msg.text);
      } finally {
        live.open--;
      }
    }
  }

  test('open 1,000, each echoes once, all close cleanly', async () => {
    const client = await testClient(
      createApp({ plugins: [websockets()], controllers: [ManyController] }),
    );
    try {
      const N = 1000;
      const sockets: TestWebSocket[] = [];
      for (let i = 0; i < N; i += 100) {
        sockets.push(...(await Promise.all(Array.from({ length: 100 }, () => client.ws('/echo')))));
      }
      expect(sockets).toHaveLength(N);
      await until('every handler to start', () => live.open === N);
      const echoes = await Promise.all(
        sockets.map(async (s, i) => {
          await s.send(`hello ${i}`);
          return s.next(10_000);
        }),
      );
      expect(echoes).toEqual(sockets.map((_, i) => `hello ${i}`));
      expect(live.peak).toBe(N);
      const closes = await Promise.all(sockets.map((s) => s.close()));
      expect(closes.every((c) => c.code === 1000)).toBe(true);
      await until('every handler to end', () => live.open === 0);
    } finally {
      await client.close();
    }
  }, 30_000);
});

describe('middlewares that act after the upgrade', () => {
  // A middleware may return a response of its own (documented: "change the response it gets
  // back"); on an upgrade there is nothing to send any more, and the socket must stay a WebSocket.
  const wrap: Middleware = async (req, next) => {
    const res = await next();
    return new Response(res.body, {
      status: res.status,
      headers: { ...res.headers, 'x-wrapped': '1' },
    });
  };
  const tag: Middleware = async (req, next) => {
    const res = await next();
    res.setHeader('x-request-id', String(req.headers['x-request-id']));
    return res;
  };

  @Controller()
  class WrappedController {
    @WebSocket('/echo')
    async echo(ws: WebSocketConnection) {
      for await (const msg of ws) await ws.send(msg.text);
    }
  }

  // ... or fail after next() resolved (a session store that went down while saving, say).
  const failsAfter: Middleware = async (req, next) => {
    const res = await next();
    if (req.headers['x-fail-after'] === '1') throw new HTTPServiceUnavailable('the store is down');
    return res;
  };

  test.each([
    ['replaces the response', { 'x-request-id': 'r1' }],
    ['throws after next()', { 'x-fail-after': '1' }],
  ])('a middleware that %s: the socket stays a working WebSocket', async (_what, headers) => {
    const client = await testClient(
      createApp({
        plugins: [websockets()],
        controllers: [WrappedController],
        middlewares: [wrap, failsAfter, tag],
      }),
    );
    try {
      for (let i = 0; i < 3; i++) {
        const ws = await client.ws('/echo', { headers });
        await sleep(50); // the chain has unwound by now
        await ws.send(`after the chain ${i}`);
        expect(await ws.next()).toBe(`after the chain ${i}`);
        expect((await ws.close()).code).toBe(1000);
      }
    } finally {
      await client.close();
    }
  });
});

describe('startup checks of @WebSocket routes', () => {
  test('without the websockets plugin, or with another plugin’s decorator, createApp names the route', () => {
    @Controller('/ws')
    class Plain {
      @WebSocket('/echo') async echo(ws: WebSocketConnection) {
        for await (const msg of ws) await ws.send(msg.text);
      }
    }
    expect(() => createApp({ controllers: [Plain] })).toThrow(
      "ROCOCO_PLUGIN: Plain.echo: @WebSocket needs the 'websockets' plugin: add it to createApp({ plugins })",
    );
    @Controller('/ws')
    class Templated {
      @WebSocket('/page') @Template('page.html') async page() {}
    }
    expect(() =>
      createApp({
        controllers: [Templated],
        plugins: [websockets(), templates({ dir: __dirname })],
      }),
    ).toThrow('ROCOCO_WEBSOCKET: Templated.page: @WebSocket routes cannot have @Template');
  });
});
