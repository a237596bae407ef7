import { Writable } from 'node:stream';
import pino from 'pino';
import {
  createApp,
  Controller,
  Get,
  Use,
  Request,
  Response,
  json,
  text,
  html,
  redirect,
  immutableSettings,
  HTTPError,
  HTTPFound,
  HTTPSeeOther,
  HTTPTemporaryRedirect,
  HTTPPermanentRedirect,
  HTTPBadRequest,
  HTTPUnauthorized,
  HTTPForbidden,
  HTTPNotFound,
  HTTPMethodNotAllowed,
  HTTPConflict,
  HTTPUnprocessableEntity,
  HTTPTooManyRequests,
  HTTPInternalServerError,
  HTTPServiceUnavailable,
  type AppOptions,
  type Middleware,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

const JSON_TYPE = 'application/json; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json';
const SECRET = 'db password is hunter2';

/** Errors by name, each thrown by `/throw/<name>` and returned by `/return/<name>`. */
const ERRORS: Record<string, () => HTTPError> = {
  found: () => new HTTPFound('/target?a=1'),
  seeOther: () => new HTTPSeeOther(new URL('http://example.com/other')),
  temporary: () => new HTTPTemporaryRedirect('/temp'),
  permanent: () => new HTTPPermanentRedirect('/perm'),
  badRequest: () => new HTTPBadRequest('bad input'),
  unauthorized: () => new HTTPUnauthorized('who are you'),
  forbidden: () => new HTTPForbidden('not yours'),
  notFound: () => new HTTPNotFound('no project 7'),
  notFoundBare: () => new HTTPNotFound(),
  conflict: () => new HTTPConflict('name taken'),
  unprocessable: () =>
    new HTTPUnprocessableEntity('invalid', { extensions: { errors: [{ field: 'name' }] } }),
  tooMany: () => new HTTPTooManyRequests('slow down', { headers: { 'Retry-After': '30' } }),
  internal: () => new HTTPInternalServerError('explicit 500'),
  unavailable: () => new HTTPServiceUnavailable('database down'),
  teapot: () => new HTTPError(418, 'x'),
  typed: () =>
    new HTTPConflict('typed', { type: 'https://example.com/probs/dup', title: 'Duplicate' }),
  methodNotAllowed: () => new HTTPMethodNotAllowed(['GET']),
  methodsNotAllowed: () => new HTTPMethodNotAllowed(['GET', 'POST'], 'read only'),
};

const passThrough: Middleware = async (_req, next) => next();

function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

@Controller('/res')
class ResponseController {
  @Get('/ping') ping() {
    return { pong: true };
  }
  @Get('/object') object() {
    return { a: 1, b: 'two', c: [true, null] };
  }
  @Get('/array') array() {
    return [1, 'two', { three: 3 }];
  }
  @Get('/empty-array') emptyArray() {
    return [];
  }
  @Get('/json') json() {
    return json(
      { created: 7 },
      { status: 201, headers: { 'X-Extra': 'yes', Location: '/res/items/7' } },
    );
  }
  @Get('/json-null') jsonNull() {
    return json(null);
  }
  @Get('/json-type') jsonType() {
    return json({ a: 1 }, { headers: { 'content-type': 'application/vnd.api+json' } });
  }
  @Get('/text') text() {
    return text('plain ✓', { status: 202 });
  }
  @Get('/html') html() {
    return html('<h1>Hi</h1>');
  }
  @Get('/redirect') redirect() {
    return redirect('/res/target');
  }
  @Get('/redirect-301') redirect301() {
    return redirect(new URL('https://example.com/moved'), 301);
  }
  @Get('/nothing') nothing() {
    /* nothing */
  }
  @Get('/nothing-async') async nothingAsync() {
    /* nothing */
  }
  @Get('/string') string() {
    return 'just a string';
  }
  @Get('/buffer') buffer() {
    return Buffer.from([0, 1, 2, 255]);
  }
  @Get('/uint8') uint8() {
    return new Uint8Array([9, 8, 7]);
  }

  @Get('/set-cookie')
  setCookie() {
    return json({ ok: true })
      .setCookie('sid', 'abc123', { httpOnly: true })
      .setCookie('theme', 'dark', { maxAge: 3600, path: '/res' });
  }

  @Get('/delete-cookie')
  deleteCookie() {
    return new Response(null, { status: 204 }).deleteCookie('sid');
  }

  @Get('/cookies')
  cookies(req: Request) {
    return req.cookies;
  }

  @Get('/throw/<name>')
  throwError(req: Request) {
    throw ERRORS[req.params.name]();
  }

  @Get('/throw-async/<name>')
  async throwAsync(req: Request) {
    await Promise.resolve();
    throw ERRORS[req.params.name]();
  }

  @Get('/return/<name>')
  returnError(req: Request) {
    return ERRORS[req.params.name]();
  }

  @Use(passThrough)
  @Get('/mw/throw/<name>')
  async mwThrow(req: Request) {
    throw ERRORS[req.params.name]();
  }

  @Use(passThrough)
  @Get('/mw/return/<name>')
  async mwReturn(req: Request) {
    return ERRORS[req.params.name]();
  }

  @Get('/boom') boom() {
    throw new Error(SECRET);
  }
  @Get('/boom-async') async boomAsync() {
    await Promise.resolve();
    throw new TypeError(SECRET);
  }
  @Get('/boom-string') boomString() {
    throw SECRET;
  }
  @Use(passThrough) @Get('/mw/boom') async mwBoom() {
    throw new Error(SECRET);
  }
  @Get('/circular') circular() {
    return circular();
  }
  @Get('/circular-json') circularJson() {
    return json(circular());
  }
  @Use(passThrough) @Get('/mw/circular') async mwCircular() {
    return circular();
  }
  @Get('/bigint') bigint() {
    return { n: BigInt(1) };
  }
  @Get('/crlf') crlf() {
    return redirect('/a\r\nSet-Cookie: evil=1');
  }
  @Get('/crlf-error') crlfError() {
    throw new HTTPFound('/a\r\nSet-Cookie: evil=1');
  }
  @Get('/bad-header') badHeader() {
    return json({ a: 1 }, { headers: { 'x-bad': 'a\nb' } });
  }
  @Get('/bad-error-header') badErrorHeader() {
    throw new HTTPBadRequest('x', { headers: { 'x-bad': 'a\nb' } });
  }
}

async function withClient(
  fn: (client: TestClient) => Promise<void>,
  options: AppOptions = {},
): Promise<void> {
  const app = createApp({ controllers: [ResponseController], ...options });
  const client = await testClient(app);
  try {
    await fn(client);
  } finally {
    await client.close();
  }
}

async function expectAlive(client: TestClient): Promise<void> {
  const res = await client.get('/res/ping');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  expect(await res.json()).toEqual({ pong: true });
}

/** A pino logger writing into memory; `lines()` parses what it wrote. */
function memoryLogger() {
  let buf = '';
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString('utf8');
      cb();
    },
  });
  const logger = pino({ level: 'trace' }, dest);
  const lines = () =>
    buf
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, any>);
  return { logger, lines };
}

describe('handler results', () => {
  test('a plain object is JSON 200', async () => {
    await withClient(async (client) => {
      const res = await client.get('/res/object');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(JSON_TYPE);
      expect(await res.text()).toBe('{"a":1,"b":"two","c":[true,null]}');
    });
  });

  test('an array is JSON 200', async () => {
    await withClient(async (client) => {
      const res = await client.get('/res/array');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(JSON_TYPE);
      expect(await res.text()).toBe('[1,"two",{"three":3}]');
      const empty = await client.get('/res/empty-array');
      expect(empty.status).toBe(200);
      expect(empty.headers.get('content-type')).toBe(JSON_TYPE);
      expect(await empty.text()).toBe('[]');
    });
  });

  test('json(data, { status, headers })', async () => {
    await withClient(async (client) => {
      const res = await client.get('/res/json');
      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toBe(JSON_TYPE);
      expect(res.headers.get('x-extra')).toBe('yes');
      expect(res.headers.get('location')).toBe('/res/items/7');
      expect(await res.text()).toBe('{"created":7}');
      const nul = await client.get('/res/json-null');
      expect(nul.status).toBe(200);
      expect(nul.headers.get('content-type')).toBe(JSON_TYPE);
      expect(await nul.text()).toBe('null');
      const typed = await client.get('/res/json-type');
      expect(typed.headers.get('content-type')).toBe('application/vnd.api+json');
      expect(await typed.text()).toBe('{"a":1}');
    });
  });

  test('text() and html()', async () => {
    await withClient(async (client) => {
      const t = await client.get('/res/text');
      expect(t.status).toBe(202);
      expect(t.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await t.text()).toBe('plain ✓');
      const h = await client.get('/res/html');
      expect(h.status).toBe(200);
      expect(h.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await h.text()).toBe('<h1>Hi</h1>');
    });
  });

  test('redirect(url) is a 302 and redirect(url, 301) a 301, with empty bodies', async () => {
    await withClient(async (client) => {
      const r = await client.get('/res/redirect');
      expect(r.status).toBe(302);
      expect(r.headers.get('location')).toBe('/res/target');
      expect(r.headers.get('content-type')).toBeNull();
      expect(await r.text()).toBe('');
      const p = await client.get('/res/redirect-301');
      expect(p.status).toBe(301);
      expect(p.headers.get('location')).toBe('https://example.com/moved');
      expect(await p.text()).toBe('');
    });
  });

  test('returning nothing is a 204 with an empty body', async () => {
    await withClient(async (client) => {
      for (const path of ['/res/nothing', '/res/nothing-async']) {
        const res = await client.get(path);
        expect(res.status).toBe(204);
        expect(res.headers.get('content-type')).toBeNull();
        expect(await res.text()).toBe('');
      }
    });
  });

  test('returning a string is text/plain', async () => {
    await withClient(async (client) => {
      const res = await client.get('/res/string');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await res.text()).toBe('just a string');
    });
  });

  test('returning a Buffer or Uint8Array is application/octet-stream', async () => {
    await withClient(async (client) => {
      const res = await client.get('/res/buffer');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([0, 1, 2, 255]);
      const u = await client.get('/res/uint8');
      expect(u.headers.get('content-type')).toBe('application/octet-stream');
      expect([...new Uint8Array(await u.arrayBuffer())]).toEqual([9, 8, 7]);
    });
  });
});

describe('cookies', () => {
  test('setCookie() sends Set-Cookie lines and the client jar keeps them', async () => {
    await withClient(async (client) => {
      const res = await client.get('/res/set-cookie');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true });
      expect(res.headers.getSetCookie()).toEqual([
        'sid=abc123; Path=/; HttpOnly; SameSite=Lax',
        'theme=dark; Max-Age=3600; Path=/res; SameSite=Lax',
      ]);
      expect(client.cookies.get('sid')).toBe('abc123');
      expect(client.cookies.get('theme')).toBe('dark');
      expect(client.cookies.size).toBe(2);
      const echo = await client.get('/res/cookies');
      expect(await echo.json()).toEqual({ sid: 'abc123', theme: 'dark' });
    });
  });

  test('deleteCookie() expires the cookie and the client jar drops it', async () => {
    await withClient(async (client) => {
      await client.get('/res/set-cookie');
      expect(client.cookies.has('sid')).toBe(true);
      const res = await client.get('/res/delete-cookie');
      expect(res.status).toBe(204);
      expect(res.headers.getSetCookie()).toEqual([
        'sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax',
      ]);
      expect(client.cookies.has('sid')).toBe(false);
      expect([...client.cookies]).toEqual([['theme', 'dark']]);
      const echo = await client.get('/res/cookies');
      expect(await echo.json()).toEqual({ theme: 'dark' });
    });
  });
});

interface Expected {
  status: number;
  headers?: Record<string, string>;
  /** The problem document; absent for redirects (empty body). */
  problem?: Record<string, unknown>;
}

const EXPECTED: Record<string, Expected> = {
  found: { status: 302, headers: { location: '/target?a=1' } },
  seeOther: { status: 303, headers: { location: 'http://example.com/other' } },
  temporary: { status: 307, headers: { location: '/temp' } },
  permanent: { status: 308, headers: { location: '/perm' } },
  badRequest: {
    status: 400,
    problem: { type: 'about:blank', title: 'Bad Request', status: 400, detail: 'bad input' },
  },
  unauthorized: {
    status: 401,
    problem: { type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'who are you' },
  },
  forbidden: {
    status: 403,
    problem: { type: 'about:blank', title: 'Forbidden', status: 403, detail: 'not yours' },
  },
  notFound: {
    status: 404,
    problem: { type: 'about:blank', title: 'Not Found', status: 404, detail: 'no project 7' },
  },
  notFoundBare: { status: 404, problem: { type: 'about:blank', title: 'Not Found', status: 404 } },
  conflict: {
    status: 409,
    problem: { type: 'about:blank', title: 'Conflict', status: 409, detail: 'name taken' },
  },
  unprocessable: {
    status: 422,
    problem: {
      type: 'about:blank',
      title: 'Unprocessable Entity',
      status: 422,
      detail: 'invalid',
      errors: [{ field: 'name' }],
    },
  },
  tooMany: {
    status: 429,
    headers: { 'retry-after': '30' },
    problem: { type: 'about:blank', title: 'Too Many Requests', status: 429, detail: 'slow down' },
  },
  internal: {
    status: 500,
    problem: {
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      detail: 'explicit 500',
    },
  },
  unavailable: {
    status: 503,
    problem: {
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      detail: 'database down',
    },
  },
  teapot: {
    status: 418,
    problem: { type: 'about:blank', title: "I'm a Teapot", status: 418, detail: 'x' },
  },
  typed: {
    status: 409,
    problem: {
      type: 'https://example.com/probs/dup',
      title: 'Duplicate',
      status: 409,
      detail: 'typed',
    },
  },
  methodNotAllowed: {
    status: 405,
    headers: { allow: 'GET' },
    problem: { type: 'about:blank', title: 'Method Not Allowed', status: 405 },
  },
  methodsNotAllowed: {
    status: 405,
    headers: { allow: 'GET, POST' },
    problem: { type: 'about:blank', title: 'Method Not Allowed', status: 405, detail: 'read only' },
  },
};

describe('HTTP errors', () => {
  test('every case has an expectation', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(Object.keys(ERRORS).sort());
  });

  const routes = [
    '/res/throw/',
    '/res/throw-async/',
    '/res/return/',
    '/res/mw/throw/',
    '/res/mw/return/',
  ];
  for (const [name, exp] of Object.entries(EXPECTED)) {
    test(`${name}: thrown and returned give ${exp.status}`, async () => {
      await withClient(async (client) => {
        for (const prefix of routes) {
          const res = await client.get(prefix + name);
          const where = `${prefix}${name}`;
          expect([where, res.status]).toEqual([where, exp.status]);
          for (const [h, v] of Object.entries(exp.headers ?? {}))
            expect([where, h, res.headers.get(h)]).toEqual([where, h, v]);
          if (exp.problem === undefined) {
            expect([where, res.headers.get('content-type')]).toEqual([where, null]);
            expect([where, await res.text()]).toEqual([where, '']);
          } else {
            expect([where, res.headers.get('content-type')]).toEqual([where, PROBLEM_TYPE]);
            expect([where, await res.json()]).toEqual([where, exp.problem]);
          }
        }
        await expectAlive(client);
      });
    });
  }

  test('a redirect location with CR or LF is refused', async () => {
    expect(() => redirect('/a\r\nSet-Cookie: evil=1')).toThrow(TypeError);
    expect(() => redirect('/a\nb', 301)).toThrow(TypeError);
    expect(() => new HTTPFound('/a\r\nSet-Cookie: evil=1')).toThrow(TypeError);
    expect(() => new HTTPSeeOther('/a\rb')).toThrow(TypeError);
    expect(() => new HTTPPermanentRedirect(new URL('http://x/') + '\n')).toThrow(TypeError);
    await withClient(async (client) => {
      for (const path of ['/res/crlf', '/res/crlf-error']) {
        const res = await client.get(path);
        expect(res.status).toBe(500);
        expect(res.headers.get('location')).toBeNull();
        expect(res.headers.getSetCookie()).toEqual([]);
        expect(await res.json()).toEqual({
          type: 'about:blank',
          title: 'Internal Server Error',
          status: 500,
        });
      }
      expect(client.cookies.has('evil')).toBe(false);
      await expectAlive(client);
    });
  });
});

describe('unhandled exceptions', () => {
  test('any other exception is a 500 that leaks no message or stack', async () => {
    await withClient(async (client) => {
      for (const path of ['/res/boom', '/res/boom-async', '/res/boom-string', '/res/mw/boom']) {
        const res = await client.get(path);
        expect(res.status).toBe(500);
        expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
        const body = await res.text();
        expect(body).not.toContain('hunter2');
        expect(body).not.toContain('TypeError');
        expect(body).not.toContain('stack');
        expect(body).not.toContain('    at ');
        expect(body).not.toContain('.ts:');
        expect(JSON.parse(body)).toEqual({
          type: 'about:blank',
          title: 'Internal Server Error',
          status: 500,
        });
        await expectAlive(client);
      }
    });
  });

  test('a response or an error response with an unsendable header is a 500, and the server keeps serving', async () => {
    await withClient(async (client) => {
      for (const path of ['/res/bad-header', '/res/bad-error-header']) {
        const res = await client.get(path);
        expect(res.status).toBe(500);
        expect(res.headers.get('x-bad')).toBeNull();
        expect(await res.json()).toEqual({
          type: 'about:blank',
          title: 'Internal Server Error',
          status: 500,
        });
        await expectAlive(client);
      }
    });
  });

  test('with settings.DEBUG the 500 carries the message', async () => {
    await withClient(
      async (client) => {
        const res = await client.get('/res/boom');
        expect(res.status).toBe(500);
        expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
        const body = (await res.json()) as Record<string, unknown>;
        expect(body).toEqual({
          type: 'about:blank',
          title: 'Internal Server Error',
          status: 500,
          detail: SECRET,
          stack: expect.stringContaining(SECRET),
        });
        const str = await client.get('/res/boom-string');
        expect(await str.json()).toEqual({
          type: 'about:blank',
          title: 'Internal Server Error',
          status: 500,
          detail: SECRET,
        });
        await expectAlive(client);
      },
      { settings: immutableSettings({ DEBUG: true }) },
    );
  });

  test('a result JSON.stringify cannot serialize is a 500, not a crash', async () => {
    await withClient(async (client) => {
      for (const path of [
        '/res/circular',
        '/res/circular-json',
        '/res/mw/circular',
        '/res/bigint',
      ]) {
        const res = await client.get(path);
        expect([path, res.status]).toEqual([path, 500]);
        expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
        expect(await res.json()).toEqual({
          type: 'about:blank',
          title: 'Internal Server Error',
          status: 500,
        });
        await expectAlive(client);
      }
    });
  });

  test('an unhandled error is logged at level 50 with its stack; HTTP errors are not logged as errors', async () => {
    const { logger, lines } = memoryLogger();
    await withClient(
      async (client) => {
        const nf = await client.get('/res/throw/notFound');
        expect(nf.status).toBe(404);
        await nf.text();
        const miss = await client.get('/res/no-such-route');
        expect(miss.status).toBe(404);
        await miss.text();
        const conflict = await client.get('/res/mw/throw/conflict');
        expect(conflict.status).toBe(409);
        await conflict.text();
        expect(lines().filter((l) => l.level >= 50)).toEqual([]);

        const res = await client.get('/res/boom');
        expect(res.status).toBe(500);
        await res.text();
        const errors = lines().filter((l) => l.level >= 50);
        expect(errors).toHaveLength(1);
        expect(errors[0].level).toBe(50);
        expect(errors[0].err.type).toBe('Error');
        expect(errors[0].err.message).toBe(SECRET);
        expect(errors[0].err.stack).toMatch(/^Error: db password is hunter2\n\s+at /);
        expect(errors[0].err.stack).toContain('response.test.ts');
        expect(errors[0].method).toBe('GET');
        expect(errors[0].url).toBe('/res/boom');
      },
      { logger },
    );
  });
});
