import {
  createApp,
  Controller,
  Get,
  Post,
  Route,
  Options,
  Response,
  redirect,
  json,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

let targetHits = 0;

@Controller()
class EchoController {
  @Route(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], '/echo')
  async echo(req: Request) {
    const text = req.method === 'GET' || req.method === 'DELETE' ? '' : await req.text();
    return {
      method: req.method,
      path: req.path,
      query: req.query.toString(),
      body: text,
      contentType: req.headers['content-type'] ?? null,
      custom: req.headers['x-custom'] ?? null,
      cookie: req.headers.cookie ?? null,
    };
  }

  @Get('/head-me')
  headMe() {
    return json({ big: 'x'.repeat(100) }, { headers: { 'x-head': 'yes' } });
  }

  @Options('/opts')
  opts() {
    return new Response(null, { status: 204, headers: { allow: 'GET, OPTIONS' } });
  }

  @Post('/json')
  async json(req: Request) {
    return { got: await req.json(), contentType: req.headers['content-type'] };
  }

  @Post('/form')
  async form(req: Request) {
    const form = await req.form();
    const out: Record<string, unknown> = {};
    const entries: [string, FormDataEntryValue][] = [];
    form.forEach((v, k) => entries.push([k, v]));
    for (const [k, v] of entries) {
      out[k] = typeof v === 'string' ? v : { file: v.name, type: v.type, text: await v.text() };
    }
    return { fields: out, contentType: req.headers['content-type'] };
  }

  @Post('/login')
  login() {
    return new Response(null, { status: 204 })
      .setCookie('session', 'abc123')
      .setCookie('theme', 'dark');
  }

  @Get('/whoami')
  whoami(req: Request) {
    return { cookies: req.cookies };
  }

  @Post('/logout')
  logout() {
    return new Response(null, { status: 204 }).deleteCookie('session');
  }

  @Post('/logout-max-age')
  logoutMaxAge() {
    return new Response(null, { status: 204 }).setCookie('session', '', { maxAge: 0 });
  }

  @Post('/logout-expires')
  logoutExpires() {
    return new Response(null, { status: 204 }).setCookie('session', 'gone', {
      expires: new Date(Date.now() - 60_000),
    });
  }

  @Get('/go')
  go() {
    return redirect('/target');
  }

  @Get('/go-303')
  go303() {
    return redirect('/target?x=1', 303);
  }

  @Get('/target')
  target() {
    targetHits++;
    return { target: true };
  }
}

let client: TestClient;

beforeAll(async () => {
  client = await testClient(createApp({ controllers: [EchoController] }));
});
afterAll(() => client.close());

test('url(path) is the absolute URL on 127.0.0.1 and an ephemeral port, and it serves', async () => {
  const u = client.url('/echo?a=1');
  expect(u).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/echo\?a=1$/);
  const port = Number(new URL(u).port);
  expect(port).toBeGreaterThan(0);
  const res = await fetch(u);
  expect(res.status).toBe(200);
  expect((await res.json()).query).toBe('a=1');
});

test.each(['get', 'post', 'put', 'patch', 'delete'] as const)(
  'client.%s sends its method',
  async (m) => {
    const res = await client[m]('/echo?q=' + m);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.method).toBe(m.toUpperCase());
    expect(body.path).toBe('/echo');
    expect(body.query).toBe('q=' + m);
  },
);

test('client.request(method, path, init) sends any method with a raw body', async () => {
  const res = await client.request('PUT', '/echo', {
    body: 'raw text',
    headers: { 'content-type': 'text/plain' },
  });
  expect(await res.json()).toMatchObject({
    method: 'PUT',
    body: 'raw text',
    contentType: 'text/plain',
  });
});

test('client.head: status and headers, no body', async () => {
  const res = await client.head('/head-me');
  expect(res.status).toBe(200);
  expect(res.headers.get('x-head')).toBe('yes');
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(await res.text()).toBe('');
});

test('client.options', async () => {
  const res = await client.options('/opts');
  expect(res.status).toBe(204);
  expect(res.headers.get('allow')).toBe('GET, OPTIONS');
});

test('init.headers are sent', async () => {
  const res = await client.get('/echo', { headers: { 'X-Custom': 'hello' } });
  expect((await res.json()).custom).toBe('hello');
});

test('init.json is sent as JSON with Content-Type application/json', async () => {
  const payload = { name: 'rococo', tags: ['a', 'b'], nested: { n: 1 }, ok: true, nothing: null };
  const res = await client.post('/json', { json: payload });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ got: payload, contentType: 'application/json' });
});

test('init.json keeps a Content-Type given in init.headers', async () => {
  const res = await client.post('/json', {
    json: [1, 2],
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
  expect(await res.json()).toEqual({ got: [1, 2], contentType: 'application/json; charset=utf-8' });
});

test('init.form with a record is sent urlencoded', async () => {
  const res = await client.post('/form', { form: { name: 'Ann & Bob', lang: 'uk', empty: '' } });
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body.contentType).toMatch(/^application\/x-www-form-urlencoded\b/);
  expect(body.fields).toEqual({ name: 'Ann & Bob', lang: 'uk', empty: '' });
});

test('init.form with URLSearchParams is sent urlencoded', async () => {
  const res = await client.post('/form', { form: new URLSearchParams({ a: '1 2' }) });
  const body = await res.json();
  expect(body.contentType).toMatch(/^application\/x-www-form-urlencoded\b/);
  expect(body.fields).toEqual({ a: '1 2' });
});

test('init.form with a FormData is sent multipart, files included', async () => {
  const fd = new FormData();
  fd.append('title', 'Report');
  fd.append('upload', new File(['file content'], 'notes.txt', { type: 'text/plain' }));
  const res = await client.post('/form', { form: fd });
  expect(res.status).toBe(200);
  const body = await res.json();
  expect(body.contentType).toMatch(/^multipart\/form-data; boundary=/);
  expect(body.fields).toEqual({
    title: 'Report',
    upload: { file: 'notes.txt', type: 'text/plain', text: 'file content' },
  });
});

describe('cookie jar', () => {
  let jarClient: TestClient;
  beforeEach(async () => {
    jarClient = await testClient(createApp({ controllers: [EchoController] }));
  });
  afterEach(() => jarClient.close());

  test('keeps cookies across requests and drops one the server deletes (Max-Age=0)', async () => {
    expect(await (await jarClient.get('/whoami')).json()).toEqual({ cookies: {} });

    const login = await jarClient.post('/login');
    expect(login.status).toBe(204);
    expect(login.headers.getSetCookie()).toHaveLength(2);
    expect([...jarClient.cookies]).toEqual([
      ['session', 'abc123'],
      ['theme', 'dark'],
    ]);

    expect(await (await jarClient.get('/whoami')).json()).toEqual({
      cookies: { session: 'abc123', theme: 'dark' },
    });
    expect(await (await jarClient.get('/whoami')).json()).toEqual({
      cookies: { session: 'abc123', theme: 'dark' },
    });

    const logout = await jarClient.post('/logout');
    expect(logout.status).toBe(204);
    const deletion = logout.headers.getSetCookie();
    expect(deletion).toHaveLength(1);
    expect(deletion[0]).toMatch(/^session=;/);
    expect(deletion[0]).toMatch(/Max-Age=0/i);
    expect([...jarClient.cookies]).toEqual([['theme', 'dark']]);

    expect(await (await jarClient.get('/whoami')).json()).toEqual({ cookies: { theme: 'dark' } });
  });

  test('Max-Age=0 alone drops the cookie', async () => {
    await jarClient.post('/login');
    const res = await jarClient.post('/logout-max-age');
    const lines = res.headers.getSetCookie();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Max-Age=0/i);
    expect(lines[0]).not.toMatch(/Expires/i);
    expect([...jarClient.cookies]).toEqual([['theme', 'dark']]);
    expect(await (await jarClient.get('/whoami')).json()).toEqual({ cookies: { theme: 'dark' } });
  });

  test('an Expires in the past drops the cookie too', async () => {
    await jarClient.post('/login');
    await jarClient.post('/logout-expires');
    expect([...jarClient.cookies]).toEqual([['theme', 'dark']]);
    expect(await (await jarClient.get('/whoami')).json()).toEqual({ cookies: { theme: 'dark' } });
  });

  test('an explicit Cookie header in init.headers wins over the jar', async () => {
    await jarClient.post('/login');
    const res = await jarClient.get('/echo', { headers: { cookie: 'only=this' } });
    expect((await res.json()).cookie).toBe('only=this');
  });

  test('each client has its own jar', async () => {
    await jarClient.post('/login');
    expect(await (await client.get('/whoami')).json()).toEqual({ cookies: {} });
  });
});

describe('redirects are not followed', () => {
  beforeEach(() => {
    targetHits = 0;
  });

  test('a 302 is seen with its Location', async () => {
    const res = await client.get('/go');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/target');
    expect(targetHits).toBe(0);
  });

  test('a 303 too', async () => {
    const res = await client.get('/go-303');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/target?x=1');
    expect(targetHits).toBe(0);
  });
});

test('close() stops the server', async () => {
  const c = await testClient(createApp({ controllers: [EchoController] }));
  const u = c.url('/whoami');
  expect((await fetch(u)).status).toBe(200);
  await c.close();
  await expect(fetch(u)).rejects.toThrow();
});
