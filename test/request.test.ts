import { IncomingMessage, request as httpRequest } from 'node:http';
import {
  createApp,
  Controller,
  Get,
  Post,
  Route,
  Use,
  Request,
  Response,
  immutableSettings,
  type Application,
  type AppOptions,
  type Middleware,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

const JSON_TYPE = 'application/json; charset=utf-8';
const PROBLEM_TYPE = 'application/problem+json';
const MiB = 1024 * 1024;

const withUser: Middleware = async (req, next) => {
  req.state.user = 'alice';
  req.state[Symbol.for('rococo.test')] = 42;
  return next();
};

@Controller('/req', { name: 'req' })
class RequestController {
  @Get('/ping')
  ping() {
    return { pong: true };
  }

  @Route(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], '/method')
  method(req: Request) {
    return { method: req.method };
  }

  @Get('/items/<name>/<id:\\d+>', { name: 'item' })
  item(req: Request) {
    return { path: req.path, url: req.url, params: req.params };
  }

  @Get('/query')
  query(req: Request) {
    const q = req.query;
    return {
      isURLSearchParams: q instanceof URLSearchParams,
      tags: q.getAll('tag'),
      first: q.get('tag'),
      name: q.get('name'),
      missing: q.get('missing'),
      entries: [...q],
    };
  }

  @Get('/headers')
  headers(req: Request) {
    return {
      custom: req.headers['x-custom'] ?? null,
      accept: req.headers['accept'] ?? null,
      upperKeys: Object.keys(req.headers).filter((k) => k !== k.toLowerCase()),
    };
  }

  @Get('/cookies')
  cookies(req: Request) {
    return { cookies: req.cookies };
  }

  @Get('/login')
  login() {
    return new Response(null, { status: 204 })
      .setCookie('sid', 's3cr3t')
      .setCookie('theme', 'dark');
  }

  @Get('/app')
  app(req: Request) {
    return {
      sameApp: req.app === appRef.current,
      sameSettings: req.settings === appRef.current?.settings,
      locale: req.settings.LOCALE,
      url: req.app.url('req.item', { name: 'a b', id: 3 }),
    };
  }

  @Use(withUser)
  @Get('/state')
  state(req: Request) {
    return {
      user: req.state.user,
      sym: req.state[Symbol.for('rococo.test')],
      keys: Object.keys(req.state),
    };
  }

  @Get('/state-empty')
  stateEmpty(req: Request) {
    return { state: req.state, same: req.state === req.state };
  }

  @Get('/raw')
  raw(req: Request) {
    return {
      isIncomingMessage: req.raw instanceof IncomingMessage,
      method: req.raw.method,
      url: req.raw.url,
      httpVersion: req.raw.httpVersion,
    };
  }

  @Post('/json')
  async json(req: Request) {
    return { body: await req.json() };
  }

  @Post('/text')
  async text(req: Request) {
    return { text: await req.text() };
  }

  @Post('/buffer')
  async buffer(req: Request) {
    const buf = await req.buffer();
    return { isBuffer: Buffer.isBuffer(buf), length: buf.length, hex: buf.toString('hex') };
  }

  @Post('/form')
  async form(req: Request) {
    const form = await req.form();
    const out: Record<string, unknown[]> = {};
    const entries: [string, FormDataEntryValue][] = [];
    form.forEach((v, k) => entries.push([k, v]));
    for (const [k, v] of entries) {
      (out[k] ??= []).push(
        typeof v === 'string'
          ? v
          : {
              isFile: v instanceof File,
              name: v.name,
              type: v.type,
              size: v.size,
              content: await v.text(),
            },
      );
    }
    return { isFormData: form instanceof FormData, fields: out };
  }

  @Post('/twice')
  async twice(req: Request) {
    const parsed = await req.json();
    const again = await req.json();
    const text = await req.text();
    const b1 = await req.buffer();
    const b2 = await req.buffer();
    return {
      parsed,
      sameParsed: parsed === again,
      text,
      sameBuffer: b1 === b2,
      bufferText: b1.toString('utf8'),
    };
  }

  @Post('/text-then-json')
  async textThenJson(req: Request) {
    const text = await req.text();
    const parsed = await req.json();
    return { text, parsed };
  }

  @Post('/merge')
  async merge(req: Request) {
    const body = (await req.json()) as Record<string, unknown>;
    const target: Record<string, unknown> = {};
    for (const k of Object.keys(body)) target[k] = body[k];
    Object.assign({}, body);
    return { keys: Object.keys(body), polluted: ({} as Record<string, unknown>).polluted ?? null };
  }
}

/** The app currently under test, so that handlers can compare `req.app` to it. */
const appRef: { current: Application | null } = { current: null };

function makeApp(options: AppOptions = {}): Application {
  const app = createApp({
    controllers: [RequestController],
    settings: immutableSettings({ LOCALE: 'uk_UA' }),
    ...options,
  });
  appRef.current = app;
  return app;
}

async function withClient(
  fn: (client: TestClient, app: Application) => Promise<void>,
  options?: AppOptions,
): Promise<void> {
  const app = makeApp(options);
  const client = await testClient(app);
  try {
    await fn(client, app);
  } finally {
    await client.close();
  }
}

/** The server still answers a normal request. */
async function expectAlive(client: TestClient): Promise<void> {
  const res = await client.get('/req/ping');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(JSON_TYPE);
  expect(await res.json()).toEqual({ pong: true });
}

async function expectProblem(
  res: globalThis.Response,
  status: number,
  title: string,
  detail: string | RegExp,
): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
  expect(await res.json()).toEqual({
    type: 'about:blank',
    title,
    status,
    detail: typeof detail === 'string' ? detail : expect.stringMatching(detail),
  });
}

interface RawResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A request through node:http, the body written as chunks with `Transfer-Encoding: chunked`
 * (no Content-Length). When `end` is false the request is never finished: the answer must come
 * while the client is still sending.
 */
function chunkedRequest(
  base: string,
  path: string,
  chunks: Buffer[],
  end: boolean,
  headers: Record<string, string> = {},
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(base + path, {
      method: 'POST',
      headers: { 'transfer-encoding': 'chunked', ...headers },
      agent: false,
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        resolve({
          status: res.statusCode as number,
          headers: res.headers,
          body: Buffer.concat(parts).toString('utf8'),
        });
        req.destroy();
      });
      res.on('error', reject);
    });
    // The server may close the connection while we are still writing: that is expected once
    // the answer came, and a failure otherwise.
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    for (const c of chunks) req.write(c);
    if (end) req.end();
  });
}

describe('request attributes', () => {
  test('req.method is the request method', async () => {
    await withClient(async (client) => {
      for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
        const res = await client.request(m, '/req/method');
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe(JSON_TYPE);
        expect(await res.json()).toEqual({ method: m });
      }
    });
  });

  test('req.path is the raw path without the query; req.params are decoded', async () => {
    await withClient(async (client) => {
      const res = await client.get('/req/items/a%20b%2Fc%C3%A9/42?x=1&y=%20');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        path: '/req/items/a%20b%2Fc%C3%A9/42',
        url: '/req/items/a%20b%2Fc%C3%A9/42?x=1&y=%20',
        params: { name: 'a b/cé', id: '42' },
      });
      const noQuery = await client.get('/req/items/plain/7');
      expect(await noQuery.json()).toEqual({
        path: '/req/items/plain/7',
        url: '/req/items/plain/7',
        params: { name: 'plain', id: '7' },
      });
    });
  });

  test('req.query is a URLSearchParams with repeated keys', async () => {
    await withClient(async (client) => {
      const res = await client.get('/req/query?tag=a&tag=b%20c&name=J%C3%BCrgen&tag=d&empty=');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        isURLSearchParams: true,
        tags: ['a', 'b c', 'd'],
        first: 'a',
        name: 'Jürgen',
        missing: null,
        entries: [
          ['tag', 'a'],
          ['tag', 'b c'],
          ['name', 'Jürgen'],
          ['tag', 'd'],
          ['empty', ''],
        ],
      });
      const none = await client.get('/req/query');
      expect(await none.json()).toEqual({
        isURLSearchParams: true,
        tags: [],
        first: null,
        name: null,
        missing: null,
        entries: [],
      });
    });
  });

  test('req.headers has lower-case names', async () => {
    await withClient(async (client) => {
      const res = await client.get('/req/headers', {
        headers: { 'X-Custom': 'value 1', Accept: 'text/x-test' },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ custom: 'value 1', accept: 'text/x-test', upperKeys: [] });
    });
  });

  test('req.cookies from an explicit Cookie header', async () => {
    await withClient(async (client) => {
      const res = await client.get('/req/cookies', { headers: { cookie: 'a=1; b=x%20y;c=3' } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ cookies: { a: '1', b: 'x y', c: '3' } });
      const none = await client.get('/req/cookies');
      expect(await none.json()).toEqual({ cookies: {} });
    });
  });

  test("req.cookies from the client's cookie jar", async () => {
    await withClient(async (client) => {
      const login = await client.get('/req/login');
      expect(login.status).toBe(204);
      expect(login.headers.getSetCookie()).toEqual([
        'sid=s3cr3t; Path=/; SameSite=Lax',
        'theme=dark; Path=/; SameSite=Lax',
      ]);
      expect([...client.cookies]).toEqual([
        ['sid', 's3cr3t'],
        ['theme', 'dark'],
      ]);
      const res = await client.get('/req/cookies');
      expect(await res.json()).toEqual({ cookies: { sid: 's3cr3t', theme: 'dark' } });
    });
  });

  test('req.app and req.settings', async () => {
    await withClient(async (client) => {
      const res = await client.get('/req/app');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        sameApp: true,
        sameSettings: true,
        locale: 'uk_UA',
        url: '/req/items/a%20b/3',
      });
    });
  });

  test('req.state is set by a middleware and read by the handler; fresh per request', async () => {
    await withClient(async (client) => {
      const res = await client.get('/req/state');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ user: 'alice', sym: 42, keys: ['user'] });
      const empty = await client.get('/req/state-empty');
      expect(await empty.json()).toEqual({ state: {}, same: true });
    });
  });

  test('req.raw is the node request', async () => {
    await withClient(async (client) => {
      const res = await client.get('/req/raw?q=1');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        isIncomingMessage: true,
        method: 'GET',
        url: '/req/raw?q=1',
        httpVersion: '1.1',
      });
    });
  });
});

describe('request body', () => {
  test('req.json() parses a JSON body', async () => {
    await withClient(async (client) => {
      const payload = { name: 'rococo', n: [1, 2.5, null], nested: { ok: true }, s: 'é' };
      const res = await client.post('/req/json', { json: payload });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(JSON_TYPE);
      expect(await res.json()).toEqual({ body: payload });
      const arr = await client.post('/req/json', {
        body: '[1,"two"]',
        headers: { 'content-type': 'application/json' },
      });
      expect(await arr.json()).toEqual({ body: [1, 'two'] });
    });
  });

  test('req.text() decodes UTF-8 by default', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/text', {
        body: 'héllo wörld ✓',
        headers: { 'content-type': 'text/plain' },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ text: 'héllo wörld ✓' });
    });
  });

  test('req.text() decodes a latin-1 body with its charset', async () => {
    await withClient(async (client) => {
      const latin1 = new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x20, 0xfc, 0xdf]); // "café üß"
      const res = await client.post('/req/text', {
        body: latin1,
        headers: { 'content-type': 'text/plain; charset=ISO-8859-1' },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ text: 'café üß' });
      const quoted = await client.post('/req/text', {
        body: latin1,
        headers: { 'content-type': 'text/plain; charset="latin1"' },
      });
      expect(await quoted.json()).toEqual({ text: 'café üß' });
    });
  });

  test('req.buffer() returns the raw bytes', async () => {
    await withClient(async (client) => {
      const bytes = new Uint8Array([0, 1, 2, 0xfe, 0xff, 0x80]);
      const res = await client.post('/req/buffer', {
        body: bytes,
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ isBuffer: true, length: 6, hex: '000102feff80' });
      const empty = await client.post('/req/buffer');
      expect(await empty.json()).toEqual({ isBuffer: true, length: 0, hex: '' });
    });
  });

  test('req.form() parses an urlencoded body', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/form', {
        form: new URLSearchParams([
          ['name', 'Jürgen & co'],
          ['tag', 'a'],
          ['tag', 'b'],
          ['empty', ''],
        ]),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        isFormData: true,
        fields: { name: ['Jürgen & co'], tag: ['a', 'b'], empty: [''] },
      });
    });
  });

  test('req.form() parses a multipart body with a field and a File', async () => {
    await withClient(async (client) => {
      const fd = new FormData();
      fd.append('title', 'Quarterly report ✓');
      fd.append('upload', new File(['line one\nline two\n'], 'report.txt', { type: 'text/plain' }));
      fd.append(
        'data',
        new File([JSON.stringify({ a: 1 })], 'data.json', { type: 'application/json' }),
      );
      const res = await client.post('/req/form', { form: fd });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        isFormData: true,
        fields: {
          title: ['Quarterly report ✓'],
          upload: [
            {
              isFile: true,
              name: 'report.txt',
              type: 'text/plain',
              size: 18,
              content: 'line one\nline two\n',
            },
          ],
          data: [
            {
              isFile: true,
              name: 'data.json',
              type: 'application/json',
              size: 7,
              content: '{"a":1}',
            },
          ],
        },
      });
    });
  });

  test('the body is read once and cached: json() then text() and buffer()', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/twice', { json: { a: [1, 2] } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        parsed: { a: [1, 2] },
        sameParsed: true,
        text: '{"a":[1,2]}',
        sameBuffer: true,
        bufferText: '{"a":[1,2]}',
      });
      const res2 = await client.post('/req/text-then-json', { json: { b: 'x' } });
      expect(await res2.json()).toEqual({ text: '{"b":"x"}', parsed: { b: 'x' } });
    });
  });
});

describe('request body errors', () => {
  test('a body over MAX_BODY_SIZE with a Content-Length is a 413', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/buffer', {
        body: new Uint8Array(MiB + 1),
        headers: { 'content-type': 'application/octet-stream' },
      });
      await expectProblem(res, 413, 'Payload Too Large', /1048576 bytes/);
      const ok = await client.post('/req/buffer', {
        body: new Uint8Array(MiB),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { length: number }).length).toBe(MiB);
      await expectAlive(client);
    });
  });

  test('a chunked body (no Content-Length) over MAX_BODY_SIZE is a 413', async () => {
    await withClient(async (client) => {
      const base = client.url('');
      // Sent in pieces and never finished: the server must answer as soon as the limit is passed.
      const piece = Buffer.alloc(256 * 1024, 0x61);
      const res = await chunkedRequest(
        base,
        '/req/buffer',
        [piece, piece, piece, piece, piece],
        false,
      );
      expect(res.status).toBe(413);
      expect(res.headers['content-type']).toBe(PROBLEM_TYPE);
      expect(JSON.parse(res.body)).toEqual({
        type: 'about:blank',
        title: 'Payload Too Large',
        status: 413,
        detail: expect.stringMatching(/1048576 bytes/),
      });
      // A chunked body under the limit is read whole.
      const small = await chunkedRequest(
        base,
        '/req/text',
        [Buffer.from('ab'), Buffer.from('cd')],
        true,
        { 'content-type': 'text/plain' },
      );
      expect(small.status).toBe(200);
      expect(JSON.parse(small.body)).toEqual({ text: 'abcd' });
      await expectAlive(client);
    });
  });

  test('a custom MAX_BODY_SIZE setting lowers the limit (Content-Length and chunked)', async () => {
    await withClient(
      async (client) => {
        const atLimit = await client.post('/req/text', {
          body: '0123456789',
          headers: { 'content-type': 'text/plain' },
        });
        expect(atLimit.status).toBe(200);
        expect(await atLimit.json()).toEqual({ text: '0123456789' });
        const over = await client.post('/req/text', {
          body: '0123456789A',
          headers: { 'content-type': 'text/plain' },
        });
        await expectProblem(over, 413, 'Payload Too Large', /10 bytes/);
        const chunked = await chunkedRequest(
          client.url(''),
          '/req/text',
          [Buffer.from('012345'), Buffer.from('6789AB')],
          false,
        );
        expect(chunked.status).toBe(413);
        expect(JSON.parse(chunked.body)).toEqual({
          type: 'about:blank',
          title: 'Payload Too Large',
          status: 413,
          detail: expect.stringMatching(/10 bytes/),
        });
        await expectAlive(client);
      },
      { settings: immutableSettings({ LOCALE: 'uk_UA', MAX_BODY_SIZE: 10 }) },
    );
  });

  test('malformed JSON is a 400 problem', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/json', {
        body: '{"a": 1,',
        headers: { 'content-type': 'application/json' },
      });
      await expectProblem(res, 400, 'Bad Request', /not valid JSON/);
      await expectAlive(client);
    });
  });

  test('an empty body to json() is a 400 problem', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/json', {
        headers: { 'content-type': 'application/json' },
      });
      await expectProblem(res, 400, 'Bad Request', /empty/);
      const blank = await client.post('/req/json', {
        body: '  \n ',
        headers: { 'content-type': 'application/json' },
      });
      await expectProblem(blank, 400, 'Bad Request', /empty/);
      await expectAlive(client);
    });
  });

  test('a __proto__ key in JSON is a 400 and pollutes nothing', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/merge', {
        body: '{"a": 1, "__proto__": {"polluted": "yes"}}',
        headers: { 'content-type': 'application/json' },
      });
      await expectProblem(res, 400, 'Bad Request', /not valid JSON/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
      // Nested too.
      const nested = await client.post('/req/merge', {
        body: '{"x": {"__proto__": {"polluted": "yes"}}}',
        headers: { 'content-type': 'application/json' },
      });
      await expectProblem(nested, 400, 'Bad Request', /not valid JSON/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      await expectAlive(client);
    });
  });

  test('a constructor.prototype key in JSON is a 400 and pollutes nothing', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/merge', {
        body: '{"constructor": {"prototype": {"polluted": "yes"}}}',
        headers: { 'content-type': 'application/json' },
      });
      await expectProblem(res, 400, 'Bad Request', /not valid JSON/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      // A harmless "constructor" key (no prototype) is still accepted.
      const ok = await client.post('/req/merge', { json: { constructor: 'x', a: 1 } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ keys: ['constructor', 'a'], polluted: null });
      await expectAlive(client);
    });
  });

  test('form() of a JSON body is a 415', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/form', { json: { a: 1 } });
      await expectProblem(res, 415, 'Unsupported Media Type', /application\/json/);
      const none = await client.post('/req/form', { body: new Uint8Array([1, 2]) });
      await expectProblem(none, 415, 'Unsupported Media Type', /none/);
      await expectAlive(client);
    });
  });

  const brokenBody =
    '--OTHER\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--OTHER--\r\n';

  test('a multipart body with the wrong boundary is a 400, not a 500', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/form', {
        body: brokenBody,
        headers: { 'content-type': 'multipart/form-data; boundary=EXPECTED' },
      });
      await expectProblem(res, 400, 'Bad Request', /multipart/i);
      await expectAlive(client);
    });
  });

  test('a multipart body without a boundary parameter is a 400, not a 500', async () => {
    await withClient(async (client) => {
      const res = await client.post('/req/form', {
        body: brokenBody,
        headers: { 'content-type': 'multipart/form-data' },
      });
      await expectProblem(res, 400, 'Bad Request', /multipart/i);
      await expectAlive(client);
    });
  });

  test('a multipart body cut in the middle of a file is a 400, not a 500', async () => {
    await withClient(async (client) => {
      const truncated =
        '--B\r\nContent-Disposition: form-data; name="f"; filename="x.txt"\r\nContent-Type: text/plain\r\n\r\nhalf a fi';
      const res = await client.post('/req/form', {
        body: truncated,
        headers: { 'content-type': 'multipart/form-data; boundary=B' },
      });
      await expectProblem(res, 400, 'Bad Request', /multipart/i);
      await expectAlive(client);
    });
  });
});
