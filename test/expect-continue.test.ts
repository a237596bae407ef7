import { connect } from 'node:net';
import {
  Controller,
  createApp,
  HTTPUnauthorized,
  immutableSettings,
  Post,
  type Application,
  type Request,
} from '../src';

/**
 * Expect: 100-continue through a raw socket that, as curl does, waits for the interim answer
 * before it sends the body: the 100 comes only once the route is found, the declared length
 * fits MAX_BODY_SIZE and the route's expect check passed; every refusal arrives before a body
 * byte was sent, and closes the connection.
 */

let bodiesRead = 0;

@Controller('')
class UploadController {
  @Post('/upload', {
    expect: async (req) => {
      if (req.headers.authorization !== 'Bearer ok')
        throw new HTTPUnauthorized('log in before uploading');
    },
  })
  async upload(req: Request) {
    bodiesRead++;
    return { bytes: (await req.buffer()).length };
  }

  @Post('/open')
  async open(req: Request) {
    bodiesRead++;
    return { bytes: (await req.buffer()).length };
  }

  @Post('/sync-check', {
    expect: () => {
      throw new HTTPUnauthorized('no');
    },
  })
  syncCheck() {
    bodiesRead++;
    return {};
  }
}

interface Exchange {
  /** What the server sent before the body went out (the 100, or the refusal). */
  first: string;
  /** Everything the server sent. */
  all: string;
  bodySent: boolean;
  closed: boolean;
}

/** Sends a head with Expect: 100-continue, and the body only after a 100. */
function exchange(
  port: number,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const lines = Object.entries({
      host: 'test',
      'content-length': String(Buffer.byteLength(body)),
      expect: '100-continue',
      ...headers,
    }).map(([k, v]) => `${k}: ${v}\r\n`);
    let all = '';
    let first = '';
    let bodySent = false;
    let closed = false;
    socket.on('connect', () => socket.write(`POST ${path} HTTP/1.1\r\n${lines.join('')}\r\n`));
    socket.on('data', (d) => {
      all += d.toString('latin1');
      if (first === '') first = all;
      if (!bodySent && all.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        bodySent = true;
        socket.write(body);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      closed = true;
      resolve({ first, all, bodySent, closed });
    });
    // A kept-alive connection stays open: end the exchange once the final answer is complete.
    const timer = setInterval(() => {
      const final = all.lastIndexOf('HTTP/1.1 ');
      if (final > 0 || (final === 0 && !all.startsWith('HTTP/1.1 100'))) {
        const head = all.slice(final);
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? -1);
        const sep = head.indexOf('\r\n\r\n');
        if (length >= 0 && sep >= 0 && Buffer.byteLength(head.slice(sep + 4)) >= length) {
          clearInterval(timer);
          setTimeout(() => {
            const c = closed;
            socket.destroy();
            resolve({ first, all, bodySent, closed: c });
          }, 100);
        }
      }
    }, 10);
  });
}

const status = (text: string) => Number(text.slice(9, 12));

let app: Application;
let port: number;

beforeAll(async () => {
  app = createApp({
    controllers: [UploadController],
    settings: immutableSettings({ MAX_BODY_SIZE: 1000, LOG_LEVEL: 'silent' }),
  });
  port = Number(new URL(await app.listen(0)).port);
});

afterAll(() => app.close());

beforeEach(() => {
  bodiesRead = 0;
});

test('a route without a check: 100 Continue, then the body, then the answer, and the connection stays open', async () => {
  const x = await exchange(port, '/open', 'hello');
  expect(status(x.first)).toBe(100);
  expect(x.bodySent).toBe(true);
  expect(x.all).toMatch(/HTTP\/1\.1 200 OK[\s\S]*\{"bytes":5\}$/);
  expect(x.all).toMatch(/connection: keep-alive/i);
  expect(bodiesRead).toBe(1);
});

test("the route's expect check passes: 100, then the handler reads the body", async () => {
  const x = await exchange(port, '/upload', 'x'.repeat(800), { authorization: 'Bearer ok' });
  expect(status(x.first)).toBe(100);
  expect(x.all).toMatch(/\{"bytes":800\}$/);
  expect(bodiesRead).toBe(1);
});

test("the route's expect check refuses: its 401 before any body byte, connection closed, handler never runs", async () => {
  const x = await exchange(port, '/upload', 'secret upload');
  expect(status(x.first)).toBe(401);
  expect(x.first).toContain('log in before uploading');
  expect(x.first).toMatch(/connection: close/i);
  expect(x.bodySent).toBe(false);
  expect(x.closed).toBe(true);
  expect(bodiesRead).toBe(0);
});

test('a check that throws synchronously refuses the same way', async () => {
  const x = await exchange(port, '/sync-check', 'body');
  expect(status(x.first)).toBe(401);
  expect(x.bodySent).toBe(false);
  expect(bodiesRead).toBe(0);
});

test('a declared length over MAX_BODY_SIZE: 413 at once, the body never asked for', async () => {
  const x = await exchange(port, '/open', 'y'.repeat(5000));
  expect(status(x.first)).toBe(413);
  expect(x.bodySent).toBe(false);
  expect(x.closed).toBe(true);
  expect(bodiesRead).toBe(0);
});

test('an unknown path is a 404 and a wrong method a 405, without the body', async () => {
  const missing = await exchange(port, '/nowhere', 'body');
  expect(status(missing.first)).toBe(404);
  expect(missing.bodySent).toBe(false);
  expect(missing.closed).toBe(true);

  const wrong = await new Promise<string>((resolve) => {
    const s = connect(port, '127.0.0.1', () =>
      s.write('PUT /open HTTP/1.1\r\nhost: t\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n'),
    );
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(out));
  });
  expect(status(wrong)).toBe(405);
  expect(wrong).toMatch(/allow: POST/i);
  expect(bodiesRead).toBe(0);
});
