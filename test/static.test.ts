import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createApp,
  RococoError,
  staticFiles,
  type Application,
  type Middleware,
  type StaticOptions,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

const STATIC = join(__dirname, 'fixtures', 'static');
const PROBLEM_TYPE = 'application/problem+json';
const YEAR_CACHE = 'public, max-age=31536000, immutable';
const NO_CACHE = 'public, max-age=0';

/** Texts that must never appear in an answer to a request that tries to leave the folder. */
const SECRETS = [
  'WWW-SECRET',
  'ROOT-SECRET',
  'OUTSIDE-SECRET',
  'OUTSIDE-DIR-SECRET',
  'root:x:0',
  '"name": "rococo"',
  'SECRET_KEY',
  'hidden-key',
];

function fixture(path: string): Buffer {
  return readFileSync(join(STATIC, path));
}

/** What createApp threw, to check its class, code and message. */
function startupError(build: () => unknown): RococoError {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(RococoError);
    return e as RococoError;
  }
  throw new Error('createApp did not throw');
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

describe('static files', () => {
  let root: string;
  let publicDir: string;
  let app: Application;
  let client: TestClient;

  /** A request whose path is sent exactly as written (fetch would normalize `..`). */
  function raw(
    path: string,
    method = 'GET',
    headers: Record<string, string> = {},
  ): Promise<RawResponse> {
    const base = new URL(client.url('/'));
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        { host: base.hostname, port: Number(base.port), path, method, headers, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode as number,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  function expectNoSecret(body: Buffer | string): void {
    const s = body.toString();
    for (const secret of SECRETS) expect(s).not.toContain(secret);
  }

  const addHeader: Middleware = async (req, next) => {
    const res = await next();
    res.setHeader('x-mw', 'seen');
    return res;
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'rococo-static-'));
    writeFileSync(join(root, 'package.json'), '{"secret": "ROOT-SECRET"}\n');
    writeFileSync(join(root, 'outside.txt'), 'OUTSIDE-SECRET\n');
    mkdirSync(join(root, 'outside-dir'));
    writeFileSync(join(root, 'outside-dir', 'secret.txt'), 'OUTSIDE-DIR-SECRET\n');
    mkdirSync(join(root, 'www'));
    writeFileSync(join(root, 'www', 'package.json'), '{"secret": "WWW-SECRET"}\n');
    publicDir = join(root, 'www', 'public');
    mkdirSync(join(publicDir, 'css'), { recursive: true });
    mkdirSync(join(publicDir, 'a'));
    writeFileSync(join(publicDir, 'hello.txt'), 'hello from the tmp mount\n');
    writeFileSync(join(publicDir, 'css', 'site.css'), 'h1 { color: green; }\n');
    writeFileSync(join(publicDir, 'my file.txt'), 'with a space\n');
    writeFileSync(join(publicDir, '100%.txt'), 'with a percent\n');
    writeFileSync(join(publicDir, '.env'), 'SECRET_KEY=tmp\n');
    symlinkSync(join(root, 'outside.txt'), join(publicDir, 'link-out.txt'));
    symlinkSync(join(root, 'outside-dir'), join(publicDir, 'dir-out'));
    symlinkSync('css/site.css', join(publicDir, 'link-in.css'));

    app = createApp({
      middlewares: [addHeader],
      plugins: [
        staticFiles([
          { prefix: '/static', dir: STATIC },
          { prefix: '/files', dir: publicDir, name: 'files' },
          { prefix: '/pub/', dir: STATIC, name: 'pub' },
        ]),
      ],
    });
    client = await testClient(app);
  });
  afterAll(async () => {
    await client?.close();
    rmSync(root, { recursive: true, force: true });
  });

  describe('content types', () => {
    test.each([
      ['css/site.css', 'text/css; charset=utf-8'],
      ['js/app.js', 'text/javascript; charset=utf-8'],
      ['img/logo.png', 'image/png'],
      ['img/icon.svg', 'image/svg+xml'],
      ['page.html', 'text/html; charset=utf-8'],
      ['hello.txt', 'text/plain; charset=utf-8'],
    ])('%s is %s', async (path, type) => {
      const res = await client.get(`/static/${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      const expected = fixture(path);
      expect(res.headers.get('content-length')).toBe(String(expected.length));
      expect(Buffer.from(await res.arrayBuffer()).equals(expected)).toBe(true);
    });
  });

  test('ETag, Last-Modified and Accept-Ranges', async () => {
    const res = await client.get('/static/hello.txt');
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    expect(res.headers.get('last-modified')).toBe(
      statSync(join(STATIC, 'hello.txt')).mtime.toUTCString(),
    );
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    await res.arrayBuffer();
  });

  // Conditional requests go raw: fetch adds `Cache-Control: no-cache` to a request that
  // carries If-None-Match / If-Modified-Since, and a server must not answer 304 to that.
  test('If-None-Match: 304 with an empty body; another tag: 200', async () => {
    const first = await raw('/static/css/site.css');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^W\//);

    const res = await raw('/static/css/site.css', 'GET', { 'if-none-match': etag });
    expect(res.status).toBe(304);
    expect(res.headers.etag).toBe(etag);
    expect(res.body.length).toBe(0);

    const other = await raw('/static/css/site.css', 'GET', { 'if-none-match': 'W/"0-0"' });
    expect(other.status).toBe(200);
    expect(other.body.equals(fixture('css/site.css'))).toBe(true);
  });

  test('If-Modified-Since: 304 when unchanged since, 200 when older', async () => {
    // stat's mtime Date, as send makes Last-Modified: node rounds mtimeMs to it, and a file
    // written at x.9995 s would be a second older in new Date(mtimeMs) (seen in a fresh clone).
    const mtime = statSync(join(STATIC, 'css', 'site.css')).mtime.getTime();
    const res = await raw('/static/css/site.css', 'GET', {
      'if-modified-since': new Date(mtime).toUTCString(),
    });
    expect(res.status).toBe(304);
    expect(res.body.length).toBe(0);

    const again = await raw('/static/css/site.css', 'GET', {
      'if-modified-since': new Date(mtime - 3600_000).toUTCString(),
    });
    expect(again.status).toBe(200);
    expect(again.body.equals(fixture('css/site.css'))).toBe(true);
  });

  test('Range bytes=0-4: 206 with Content-Range and the exact bytes', async () => {
    const file = fixture('hello.txt');
    const res = await client.get('/static/hello.txt', { headers: { range: 'bytes=0-4' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 0-4/${file.length}`);
    expect(res.headers.get('content-length')).toBe('5');
    expect(await res.text()).toBe('hello');
  });

  test('a suffix range: the last bytes', async () => {
    const file = fixture('hello.txt');
    const res = await client.get('/static/hello.txt', { headers: { range: 'bytes=-6' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(
      `bytes ${file.length - 6}-${file.length - 1}/${file.length}`,
    );
    expect(await res.text()).toBe('world\n');
  });

  test('an unsatisfiable range: 416 with bytes */size', async () => {
    const file = fixture('hello.txt');
    const res = await client.get('/static/hello.txt', { headers: { range: 'bytes=1000-2000' } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${file.length}`);
    expect(await res.text()).not.toContain('hello');
  });

  test('HEAD: the headers and no body', async () => {
    const file = fixture('css/site.css');
    const res = await raw('/static/css/site.css', 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(file.length));
    expect(res.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(res.headers.etag).toMatch(/^W\//);
    expect(res.body.length).toBe(0);
  });

  test('?v= is cached for a year as immutable; without it, max-age=0', async () => {
    const hashed = await client.get('/static/css/site.css?v=0123456789ab');
    expect(hashed.status).toBe(200);
    expect(hashed.headers.get('cache-control')).toBe(YEAR_CACHE);
    await hashed.arrayBuffer();

    const plain = await client.get('/static/css/site.css');
    expect(plain.status).toBe(200);
    expect(plain.headers.get('cache-control')).toBe(NO_CACHE);
    await plain.arrayBuffer();
  });

  describe('nothing outside the folder is served', () => {
    test.each([
      '/files/../package.json',
      '/files/%2e%2e/package.json',
      '/files/%2E%2E/package.json',
      '/files/%2e%2e%2fpackage.json',
      '/files/..%2fpackage.json',
      '/files/..%5cpackage.json',
      '/files/a/../../package.json',
      '/files/a/%2e%2e/%2e%2e/package.json',
      '/files/a/..%2f..%2fpackage.json',
      '/files/%252e%252e/package.json',
      '/files/../../package.json',
      '/files/../../outside.txt',
      '/files/%2e%2e/%2e%2e/outside.txt',
      '/files//etc/passwd',
      '/files/%2fetc%2fpasswd',
      '/static/../../../package.json',
      '/static/%2e%2e/%2e%2e/%2e%2e/package.json',
      '/static/..%2f..%2f..%2fpackage.json',
    ])('%s: 403 or 404', async (path) => {
      const res = await raw(path);
      expect([403, 404]).toContain(res.status);
      expectNoSecret(res.body);
    });

    test.each([
      '/files/hello.txt%00',
      '/files/%00',
      '/files/hello.txt%00.css',
      '/files/%00/../package.json',
    ])('NUL in %s: 400 or 404', async (path) => {
      const res = await raw(path);
      expect([400, 404]).toContain(res.status);
      expect(res.body.toString()).not.toContain('hello from');
      expectNoSecret(res.body);
    });

    test('a symlink to a file outside: 404', async () => {
      const res = await raw('/files/link-out.txt');
      expect(res.status).toBe(404);
      expectNoSecret(res.body);
    });

    test('a symlink to a folder outside: 404', async () => {
      const res = await raw('/files/dir-out/secret.txt');
      expect(res.status).toBe(404);
      expectNoSecret(res.body);
    });

    test('a symlink that stays inside: 200', async () => {
      const res = await client.get('/files/link-in.css');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/css; charset=utf-8');
      expect(await res.text()).toBe('h1 { color: green; }\n');
    });

    test.each(['/static/.env', '/static/.secret/key.txt', '/files/.env'])(
      'dotfile %s: 404',
      async (path) => {
        const res = await raw(path);
        expect(res.status).toBe(404);
        expectNoSecret(res.body);
      },
    );

    test.each(['/static/css', '/static/css/', '/files/a', '/files/a/'])(
      'directory %s: 404, not a listing',
      async (path) => {
        const res = await raw(path);
        expect(res.status).toBe(404);
        expect(res.headers['content-type']).toBe(PROBLEM_TYPE);
        expect(res.headers.location).toBeUndefined();
        expect(res.body.toString()).not.toContain('site.css');
      },
    );
  });

  test('a missing file: 404 problem+json', async () => {
    const res = await client.get('/static/css/missing.css');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe(PROBLEM_TYPE);
    expect(await res.json()).toEqual({ type: 'about:blank', title: 'Not Found', status: 404 });
  });

  test('percent-encoded file names are decoded once', async () => {
    const space = await client.get('/files/my%20file.txt');
    expect(space.status).toBe(200);
    expect(await space.text()).toBe('with a space\n');
    const percent = await client.get('/files/100%25.txt');
    expect(percent.status).toBe(200);
    expect(await percent.text()).toBe('with a percent\n');
  });

  test('app.url and app.staticUrl for each mount', () => {
    expect(app.url('static', { filename: 'css/site.css' })).toBe('/static/css/site.css');
    expect(app.url('files', { filename: 'hello.txt' })).toBe('/files/hello.txt');
    expect(app.url('files', { filename: 'my file.txt' })).toBe('/files/my%20file.txt');
    expect(app.url('pub', { filename: 'css/site.css' })).toBe('/pub/css/site.css');
    expect(app.staticUrl!('css/site.css')).toMatch(/^\/static\/css\/site\.css\?v=[0-9a-f]{12}$/);
    expect(app.staticUrl!('hello.txt', 'files')).toMatch(/^\/files\/hello\.txt\?v=[0-9a-f]{12}$/);
    expect(() => app.staticUrl!('hello.txt', 'nope')).toThrow(RococoError);
  });

  test('two mounts with different names serve their own folders', async () => {
    const a = await client.get(app.url('static', { filename: 'hello.txt' }));
    expect(a.status).toBe(200);
    expect(await a.text()).toBe('hello, static world\n');
    const b = await client.get(app.url('files', { filename: 'hello.txt' }));
    expect(b.status).toBe(200);
    expect(await b.text()).toBe('hello from the tmp mount\n');
    // A file only in one folder is not found in the other.
    const c = await client.get('/files/js/app.js');
    expect(c.status).toBe(404);
    await c.arrayBuffer();
  });

  test('a prefix with a trailing slash', async () => {
    const res = await client.get('/pub/css/site.css');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await res.text()).toBe(fixture('css/site.css').toString());
  });

  test('the app middlewares wrap static responses', async () => {
    const ok = await client.get('/static/hello.txt');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-mw')).toBe('seen');
    expect(await ok.text()).toBe('hello, static world\n');

    const partial = await client.get('/static/hello.txt', { headers: { range: 'bytes=0-4' } });
    expect(partial.status).toBe(206);
    expect(partial.headers.get('x-mw')).toBe('seen');
    await partial.arrayBuffer();

    const etag = ok.headers.get('etag') as string;
    const notModified = await raw('/static/hello.txt', 'GET', { 'if-none-match': etag });
    expect(notModified.status).toBe(304);
    expect(notModified.headers['x-mw']).toBe('seen');
  });
});

describe('static configuration errors', () => {
  test('a folder that does not exist', () => {
    const dir = join(tmpdir(), 'rococo-static-does-not-exist-' + process.pid);
    const err = startupError(() =>
      createApp({ plugins: [staticFiles([{ prefix: '/static', dir }])] }),
    );
    expect(err.code).toBe('ROCOCO_STATIC');
    expect(err.message).toContain(dir);
  });

  test('a file instead of a folder', () => {
    const err = startupError(() =>
      createApp({
        plugins: [staticFiles([{ prefix: '/static', dir: join(STATIC, 'hello.txt') }])],
      }),
    );
    expect(err.code).toBe('ROCOCO_STATIC');
  });

  test('an unknown key in a static mount', () => {
    const mount = { prefix: '/static', dir: STATIC, index: true } as unknown as StaticOptions;
    const err = startupError(() => createApp({ plugins: [staticFiles([mount])] }));
    expect(err.code).toBe('ROCOCO_OPTIONS');
    expect(err.message).toContain('index');
  });
});
