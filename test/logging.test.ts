import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable, type Readable } from 'node:stream';
import pino, { type Logger } from 'pino';
import {
  Controller,
  createApp,
  Get,
  HTTPBadRequest,
  HTTPError,
  HTTPNotFound,
  Response,
  type Application,
  type Plugin,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';
import { memoryLogger, type LogRecord } from './helpers/memory-logger';
import { rawConnect, rawRequest } from './helpers/raw-websocket';
import { waitFor } from './helpers/pg-admin';

/**
 * Logging as a user sees it: one access line per request, errors at error level with their
 * stack, request ids from the client or made here, `req.log` lines tagged with the id, and
 * credentials redacted by the default logger.
 */

const ERROR = 50;

/** A response that starts, then fails: what a streaming subclass can do. */
class HalfWritten extends Response {
  override writeTo(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('half');
    throw new Error('failed half-way');
  }
}

@Controller('')
class LogController {
  @Get('/hello')
  hello(req: Request) {
    req.log.info({ step: 'handler' }, 'hello from the handler');
    return { hello: 'world' };
  }

  @Get('/not-here')
  notHere() {
    throw new HTTPNotFound('no such thing');
  }

  @Get('/bad')
  bad() {
    throw new HTTPBadRequest('nope');
  }

  @Get('/boom')
  async boom() {
    await Promise.resolve();
    throw new Error('kaboom');
  }

  @Get('/half')
  half() {
    return new HalfWritten('');
  }

  @Get('/unsendable')
  unsendable() {
    throw new HTTPError(409, 'conflict', { headers: { 'x-bad': 'a\nb' } });
  }
}

function makeApp(settings: Record<string, unknown> = {}): {
  app: Application;
  records: LogRecord[];
} {
  const { logger, records } = memoryLogger('info');
  return { app: createApp({ controllers: [LogController], settings, logger }), records };
}

const accessLines = (records: LogRecord[]) => records.filter((r) => r.msg === 'request');

async function accessLineOf(records: LogRecord[], reqId: string): Promise<LogRecord> {
  await waitFor(
    () => accessLines(records).some((r) => r.reqId === reqId),
    3000,
    `the access line of ${reqId}`,
  );
  const lines = accessLines(records).filter((r) => r.reqId === reqId);
  expect(lines).toHaveLength(1);
  return lines[0];
}

describe('access log', () => {
  let client: TestClient;
  let records: LogRecord[];
  beforeEach(async () => {
    const made = makeApp();
    records = made.records;
    client = await testClient(made.app);
  });
  afterEach(() => client.close());

  test('one info line per request: method, path, status, bytes, ms, reqId, remote', async () => {
    const res = await client.get('/hello?x=1');
    expect(res.status).toBe(200);
    const id = res.headers.get('x-request-id')!;
    expect(id).toBeTruthy();
    const body = await res.text();

    const line = await accessLineOf(records, id);
    expect(line.level).toBe(30);
    expect(line).toMatchObject({
      msg: 'request',
      method: 'GET',
      path: '/hello',
      status: 200,
      bytes: Buffer.byteLength(body),
      reqId: id,
      remote: '127.0.0.1',
    });
    expect(typeof line.ms).toBe('number');
    expect(line.ms as number).toBeGreaterThanOrEqual(0);
    expect(line.ms as number).toBeLessThan(5000);
    expect(line.aborted).toBeUndefined();

    // One line each, also for several requests on the same connection.
    const more = await Promise.all([
      client.get('/hello'),
      client.get('/hello'),
      client.head('/hello'),
    ]);
    for (const r of more) await accessLineOf(records, r.headers.get('x-request-id')!);
    expect(accessLines(records)).toHaveLength(4);
    expect(accessLines(records).find((r) => r.method === 'HEAD')).toMatchObject({
      path: '/hello',
      status: 200,
    });
  });

  test('404s, 405s and 500s get their line too', async () => {
    const missing = await client.get('/nowhere');
    expect(missing.status).toBe(404);
    expect(await accessLineOf(records, missing.headers.get('x-request-id')!)).toMatchObject({
      method: 'GET',
      path: '/nowhere',
      status: 404,
    });

    const wrongMethod = await client.post('/hello');
    expect(wrongMethod.status).toBe(405);
    expect(await accessLineOf(records, wrongMethod.headers.get('x-request-id')!)).toMatchObject({
      method: 'POST',
      path: '/hello',
      status: 405,
    });

    const boom = await client.get('/boom');
    expect(boom.status).toBe(500);
    const body = await boom.text();
    expect(await accessLineOf(records, boom.headers.get('x-request-id')!)).toMatchObject({
      path: '/boom',
      status: 500,
      bytes: Buffer.byteLength(body),
    });
  });

  test('an HTTP error is not logged at error level', async () => {
    const ids: string[] = [];
    for (const path of ['/not-here', '/bad', '/nowhere']) {
      const res = await client.get(path);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      ids.push(res.headers.get('x-request-id')!);
    }
    for (const id of ids) await accessLineOf(records, id);
    expect(records.filter((r) => r.level >= ERROR)).toEqual([]);
  });

  test('a thrown Error is logged at error level with its stack and the request id', async () => {
    const res = await client.get('/boom');
    expect(res.status).toBe(500);
    const id = res.headers.get('x-request-id')!;
    const errors = records.filter((r) => r.level === ERROR);
    expect(errors).toHaveLength(1);
    const [line] = errors;
    expect(line.reqId).toBe(id);
    expect(line).toMatchObject({ method: 'GET', url: '/boom' });
    const err = line.err as { type: string; message: string; stack: string };
    expect(err.type).toBe('Error');
    expect(err.message).toBe('kaboom');
    expect(err.stack).toMatch(/^Error: kaboom\n\s+at /);
    expect(err.stack).toContain('logging.test.ts');
  });

  test('an error after the response has started is logged with the request id', async () => {
    // Raw, to see what the client gets: the connection is cut, never a complete response, so
    // the client can tell something went wrong.
    const port = Number(new URL(client.url('/')).port);
    const socket = await rawConnect(port);
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('GET /half HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await closed;
    expect(text.endsWith('0\r\n\r\n')).toBe(false);
    await waitFor(() => records.some((r) => r.level === ERROR), 3000, 'the error line');
    const line = records.find((r) => r.level === ERROR)!;
    expect(line.msg).toBe('error after the response was started');
    expect((line.err as { message: string }).message).toBe('failed half-way');
    expect(typeof line.reqId).toBe('string');
    if (text.includes('x-request-id:')) expect(text).toContain(`x-request-id: ${line.reqId}\r\n`);
    const access = await accessLineOf(records, line.reqId as string);
    expect(access).toMatchObject({ path: '/half', status: 200, aborted: true });
  });

  test('an error response that cannot be sent is logged with the request id, and a bare 500 goes out', async () => {
    const res = await client.get('/unsendable');
    expect(res.status).toBe(500);
    const id = res.headers.get('x-request-id')!;
    const line = records.find(
      (r) => r.level === ERROR && r.msg === 'the error response could not be sent',
    );
    expect(line).toBeDefined();
    expect(line!.reqId).toBe(id);
    expect(await res.json()).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
    });
  });
});

describe('access log of an app mounted on a server of your own (app.handle)', () => {
  // node's own ServerResponse, not the one app.createServer() gives its servers: the line and
  // the response hooks are run by a 'close' listener instead.
  let server: Server;
  let port: number;
  let records: LogRecord[];
  const hooked: string[] = [];
  beforeAll(async () => {
    const made = makeApp();
    records = made.records;
    made.app.onResponse((req, res) => void hooked.push(`${req.id} ${res.statusCode}`));
    await made.app.startup();
    server = createServer(made.app.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  test('one line and one hook call per request, finished or cut', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/hello`);
    const body = await res.text();
    const id = res.headers.get('x-request-id')!;
    const line = await accessLineOf(records, id);
    expect(line).toMatchObject({ path: '/hello', status: 200, bytes: Buffer.byteLength(body) });
    expect(line.aborted).toBeUndefined();
    await waitFor(() => hooked.includes(`${id} 200`), 3000, 'the response hook');

    const socket = await rawConnect(port);
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('GET /half HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await closed;
    await waitFor(() => accessLines(records).some((r) => r.path === '/half'), 3000, 'the line');
    const half = accessLines(records).filter((r) => r.path === '/half');
    expect(half).toHaveLength(1);
    expect(half[0]).toMatchObject({ status: 200, aborted: true });
    expect(hooked.filter((h) => h.startsWith(`${half[0].reqId as string} `))).toHaveLength(1);
  });
});

test("the access line's remote is the client's address as TRUST_PROXY sees it", async () => {
  for (const [trust, remote] of [
    [false, '127.0.0.1'],
    ['loopback', '198.51.100.9'],
  ] as const) {
    const { app, records } = makeApp({ TRUST_PROXY: trust });
    const client = await testClient(app);
    try {
      const res = await client.get('/hello', { headers: { 'x-forwarded-for': '198.51.100.9' } });
      expect((await accessLineOf(records, res.headers.get('x-request-id')!)).remote).toBe(remote);
    } finally {
      await client.close();
    }
  }
});

test('ACCESS_LOG false: no access lines, other lines still written', async () => {
  const { app, records } = makeApp({ ACCESS_LOG: false });
  const client = await testClient(app);
  try {
    for (const path of ['/hello', '/nowhere', '/boom']) await client.get(path);
    await new Promise((r) => setTimeout(r, 300));
    expect(accessLines(records)).toEqual([]);
    expect(records.some((r) => r.msg === 'hello from the handler')).toBe(true);
    expect(records.some((r) => r.level === ERROR)).toBe(true);
  } finally {
    await client.close();
  }
});

describe('request ids', () => {
  let client: TestClient;
  let records: LogRecord[];
  beforeEach(async () => {
    const made = makeApp();
    records = made.records;
    client = await testClient(made.app);
  });
  afterEach(() => client.close());

  test.each([
    'abc-123',
    'trace.id:7@edge/+=_',
    'A'.repeat(128),
    '0af7651916cd43dd8448eb211c80319c',
  ])('a well-formed X-Request-Id (%s) is echoed and used as reqId', async (given) => {
    const res = await client.get('/hello', { headers: { 'x-request-id': given } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(given);
    expect((await accessLineOf(records, given)).path).toBe('/hello');
    expect(records.find((r) => r.msg === 'hello from the handler')?.reqId).toBe(given);
  });

  test.each([
    'A'.repeat(129),
    'has space',
    'tab\there',
    'quote"d',
    'semi;colon',
    '<script>',
    'caf\u00e9',
    'a, b',
  ])('a malformed X-Request-Id (%p) is replaced by a generated one', async (given) => {
    const res = await client.get('/hello', { headers: { 'x-request-id': given } });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-request-id')!;
    expect(id).not.toBe(given);
    expect(id).toMatch(/^[A-Za-z0-9_-]{12}$/);
    await accessLineOf(records, id);
    expect(JSON.stringify(records)).not.toContain(JSON.stringify(given).slice(1, -1));
  });

  test('an X-Request-Id with a line break never reaches the app: node refuses the request', async () => {
    const port = Number(new URL(client.url('/')).port);
    const res = await rawRequest(
      port,
      'GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: abc\ninjected: 1\r\nConnection: close\r\n\r\n',
    );
    expect(res.status).toBe(400);
    await new Promise((r) => setTimeout(r, 100));
    expect(records.filter((r) => r.msg === 'hello from the handler')).toEqual([]);
    expect(JSON.stringify(records)).not.toContain('injected');
  });

  test('an empty X-Request-Id is replaced', async () => {
    const port = Number(new URL(client.url('/')).port);
    const res = await rawRequest(
      port,
      'GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: \r\nConnection: close\r\n\r\n',
    );
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9_-]{12}$/);
  });

  test('generated ids are unique, within an app and across apps', async () => {
    const ids: string[] = [];
    for (let batch = 0; batch < 5; batch++) {
      const responses = await Promise.all(Array.from({ length: 20 }, () => client.get('/hello')));
      for (const r of responses) ids.push(r.headers.get('x-request-id')!);
    }
    expect(new Set(ids).size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{12}$/);
    // Each is the reqId of its own access line.
    await waitFor(() => accessLines(records).length === 100, 3000, '100 access lines');
    expect(new Set(accessLines(records).map((r) => r.reqId))).toEqual(new Set(ids));

    const other = await testClient(makeApp().app);
    try {
      const theirs = (await other.get('/hello')).headers.get('x-request-id')!;
      expect(ids).not.toContain(theirs);
      expect(theirs.split('-')[0]).not.toBe(ids[0].split('-')[0]);
    } finally {
      await other.close();
    }
  });

  test('req.log lines carry their own request id, also when requests overlap', async () => {
    const given = Array.from({ length: 10 }, (_, i) => `overlap-${i}`);
    const responses = await Promise.all(
      given.map((id) => client.get('/hello', { headers: { 'x-request-id': id } })),
    );
    expect(responses.map((r) => r.headers.get('x-request-id'))).toEqual(given);
    const lines = records.filter((r) => r.msg === 'hello from the handler');
    expect(lines).toHaveLength(10);
    expect(new Set(lines.map((r) => r.reqId))).toEqual(new Set(given));
    for (const l of lines) expect(l.step).toBe('handler');

    const res = await client.get('/hello');
    const id = res.headers.get('x-request-id')!;
    expect(records.filter((r) => r.msg === 'hello from the handler').at(-1)!.reqId).toBe(id);
  });
});

/**
 * Runs the default-logger app in a child process; returns its stdout once it has exited. Its
 * stdout is a pipe, or the file `stdoutFile` (then '' is returned).
 */
async function withDefaultLogger(
  use: (base: string) => Promise<void>,
  stdoutFile?: string,
): Promise<string> {
  const out = stdoutFile === undefined ? 'pipe' : openSync(stdoutFile, 'w');
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', join(__dirname, 'helpers', 'default-logger-app.ts')],
    {
      cwd: join(__dirname, '..'),
      env: { ...process.env, LOG_LEVEL: 'silent', DEBUG: '' },
      stdio: ['pipe', out, 'pipe'],
    },
  ) as ChildProcessByStdio<Writable, Readable | null, Readable>;
  if (typeof out === 'number') closeSync(out);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  try {
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the child app did not start within 45 s: ${stderr}`)),
        45_000,
      );
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString('utf8');
        const m = /listening (\S+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`the child app exited (${code}): ${stderr}`)));
    });
    await use(base);
  } finally {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  return stdout;
}

describe("the default logger's redaction", () => {
  const SECRETS = [
    'cookie-value-1',
    'bearer-value-1',
    'session-value-1',
    'session-value-2',
    'password-value-1',
    'password-value-2',
  ];

  test('credentials in headers, sessions and passwords are [redacted] in what the app writes to stdout', async () => {
    let id = '';
    const stdout = await withDefaultLogger(async (base) => {
      const res = await fetch(`${base}/leak`, {
        headers: {
          cookie: 'rococo_session=cookie-value-1',
          authorization: 'Bearer bearer-value-1',
          'x-visible': 'shown-value',
          'x-request-id': 'redaction-test',
        },
      });
      expect(res.status).toBe(200);
      id = res.headers.get('x-request-id')!;
    });
    const lines = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogRecord);
    const byMsg = (msg: string) => {
      const line = lines.find((l) => l.msg === msg);
      expect(line).toBeDefined();
      expect(line!.reqId).toBe('redaction-test');
      return line as Record<string, any>;
    };

    const asHeaders = byMsg('as headers');
    expect(asHeaders.headers.cookie).toBe('[redacted]');
    expect(asHeaders.headers.authorization).toBe('[redacted]');
    expect(asHeaders.headers['x-visible']).toBe('shown-value'); // only credentials go

    const asReq = byMsg('as req.headers');
    expect(asReq.req.headers.cookie).toBe('[redacted]');
    expect(asReq.req.headers.authorization).toBe('[redacted]');
    expect(asReq.req.headers['x-visible']).toBe('shown-value');

    expect(byMsg('as session').session).toBe('[redacted]');
    const nested = byMsg('nested');
    expect(nested.user).toEqual({ id: 7, session: '[redacted]', password: '[redacted]' });
    const asPassword = byMsg('as password');
    expect(asPassword.password).toBe('[redacted]');
    expect(asPassword.email).toBe('demo@example.com');

    for (const s of SECRETS) expect(stdout).not.toContain(s);
    // The default logger writes the access line too.
    expect(id).toBe('redaction-test');
    expect(lines.find((l) => l.msg === 'request')).toMatchObject({
      reqId: 'redaction-test',
      method: 'GET',
      path: '/leak',
      status: 200,
      level: 30,
    });
  }, 90_000);
});

test('apps with the default logger share its destination: making many adds one exit hook, not one each', async () => {
  const before = process.listenerCount('exit');
  for (let i = 0; i < 20; i++) {
    const app = createApp({ controllers: [], settings: { LOG_LEVEL: 'silent' } });
    await app.close();
  }
  expect(process.listenerCount('exit') - before).toBeLessThanOrEqual(1);
});

test('the default logger writes what it is given as it goes: a burst of lines in one turn is out before the turn ends, none queued', async () => {
  // What a busy server logs in one turn (1,000 pipelined requests): ~200 KB. An asynchronous
  // destination ends its first write in the next turn at the earliest, and held all of it.
  const dir = mkdtempSync(join(tmpdir(), 'rococo-burst-'));
  const file = join(dir, 'stdout.log');
  try {
    const N = 1500;
    let written = -1;
    await withDefaultLogger(async (base) => {
      const res = await fetch(`${base}/burst/${N}`);
      expect(res.status).toBe(200);
      written = ((await res.json()) as { written: number }).written;
    }, file);
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const burst = lines.map((l) => JSON.parse(l) as LogRecord).filter((l) => l.msg === 'burst');
    expect(burst.map((l) => l.i)).toEqual(Array.from({ length: N }, (_, i) => i));
    const total = burst.reduce((n, l) => n + Buffer.byteLength(JSON.stringify(l)) + 1, 0);
    expect(total).toBeGreaterThan(200_000);
    // All but the last batch (8 KiB) was on stdout when the handler returned.
    expect(written).toBeGreaterThan(total - 8192);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);

test('the default logger loses no line at exit, and keeps lines in the order they were logged', async () => {
  const N = 300;
  const stdout = await withDefaultLogger(async (base) => {
    for (let i = 0; i < N; i++) expect((await fetch(`${base}/nowhere/${i}`)).status).toBe(404);
    const res = await fetch(`${base}/leak`, { headers: { 'x-request-id': 'last-one' } });
    expect(res.status).toBe(200);
    // Exits at once: the 1 s flush has not come, what is left is written at exit.
    expect((await fetch(`${base}/exit`)).status).toBe(200);
  });
  const lines = stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogRecord);
  expect(lines.filter((l) => l.msg === 'request').map((l) => l.path)).toEqual([
    ...Array.from({ length: N }, (_, i) => `/nowhere/${i}`),
    '/leak',
    '/exit',
  ]);
  // The handler's lines, then its access line: all of them through one batch.
  expect(lines.slice(-7, -1).map((l) => [l.reqId, l.msg])).toEqual([
    ['last-one', 'as headers'],
    ['last-one', 'as req.headers'],
    ['last-one', 'as session'],
    ['last-one', 'nested'],
    ['last-one', 'as password'],
    ['last-one', 'request'],
  ]);
}, 90_000);

describe('answers node gives before the app (400, 431, 408)', () => {
  const refused = (records: LogRecord[]) => records.filter((r) => r.msg === 'request refused');

  test('each gets an info line with its status, the parser code and the remote address, and nothing the client sent', async () => {
    const { app, records } = makeApp({ HEADERS_TIMEOUT: 1000 });
    const client = await testClient(app);
    try {
      const port = Number(new URL(client.url('/')).port);
      const garbage = await rawRequest(port, 'GARBAGE /secret-token HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(garbage.status).toBe(400);
      const big = await rawRequest(
        port,
        `GET /hello HTTP/1.1\r\nHost: x\r\nCookie: ${'s'.repeat(100_000)}\r\n\r\n`,
      );
      expect(big.status).toBe(431);
      const slow = await rawRequest(port, 'GET /hello HTTP/1.1\r\nHost: x\r\n', 5000); // the head never ends
      expect(slow.status).toBe(408);

      await waitFor(() => refused(records).length === 3, 3000, 'three refusal lines');
      expect(refused(records)).toEqual([
        expect.objectContaining({
          level: 30,
          status: 400,
          code: 'HPE_INVALID_METHOD',
          remote: '127.0.0.1',
        }),
        expect.objectContaining({
          level: 30,
          status: 431,
          code: 'HPE_HEADER_OVERFLOW',
          remote: '127.0.0.1',
        }),
        expect.objectContaining({
          level: 30,
          status: 408,
          code: 'ERR_HTTP_REQUEST_TIMEOUT',
          remote: '127.0.0.1',
        }),
      ]);
      const text = JSON.stringify(records);
      expect(text).not.toContain('secret-token');
      expect(text).not.toContain('sssss');
      expect((await client.get('/hello')).status).toBe(200); // the server is fine
    } finally {
      await client.close();
    }
  });

  test('with ACCESS_LOG off, node still answers them, and nothing is logged', async () => {
    const { app, records } = makeApp({ ACCESS_LOG: false });
    const client = await testClient(app);
    try {
      const port = Number(new URL(client.url('/')).port);
      expect((await rawRequest(port, 'GARBAGE / HTTP/1.1\r\n\r\n')).status).toBe(400);
      expect(refused(records)).toEqual([]);
    } finally {
      await client.close();
    }
  });

  test('a client that resets mid-head gets no answer and leaves no line', async () => {
    const { app, records } = makeApp();
    const client = await testClient(app);
    try {
      const port = Number(new URL(client.url('/')).port);
      const socket = await rawConnect(port);
      socket.write('GET /hello HTTP/1.1\r\nHost: x\r\n');
      await new Promise((r) => setTimeout(r, 50));
      socket.resetAndDestroy();
      await new Promise((r) => setTimeout(r, 200));
      expect(refused(records)).toEqual([]);
      expect((await client.get('/hello')).status).toBe(200);
    } finally {
      await client.close();
    }
  });
});

describe('access lines as pino writes them', () => {
  /** A pino logger whose lines are kept as written, unparsed. */
  function rawLogger(options: pino.LoggerOptions = {}): { logger: Logger; lines: string[] } {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(line);
        callback();
      },
    });
    return { logger: pino({ level: 'debug', ...options }, stream), lines };
  }

  const FIELDS = {
    traceId: 'abc123',
    quoted: 'say "hi" \\ bye',
    control: 'a\nb\tc\u0001d\u007f',
    multibyte: 'café 日本 😀',
    long: 'x'.repeat(101) + '"',
    count: 7,
    ratio: 0.25,
    infinite: Infinity,
    flag: false,
    missing: undefined,
  };

  const probe: Plugin = {
    name: 'probe',
    setup(app) {
      app.addRoute({
        methods: ['GET'],
        pattern: '/probe',
        origin: 'test',
        handler: () => ({ ok: true }),
        quiet: true,
      });
    },
  };

  async function serve(
    logger: Logger,
    fields: (req: Request) => Record<string, unknown> | undefined,
    use: (port: number, client: TestClient) => Promise<void>,
  ): Promise<void> {
    const app = createApp({ controllers: [LogController], plugins: [probe], logger });
    app.logFields(fields);
    const client = await testClient(app);
    try {
      await use(Number(new URL(client.url('/')).port), client);
    } finally {
      await client.close();
    }
  }

  test('every field, in the order and escaping of pino itself, for any path and logFields value', async () => {
    const { logger, lines } = rawLogger();
    const { logger: reference, lines: expected } = rawLogger();
    // node refuses a request target with a byte outside printable ASCII (400): characters
    // beyond come percent-encoded (as fetch sends them), and into a line through logFields.
    const paths = [
      '/caf%C3%A9',
      '/%E6%97%A5%E6%9C%AC',
      '/%F0%9F%98%80',
      '/a"b',
      '/back\\slash',
      '/%00%0a',
      '/' + 'p'.repeat(120) + '"',
    ];
    await serve(
      logger,
      (req) => (req.path === '/hello' ? { ...FIELDS, asObject: { nested: [1] } } : FIELDS),
      async (port, client) => {
        for (const path of paths) {
          const res = await rawRequest(
            port,
            `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
          );
          expect(res.status).toBe(404);
        }
        expect((await client.get('/hello')).status).toBe(200);
        expect((await client.get('/probe')).status).toBe(200);
      },
    );
    await waitFor(
      () => lines.filter((l) => l.includes('"msg":"request"')).length === paths.length + 2,
      3000,
      'the access lines',
    );
    const access = lines.filter((l) => l.includes('"msg":"request"'));
    const records = access.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.map((r) => r.path)).toEqual([...paths, '/hello', '/probe']);
    for (const r of records) {
      expect(Object.keys(r)).toEqual([
        'level',
        'time',
        'pid',
        'hostname',
        'reqId',
        'method',
        'path',
        'status',
        'bytes',
        'ms',
        'remote',
        ...Object.keys(FIELDS).filter((k) => k !== 'missing'),
        ...(r.path === '/hello' ? ['asObject'] : []),
        'msg',
      ]);
      expect(r).toMatchObject({
        level: r.path === '/probe' ? 20 : 30,
        pid: process.pid,
        method: 'GET',
        remote: '127.0.0.1',
        ...Object.fromEntries(Object.entries(FIELDS).filter(([k]) => k !== 'missing')),
        infinite: null,
        msg: 'request',
      });
      expect(typeof r.reqId).toBe('string');
      expect(r.bytes).toBeGreaterThan(0);
    }
    // Byte for byte what pino writes for the same values (bar the time).
    for (const r of records) {
      const { level, time, pid, hostname, msg, ...rest } = r;
      void [time, pid, hostname, msg];
      if (level === 20) reference.debug(rest, 'request');
      else reference.info(rest, 'request');
    }
    const untimed = (l: string) => l.replace(/,"time":\d+,/, ',');
    expect(access.map(untimed)).toEqual(expected.map(untimed));
  });

  test('a logFields hook that throws: the error is logged, the line is written without its fields, the server goes on', async () => {
    const { logger, lines } = rawLogger();
    await serve(
      logger,
      (req) => {
        if (req.path === '/hello') throw new Error('hook broke');
        return { traceId: 'ok' };
      },
      async (_port, client) => {
        expect((await client.get('/hello')).status).toBe(200);
        await waitFor(
          () => lines.some((l) => l.includes('"msg":"request"') && l.includes('"/hello"')),
          3000,
          'the access line of /hello',
        );
        expect((await client.get('/probe')).status).toBe(200);
      },
    );
    const failed = lines
      .map((l) => JSON.parse(l))
      .filter((r) => r.msg?.startsWith('a logFields hook failed'));
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]).toMatchObject({ level: 50, err: { message: 'hook broke' } });
    const line = JSON.parse(
      lines.find((l) => l.includes('"msg":"request"') && l.includes('"/hello"'))!,
    );
    expect(line).toMatchObject({ path: '/hello', status: 200 });
    expect(line).not.toHaveProperty('traceId');
  });

  test("a logFields key that is one of the line's own replaces it, as Object.assign did", async () => {
    const { logger, lines } = rawLogger();
    await serve(
      logger,
      () => ({ path: '/replaced', 7: 'seven', extra: 1 }),
      async (_port, client) => {
        expect((await client.get('/hello')).status).toBe(200);
      },
    );
    await waitFor(() => lines.some((l) => l.includes('"msg":"request"')), 3000, 'the access line');
    const line = lines.find((l) => l.includes('"msg":"request"'))!;
    // JavaScript enumerates an integer-like key first: Object.assign puts it there, so pino does.
    expect(line).toMatch(
      /"hostname":"[^"]*","7":"seven","reqId":"[^"]+","method":"GET","path":"\/replaced","status":200,.*"remote":"127.0.0.1","extra":1,"msg":"request"}$/,
    );
  });

  test('a logger configured otherwise gets its lines its own way: mixin, message key, time, bindings, level', async () => {
    const { logger, lines } = rawLogger({
      level: 'info',
      mixin: () => ({ mixed: true }),
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { service: 'svc' },
    });
    const { logger: plain, lines: plainLines } = rawLogger({ level: 'warn', msgPrefix: '[app] ' });
    const child = plain.child({ shard: 3 });
    for (const [log] of [[logger], [child]] as const) {
      await serve(
        log,
        () => undefined,
        async (_port, client) => {
          expect((await client.get('/hello')).status).toBe(200);
          expect((await client.get('/probe')).status).toBe(200);
        },
      );
    }
    await waitFor(() => lines.some((l) => l.includes('"request"')), 3000, 'the access line');
    const r = JSON.parse(lines.find((l) => l.includes('"request"'))!) as Record<string, unknown>;
    expect(r).toMatchObject({ mixed: true, message: 'request', service: 'svc', path: '/hello' });
    expect(typeof r.time).toBe('string');
    expect(r.pid).toBeUndefined();
    expect(lines.filter((l) => l.includes('"request"'))).toHaveLength(1); // the probe's at debug: not written
    // Below the logger's level: no access line at all.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(plainLines.filter((l) => l.includes('request'))).toEqual([]);
    child.level = 'info';
    await serve(
      child,
      () => undefined,
      async (_port, client) => {
        expect((await client.get('/hello')).status).toBe(200);
      },
    );
    await waitFor(() => plainLines.some((l) => l.includes('request"')), 3000, 'the access line');
    expect(JSON.parse(plainLines.find((l) => l.includes('request"'))!)).toMatchObject({
      shard: 3,
      msg: '[app] request',
      path: '/hello',
    });
  });
});
