import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createApp,
  Controller,
  Get,
  Post,
  Options,
  Route,
  Template,
  Use,
  Request,
  CsrfExempt,
  EncryptedCookieStorage,
  sessions,
  getSession,
  newSession,
  csrf,
  csrfToken,
  RococoError,
  type CsrfOptions,
  templates,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

const KEY = randomBytes(32).toString('base64');
const TOKEN = /^[A-Za-z0-9_-]{86}$/;
const MISSING =
  "CSRF token missing: send it in the form field 'csrf_token' or the X-CSRF-Token header";
const INCORRECT = 'CSRF token incorrect: reload the page and try again';
const CROSS_SITE = 'Cross-site request refused (CSRF)';

@Controller('/c')
class CsrfController {
  @Get('/token')
  async token(req: Request) {
    return { token: await csrfToken(req), another: await csrfToken(req) };
  }

  @Get('/form')
  @Template('form.html')
  form() {
    return {};
  }

  @Get('/read')
  read() {
    return { ok: true };
  }

  @Route(['POST', 'PUT', 'PATCH', 'DELETE'], '/thing')
  thing(req: Request) {
    return { ok: true, method: req.method };
  }

  @Options('/thing')
  thingOptions() {
    return { ok: 'options' };
  }

  @Route('TRACE', '/trace')
  trace() {
    return { ok: 'trace' };
  }

  @Post('/form-echo')
  async formEcho(req: Request) {
    const form = await req.form();
    const upload = form.get('upload');
    return { name: form.get('name'), upload: upload instanceof File ? await upload.text() : null };
  }

  @Post('/json-echo')
  async jsonEcho(req: Request) {
    return { got: await req.json() };
  }

  @Post('/hook')
  @CsrfExempt()
  hook() {
    return { hooked: true };
  }

  @Post('/login')
  async login(req: Request) {
    (await newSession(req)).set('user', 'ann');
    return { ok: true };
  }

  @Post('/logout')
  @CsrfExempt()
  async logout(req: Request) {
    (await getSession(req)).invalidate();
    return { ok: true };
  }
}

/** A controller whose own @Use adds csrf(), under the app's sessions. */
@Use(csrf())
@Controller('/guarded')
class GuardedController {
  @Post('/x')
  x() {
    return { ok: true };
  }
}

let templatesDir: string;

beforeAll(() => {
  templatesDir = mkdtempSync(join(tmpdir(), 'rococo-csrf-tpl-'));
  writeFileSync(
    join(templatesDir, 'form.html'),
    '<form method="post">{{ csrf_input() }}<input name="name"></form><p id="token">{{ csrf_token() }}</p>',
  );
});

afterAll(() => rmSync(templatesDir, { recursive: true, force: true }));

function csrfApp(options?: CsrfOptions) {
  return createApp({
    controllers: [CsrfController],
    middlewares: [sessions(new EncryptedCookieStorage(KEY)), csrf(options)],
    plugins: [templates({ dir: templatesDir })],
  });
}

async function problem(res: globalThis.Response, status: number, detail: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(await res.json()).toMatchObject({ status, detail });
}

async function tokenOf(client: TestClient): Promise<string> {
  const res = await client.get('/c/token');
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

/** A token of the right shape for no session: 64 random bytes. */
const forged = () => randomBytes(64).toString('base64url');

describe('csrf(): forms and tokens', () => {
  let client: TestClient;

  beforeEach(async () => {
    client = await testClient(csrfApp());
  });
  afterEach(() => client.close());

  test('safe methods pass without a token or a session', async () => {
    expect((await client.get('/c/read')).status).toBe(200);
    expect((await client.head('/c/read')).status).toBe(200);
    const options = await client.options('/c/thing');
    expect(options.status).toBe(200);
    expect(await options.json()).toEqual({ ok: 'options' });
    const trace = await client.request('TRACE', '/c/trace');
    expect(trace.status).toBe(200);
    expect(client.cookies.size).toBe(0);
  });

  test.each(['POST', 'PUT', 'PATCH', 'DELETE'])(
    '%s of a form without a token is a 403 that says what is missing',
    async (method) => {
      await tokenOf(client); // the session has a secret: the token is missing, not the session
      await problem(
        await client.request(method, '/c/thing', { form: { name: 'x' } }),
        403,
        MISSING,
      );
    },
  );

  test('a request without a body type (a DELETE) is judged by its origin, as JSON is', async () => {
    expect((await client.delete('/c/thing')).status).toBe(200); // no browser headers: not a browser
    expect(
      (await client.delete('/c/thing', { headers: { 'sec-fetch-site': 'same-origin' } })).status,
    ).toBe(200);
    await problem(
      await client.delete('/c/thing', { headers: { 'sec-fetch-site': 'cross-site' } }),
      403,
      CROSS_SITE,
    );
    // A cross-site no-cors POST of a Blob has no Content-Type, but the browser names its Origin.
    await problem(
      await client.post('/c/thing', { body: 'x', headers: { origin: 'https://evil.example' } }),
      403,
      CROSS_SITE,
    );
  });

  test('unsafe requests with another body type need the token', async () => {
    await problem(
      await client.post('/c/thing', { body: '{"a":1}', headers: { 'content-type': 'text/plain' } }),
      403,
      MISSING,
    );
    await problem(
      await client.post('/c/thing', {
        body: 'x',
        headers: { 'content-type': 'application/octet-stream' },
      }),
      403,
      MISSING,
    );
  });

  test('an empty token field counts as missing', async () => {
    await tokenOf(client);
    await problem(await client.post('/c/thing', { form: { csrf_token: '' } }), 403, MISSING);
  });

  test('csrfToken: 86 url-safe characters, another one each call, each valid, and reusable', async () => {
    const res = await client.get('/c/token');
    const { token, another } = (await res.json()) as { token: string; another: string };
    expect(token).toMatch(TOKEN);
    expect(another).toMatch(TOKEN);
    expect(another).not.toBe(token);
    expect(res.headers.getSetCookie()).toHaveLength(1); // the secret was stored in the session
    const third = await tokenOf(client);
    expect(third).not.toBe(token);

    for (const t of [token, another, third, token]) {
      const ok = await client.post('/c/thing', { form: { csrf_token: t } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ ok: true, method: 'POST' });
    }
    // Once made, the secret stays: asking for tokens again does not save the session again.
    expect((await client.get('/c/token')).headers.getSetCookie()).toEqual([]);
  });

  test('a valid token in the form field passes, and the handler still reads the form', async () => {
    const token = await tokenOf(client);
    const res = await client.post('/c/form-echo', {
      form: { csrf_token: token, name: 'Ann & Bob' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'Ann & Bob', upload: null });
  });

  test.each(['PUT', 'PATCH', 'DELETE'])('%s with a valid token passes', async (method) => {
    const token = await tokenOf(client);
    const res = await client.request(method, '/c/thing', { form: { csrf_token: token } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, method });
  });

  test('wrong tokens are refused as incorrect', async () => {
    const mine = await tokenOf(client);
    const other = await testClient(csrfApp());
    let theirs: string;
    try {
      theirs = await tokenOf(other);
    } finally {
      await other.close();
    }
    await problem(await client.post('/c/thing', { form: { csrf_token: theirs } }), 403, INCORRECT); // another session's
    await problem(
      await client.post('/c/thing', { form: { csrf_token: forged() } }),
      403,
      INCORRECT,
    );
    await problem(await client.post('/c/thing', { form: { csrf_token: 'abc' } }), 403, INCORRECT);
    await problem(
      await client.post('/c/thing', { form: { csrf_token: mine.slice(0, -1) } }),
      403,
      INCORRECT,
    );
    // One character changed (the first: the last one's low bits are base64 padding and decode to nothing).
    await problem(
      await client.post('/c/thing', {
        form: { csrf_token: `${mine.startsWith('A') ? 'B' : 'A'}${mine.slice(1)}` },
      }),
      403,
      INCORRECT,
    );
    await problem(
      await client.post('/c/thing', {
        form: {
          csrf_token: `${mine.slice(0, 50)}${mine[50] === 'A' ? 'B' : 'A'}${mine.slice(51)}`,
        },
      }),
      403,
      INCORRECT,
    );
    await problem(
      await client.post('/c/thing', { form: { csrf_token: `${mine}x` } }),
      403,
      INCORRECT,
    );
    // The control: the right one still passes.
    expect((await client.post('/c/thing', { form: { csrf_token: mine } })).status).toBe(200);
  });

  test('a token sent without the session cookie is refused', async () => {
    const token = await tokenOf(client);
    client.cookies.clear();
    await problem(await client.post('/c/thing', { form: { csrf_token: token } }), 403, INCORRECT);
  });

  test('the X-CSRF-Token header carries the token for any body, or none', async () => {
    const token = await tokenOf(client);
    const headers = { 'x-csrf-token': token };
    expect((await client.post('/c/thing', { form: { name: 'no field' }, headers })).status).toBe(
      200,
    );
    expect(
      (
        await client.post('/c/thing', {
          body: 'text',
          headers: { ...headers, 'content-type': 'text/plain' },
        })
      ).status,
    ).toBe(200);
    expect((await client.delete('/c/thing', { headers })).status).toBe(200);
    expect((await client.put('/c/thing', { headers: { 'X-CSRF-TOKEN': token } })).status).toBe(200); // any case
    await problem(
      await client.delete('/c/thing', { headers: { 'x-csrf-token': forged() } }),
      403,
      INCORRECT,
    );
  });

  test('multipart forms: the token field is read, files and fields still reach the handler', async () => {
    const token = await tokenOf(client);
    const form = new FormData();
    form.append('csrf_token', token);
    form.append('name', 'report');
    form.append('upload', new Blob(['file body'], { type: 'text/plain' }), 'report.txt');
    const res = await client.post('/c/form-echo', { form });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'report', upload: 'file body' });

    const without = new FormData();
    without.append('name', 'report');
    without.append('upload', new Blob(['x']), 'x.txt');
    await problem(await client.post('/c/form-echo', { form: without }), 403, MISSING);

    const wrong = new FormData();
    wrong.append('csrf_token', forged());
    await problem(await client.post('/c/form-echo', { form: wrong }), 403, INCORRECT);
  });

  test('newSession (login) drops the secret: tokens from before are refused, new ones pass', async () => {
    const before = await tokenOf(client);
    expect((await client.post('/c/login', { form: { csrf_token: before } })).status).toBe(200);
    await problem(await client.post('/c/thing', { form: { csrf_token: before } }), 403, INCORRECT);
    const after = await tokenOf(client);
    expect((await client.post('/c/thing', { form: { csrf_token: after } })).status).toBe(200);
  });

  test('a session that was invalidated (logout) makes its tokens worthless', async () => {
    const token = await tokenOf(client);
    expect((await client.post('/c/logout')).status).toBe(200);
    await problem(await client.post('/c/thing', { form: { csrf_token: token } }), 403, INCORRECT);
  });

  test('@CsrfExempt routes take unsafe requests without a token', async () => {
    const res = await client.post('/c/hook', { form: { event: 'paid' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ hooked: true });
    const json = await client.post('/c/hook', {
      json: { event: 'paid' },
      headers: { origin: 'https://payments.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(json.status).toBe(200);
    // The control: the same request to a route that is not exempt is refused.
    await problem(await client.post('/c/thing', { form: { event: 'paid' } }), 403, MISSING);
  });

  test('requests that match no route get the router answer (404, 405), not a CSRF 403', async () => {
    const nf = await client.post('/nowhere', { form: { a: '1' } });
    expect(nf.status).toBe(404);
    const na = await client.post('/c/read', { form: { a: '1' } });
    expect(na.status).toBe(405);
    expect(na.headers.get('allow')).toMatch(/GET/);
  });
});

describe('csrf(): JSON requests', () => {
  let client: TestClient;
  let origin: string;

  beforeAll(async () => {
    client = await testClient(csrfApp());
    origin = new URL(client.url('/')).origin;
  });
  afterAll(() => client.close());
  beforeEach(() => client.cookies.clear());

  const post = (headers: Record<string, string> = {}, contentType = 'application/json') =>
    client.post('/c/json-echo', {
      body: JSON.stringify({ a: 1 }),
      headers: { 'content-type': contentType, ...headers },
    });

  test('with neither Origin nor Sec-Fetch-Site (not a browser) it passes, without a session', async () => {
    const res = await post();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ got: { a: 1 } });
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  test('same origin by Origin passes; any other Origin is refused', async () => {
    expect(origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await post({ origin })).status).toBe(200);
    await problem(await post({ origin: 'http://evil.example' }), 403, CROSS_SITE);
    await problem(await post({ origin: 'null' }), 403, CROSS_SITE);
    await problem(await post({ origin: origin.replace('http:', 'https:') }), 403, CROSS_SITE);
    const port = Number(new URL(origin).port);
    await problem(
      await post({ origin: `http://127.0.0.1:${port === 65535 ? port - 1 : port + 1}` }),
      403,
      CROSS_SITE,
    );
  });

  test('Sec-Fetch-Site: same-origin and none pass; same-site and cross-site are refused', async () => {
    expect((await post({ 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await post({ 'sec-fetch-site': 'none' })).status).toBe(200);
    await problem(await post({ 'sec-fetch-site': 'same-site' }), 403, CROSS_SITE);
    await problem(await post({ 'sec-fetch-site': 'cross-site' }), 403, CROSS_SITE);
  });

  test('Sec-Fetch-Site decides over Origin', async () => {
    await problem(await post({ 'sec-fetch-site': 'cross-site', origin }), 403, CROSS_SITE);
    expect((await post({ 'sec-fetch-site': 'same-origin', origin })).status).toBe(200);
  });

  test('JSON media types with parameters or a +json suffix are JSON too', async () => {
    expect((await post({ origin }, 'application/json; charset=utf-8')).status).toBe(200);
    await problem(
      await post({ origin: 'http://evil.example' }, 'application/json; charset=utf-8'),
      403,
      CROSS_SITE,
    );
    expect(
      (await post({ 'sec-fetch-site': 'same-origin' }, 'application/vnd.api+json')).status,
    ).toBe(200);
    await problem(
      await post({ 'sec-fetch-site': 'cross-site' }, 'application/vnd.api+json'),
      403,
      CROSS_SITE,
    );
  });

  test('a cross-site request that is not JSON needs a token, whatever its body looks like', async () => {
    await problem(await post({ origin: 'http://evil.example' }, 'text/plain'), 403, MISSING);
    await problem(await post({ origin }, 'text/plain'), 403, MISSING);
  });

  test('JSON with the token header is judged by the token, not by its origin', async () => {
    const token = await tokenOf(client);
    expect(
      (
        await post({
          'x-csrf-token': token,
          origin: 'http://evil.example',
          'sec-fetch-site': 'cross-site',
        })
      ).status,
    ).toBe(200);
    await problem(await post({ 'x-csrf-token': forged(), origin }), 403, INCORRECT);
  });
});

describe('csrf(): options', () => {
  test('trustedOrigins: JSON from a trusted origin passes even when the browser says cross-site', async () => {
    const client = await testClient(csrfApp({ trustedOrigins: ['https://admin.example.com'] }));
    try {
      const send = (origin: string, site = 'cross-site') =>
        client.post('/c/json-echo', {
          json: { a: 1 },
          headers: { origin, 'sec-fetch-site': site },
        });
      expect((await send('https://admin.example.com')).status).toBe(200);
      expect((await send('https://admin.example.com', 'same-site')).status).toBe(200);
      await problem(await send('https://other.example.com'), 403, CROSS_SITE);
      await problem(await send('http://admin.example.com'), 403, CROSS_SITE); // another scheme is another origin
      // Trust is for JSON: a form from that origin still needs its token.
      await problem(
        await client.post('/c/thing', {
          form: { a: '1' },
          headers: { origin: 'https://admin.example.com' },
        }),
        403,
        MISSING,
      );
    } finally {
      await client.close();
    }
  });

  test('a custom field and header name', async () => {
    const client = await testClient(csrfApp({ field: 'authenticity_token', header: 'X-Token' }));
    try {
      const page = await (await client.get('/c/form')).text();
      const token =
        /<input type="hidden" name="authenticity_token" value="([A-Za-z0-9_-]{86})">/.exec(
          page,
        )?.[1] as string;
      expect(token).toMatch(TOKEN);
      expect((await client.post('/c/thing', { form: { authenticity_token: token } })).status).toBe(
        200,
      );
      expect((await client.post('/c/thing', { headers: { 'x-token': token } })).status).toBe(200);
      await problem(
        await client.post('/c/thing', {
          form: { csrf_token: token },
          headers: { 'x-csrf-token': token },
        }),
        403,
        "CSRF token missing: send it in the form field 'authenticity_token' or the X-Token header",
      );
    } finally {
      await client.close();
    }
  });

  test('csrf() refuses an unknown option', () => {
    let error: unknown;
    try {
      csrf({ trustedOrigin: ['https://x.example'] } as CsrfOptions);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RococoError);
    expect((error as RococoError).code).toBe('ROCOCO_OPTIONS');
    expect((error as RococoError).message).toMatch(/unknown option 'trustedOrigin'/);
  });
});

describe('csrf() needs sessions before it', () => {
  function startupError(build: () => unknown): RococoError {
    try {
      build();
    } catch (e) {
      expect(e).toBeInstanceOf(RococoError);
      return e as RococoError;
    }
    throw new Error('createApp did not throw');
  }

  test('without sessions, createApp stops with ROCOCO_OPTIONS', () => {
    const e = startupError(() =>
      createApp({
        controllers: [CsrfController],
        middlewares: [csrf()],
        plugins: [templates({ dir: templatesDir })],
      }),
    );
    expect(e.code).toBe('ROCOCO_OPTIONS');
    expect(e.message).toContain('put sessions(storage) before csrf()');
  });

  test('with sessions after it, createApp stops too', () => {
    const e = startupError(() =>
      createApp({
        controllers: [CsrfController],
        middlewares: [csrf(), sessions(new EncryptedCookieStorage(KEY))],
      }),
    );
    expect(e.code).toBe('ROCOCO_OPTIONS');
  });

  test('a controller @Use(csrf()) under app sessions is accepted and guards that controller', async () => {
    const client = await testClient(
      createApp({
        controllers: [GuardedController],
        middlewares: [sessions(new EncryptedCookieStorage(KEY))],
      }),
    );
    try {
      await problem(await client.post('/guarded/x', { form: { a: '1' } }), 403, MISSING);
    } finally {
      await client.close();
    }
  });

  test('a controller @Use(csrf()) without sessions stops createApp', () => {
    const e = startupError(() => createApp({ controllers: [GuardedController] }));
    expect(e.code).toBe('ROCOCO_OPTIONS');
  });
});

describe('csrf_input() and csrf_token() in templates', () => {
  let client: TestClient;

  beforeAll(async () => {
    client = await testClient(csrfApp());
  });
  afterAll(() => client.close());

  test('the page has a hidden input, not escaped, whose token the form can post back', async () => {
    const res = await client.get('/c/form');
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toHaveLength(1); // the secret is stored with the page's session
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    const page = await res.text();
    expect(page).not.toContain('&lt;input');
    const input = /<input type="hidden" name="csrf_token" value="([^"]*)">/.exec(page);
    expect(input).not.toBeNull();
    const token = (input as RegExpExecArray)[1];
    expect(token).toMatch(TOKEN);
    // csrf_token() in the same page is the same masking.
    expect(/<p id="token">([^<]*)<\/p>/.exec(page)?.[1]).toBe(token);

    const posted = await client.post('/c/form-echo', {
      form: { csrf_token: token, name: 'from the page' },
    });
    expect(posted.status).toBe(200);
    expect(await posted.json()).toEqual({ name: 'from the page', upload: null });
  });

  test('each render masks the token again; the secret stays', async () => {
    const first = /value="([^"]*)"/.exec(await (await client.get('/c/form')).text())?.[1];
    const again = await client.get('/c/form');
    const second = /value="([^"]*)"/.exec(await again.text())?.[1];
    expect(second).not.toBe(first);
    expect(again.headers.getSetCookie()).toEqual([]);
    for (const t of [first, second])
      expect((await client.post('/c/thing', { form: { csrf_token: t as string } })).status).toBe(
        200,
      );
  });
});
