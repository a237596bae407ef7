import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  createBrotliCompress,
  createGunzip,
  deflateSync,
  gzipSync,
  gunzipSync,
  inflateSync,
} from 'node:zlib';
import {
  compression,
  Controller,
  createApp,
  Get,
  html,
  json,
  Post,
  Response,
  RococoError,
  staticFiles,
  text,
  type Application,
  type CompressionOptions,
  type Request,
} from '../src';
import { testClient, type TestClient } from '../src/testing';

/**
 * compression(): responses compressed as Accept-Encoding chooses, and what is never
 * compressed; files on the fly and precompressed siblings; request bodies decoded by the
 * kernel, bombs included. Through real HTTP: testClient's node client leaves the bytes as the
 * server sent them (fetch would decode them).
 */

/** 6 KB of HTML that compresses as pages do (repeated markup, varied text). */
const PAGE = `<!doctype html><html><body><ul>${Array.from(
  { length: 120 },
  (_, i) => `<li class="row">item ${i} ${(i * 7919).toString(36)}</li>`,
).join('')}</ul></body></html>`;
const BIG = PAGE.repeat(8); // ~ 50 KB: past the synchronous limit, streamed through zlib
const ROWS = Array.from({ length: 80 }, (_, i) => ({
  id: i,
  name: `project ${i}`,
  done: i % 3 === 0,
}));
const PNG = Buffer.alloc(4096, 1);
/** 3 MB of text that compresses poorly (base64 of noise): megabytes still go out compressed. */
const LARGE = Buffer.from(
  Array.from({ length: (3 * 1024 * 1024) / 32 }, (_, i) =>
    createHash('sha256').update(String(i)).digest('base64').slice(0, 32),
  ).join(''),
);

let releaseSlow: () => void = () => {};

@Controller('')
class Pages {
  @Get('/page')
  page() {
    return html(PAGE);
  }

  @Get('/big')
  big() {
    return html(BIG);
  }

  @Get('/rows')
  rows() {
    return ROWS; // a plain object: JSON, through the send hooks
  }

  @Get('/small')
  small() {
    return text('short');
  }

  @Get('/png')
  png() {
    return new Response(PNG, { headers: { 'content-type': 'image/png' } });
  }

  @Get('/untyped')
  untyped() {
    return new Response(PAGE);
  }

  @Get('/etag')
  etag(req: Request) {
    const res = html(PAGE, { headers: { etag: '"v1"' } });
    if (req.query.has('weak')) res.setHeader('etag', 'W/"v1"');
    return res;
  }

  @Get('/no-transform')
  noTransform() {
    return html(PAGE, { headers: { 'cache-control': 'public, no-transform' } });
  }

  @Get('/encoded')
  encoded() {
    return new Response(gzipSync(PAGE), {
      headers: { 'content-type': 'text/html', 'content-encoding': 'gzip' },
    });
  }

  @Get('/nothing')
  nothing() {
    return undefined; // 204
  }

  @Get('/not-modified')
  notModified() {
    return html(PAGE, { status: 304 });
  }

  @Get('/not-modified-bare')
  notModifiedBare() {
    return new Response(null, {
      status: 304,
      headers: { 'content-type': 'text/html; charset=utf-8', etag: '"v1"' },
    });
  }

  @Get('/partial')
  partial() {
    return html(PAGE.slice(0, 2000), {
      status: 206,
      headers: { 'content-range': `bytes 0-1999/${PAGE.length}` },
    });
  }

  @Get('/vary')
  vary() {
    return html(PAGE, { headers: { vary: 'Cookie' } });
  }

  @Get('/versioned', { conditions: { headers: { 'accept-version': '2' } } })
  versioned() {
    return html(PAGE);
  }

  @Get('/versioned')
  unversioned() {
    return html(PAGE);
  }

  @Get('/stream')
  stream() {
    const body = Readable.from([PAGE.slice(0, 3000), PAGE.slice(3000)]);
    return new Response(body, {
      headers: { 'content-type': 'text/plain', 'content-length': String(PAGE.length) },
    });
  }

  /** A stream whose second chunk waits for the test: its first must arrive before. */
  @Get('/slow')
  slow() {
    const body = new Readable({ read() {} });
    body.push('data: first event\n\n');
    releaseSlow = () => {
      body.push('data: last event\n\n');
      body.push(null);
    };
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  }

  @Get('/missing')
  missing() {
    return json({ error: 'x'.repeat(2000) }, { status: 404 });
  }

  @Post('/echo')
  async echo(req: Request) {
    const body = await req.text();
    return { length: body.length, start: body.slice(0, 40) };
  }

  @Post('/json')
  async json(req: Request) {
    return { got: await req.json() };
  }

  @Post('/form')
  async form(req: Request) {
    const form = await req.form();
    const file = form.get('file') as File;
    return { name: form.get('name'), file: file.name, size: file.size };
  }

  @Post('/bytes')
  async bytes(req: Request) {
    return { size: (await req.buffer()).length };
  }
}

/** The bytes of a response, as they came over the wire. */
async function bytes(res: globalThis.Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

function decode(encoding: string | null, body: Buffer): string {
  if (encoding === 'br') return brotliDecompressSync(body).toString();
  if (encoding === 'gzip') return gunzipSync(body).toString();
  if (encoding === 'deflate') return inflateSync(body).toString();
  if (encoding === null) return body.toString();
  throw new Error(`unexpected Content-Encoding ${encoding}`);
}

function appWith(options?: CompressionOptions, plugins = [compression(options)]): Application {
  return createApp({
    controllers: [Pages],
    settings: { ACCESS_LOG: false },
    plugins: [...plugins, staticFiles([{ prefix: '/static', dir: STATIC }])],
  });
}

let STATIC: string;
const CSS = `body { margin: 0 }\n${Array.from({ length: 150 }, (_, i) => `.c${i} { color: #${(i * 4049).toString(16).padStart(6, '0').slice(0, 6)}; padding: ${i}px }`).join('\n')}\n`;
const CSS_BR = brotliCompressSync(CSS, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
const CSS_GZ = gzipSync(CSS, { level: 9 });

let client: TestClient;

beforeAll(async () => {
  STATIC = mkdtempSync(join(tmpdir(), 'rococo-compression-'));
  writeFileSync(join(STATIC, 'site.css'), CSS);
  writeFileSync(join(STATIC, 'site.css.br'), CSS_BR);
  writeFileSync(join(STATIC, 'site.css.gz'), CSS_GZ);
  writeFileSync(join(STATIC, 'plain.css'), CSS);
  writeFileSync(join(STATIC, 'only-gz.css'), CSS);
  writeFileSync(join(STATIC, 'only-gz.css.gz'), CSS_GZ);
  writeFileSync(join(STATIC, 'tiny.txt'), 'tiny\n');
  writeFileSync(join(STATIC, 'large.txt'), LARGE);
  writeFileSync(join(STATIC, 'image.png'), PNG);
  writeFileSync(join(STATIC, 'linked.css'), CSS);
  mkdirSync(join(STATIC, 'dir'));
  writeFileSync(join(STATIC, 'dir.br'), CSS_BR);
  const outside = mkdtempSync(join(tmpdir(), 'rococo-compression-outside-'));
  writeFileSync(join(outside, 'secret.br'), 'OUTSIDE-SECRET');
  symlinkSync(join(outside, 'secret.br'), join(STATIC, 'linked.css.br'));
  // A file that is a link inside the folder: its siblings are those beside the name asked for.
  symlinkSync(join(STATIC, 'plain.css'), join(STATIC, 'alias.css'));
  writeFileSync(join(STATIC, 'alias.css.br'), CSS_BR);
  // A sibling that is a link inside the folder is followed.
  writeFileSync(join(STATIC, 'inner.css'), CSS);
  symlinkSync(join(STATIC, 'site.css.gz'), join(STATIC, 'inner.css.gz'));
  client = await testClient(appWith());
});

afterAll(async () => {
  await client?.close();
  rmSync(STATIC, { recursive: true, force: true });
});

describe('negotiation', () => {
  test('br is preferred when the client accepts br and gzip alike, and the body decodes to the page', async () => {
    const res = await client.get('/page', { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    const body = await bytes(res);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('vary')).toBe('Accept-Encoding');
    expect(Number(res.headers.get('content-length'))).toBe(body.length);
    expect(body.length).toBeLessThan(PAGE.length / 3);
    expect(decode('br', body)).toBe(PAGE);
  });

  test("the client's q-values win over the server's preference", async () => {
    const res = await client.get('/page', { headers: { 'accept-encoding': 'br;q=0.5, gzip' } });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(decode('gzip', await bytes(res))).toBe(PAGE);
    const res2 = await client.get('/page', {
      headers: { 'accept-encoding': 'gzip;q=0.2, br;q=0.9' },
    });
    expect(res2.headers.get('content-encoding')).toBe('br');
  });

  test('gzip alone', async () => {
    const res = await client.get('/page', { headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(decode('gzip', await bytes(res))).toBe(PAGE);
  });

  test('no Accept-Encoding, or identity: the page as it is, with Vary', async () => {
    const cases: Record<string, string>[] = [
      {},
      { 'accept-encoding': 'identity' },
      { 'accept-encoding': '' },
    ];
    for (const headers of cases) {
      const res = await client.get('/page', { headers });
      expect(res.headers.get('content-encoding')).toBeNull();
      expect(res.headers.get('vary')).toBe('Accept-Encoding');
      expect((await bytes(res)).toString()).toBe(PAGE);
    }
  });

  test('*;q=0 and no coding accepted: the page as it is (never a 406); * alone is br', async () => {
    for (const ae of ['*;q=0', 'br;q=0, gzip;q=0, identity;q=0', 'compress, zstd']) {
      const res = await client.get('/page', { headers: { 'accept-encoding': ae } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-encoding')).toBeNull();
      expect((await bytes(res)).toString()).toBe(PAGE);
    }
    const gz = await client.get('/page', { headers: { 'accept-encoding': 'gzip, *;q=0' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    const any = await client.get('/page', { headers: { 'accept-encoding': '*' } });
    expect(any.headers.get('content-encoding')).toBe('br');
  });

  test('deflate only when listed in encodings; the list orders the server preference', async () => {
    const res = await client.get('/page', { headers: { 'accept-encoding': 'deflate' } });
    expect(res.headers.get('content-encoding')).toBeNull();
    const other = await testClient(appWith({ encodings: ['gzip', 'deflate', 'br'] }));
    try {
      const d = await other.get('/page', { headers: { 'accept-encoding': 'deflate' } });
      expect(d.headers.get('content-encoding')).toBe('deflate');
      expect(decode('deflate', await bytes(d))).toBe(PAGE);
      const g = await other.get('/page', { headers: { 'accept-encoding': 'br, gzip, deflate' } });
      expect(g.headers.get('content-encoding')).toBe('gzip');
    } finally {
      await other.close();
    }
  });
});

describe('what is compressed', () => {
  const BR = { 'accept-encoding': 'br, gzip' };

  test('JSON of a plain object', async () => {
    const res = await client.get('/rows', { headers: BR });
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(JSON.parse(decode('br', await bytes(res)))).toEqual(ROWS);
  });

  test('an error document large enough', async () => {
    const res = await client.get('/missing', { headers: BR });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(JSON.parse(decode('br', await bytes(res))).error).toHaveLength(2000);
  });

  test('a body past the synchronous limit goes through a zlib stream: chunked, no Content-Length', async () => {
    const res = await client.get('/big', { headers: BR });
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(decode('br', await bytes(res))).toBe(BIG);
  });

  test('a stream body: its Content-Length is dropped, the bytes decode', async () => {
    for (const encoding of ['br', 'gzip']) {
      const res = await client.get('/stream', { headers: { 'accept-encoding': encoding } });
      expect(res.headers.get('content-encoding')).toBe(encoding);
      expect(res.headers.get('content-length')).toBeNull();
      expect(decode(encoding, await bytes(res))).toBe(PAGE);
    }
  });

  test('a stream is flushed chunk by chunk: its first event arrives before it ends', async () => {
    const base = new URL(client.url('/'));
    const first = await new Promise<{ encoding?: string; text: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: base.hostname,
          port: Number(base.port),
          path: '/slow',
          headers: { 'accept-encoding': 'gzip' },
          agent: false,
        },
        (res) => {
          const gunzip = createGunzip();
          res.pipe(gunzip);
          let text = '';
          gunzip.on('data', (c: Buffer) => {
            text += c.toString();
            if (text.includes('\n\n')) resolve({ encoding: res.headers['content-encoding'], text });
          });
          gunzip.on('error', reject);
          gunzip.on('end', () => releaseSlow());
        },
      );
      req.on('error', reject);
      req.end();
      setTimeout(() => reject(new Error('the first event did not arrive')), 3000).unref();
    });
    expect(first).toEqual({ encoding: 'gzip', text: 'data: first event\n\n' });
    releaseSlow();
  });

  test('a strong ETag is weakened, a weak one kept', async () => {
    const strong = await client.get('/etag', { headers: BR });
    expect(strong.headers.get('content-encoding')).toBe('br');
    expect(strong.headers.get('etag')).toBe('W/"v1"');
    const weak = await client.get('/etag?weak', { headers: BR });
    expect(weak.headers.get('etag')).toBe('W/"v1"');
    const plain = await client.get('/etag', { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers.get('etag')).toBe('"v1"');
  });

  test("Vary is merged with the response's own and with the router's", async () => {
    const res = await client.get('/vary', { headers: BR });
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(res.headers.get('vary')).toBe('Cookie, Accept-Encoding');
    const routed = await client.get('/versioned', { headers: { ...BR, 'accept-version': '2' } });
    expect(routed.headers.get('vary')).toBe('accept-version, Accept-Encoding');
    const other = await client.get('/versioned', { headers: BR });
    expect(other.headers.get('vary')).toBe('accept-version, Accept-Encoding');
  });

  test('threshold: 0 compresses even a short text', async () => {
    const other = await testClient(appWith({ threshold: 0 }));
    try {
      const res = await other.get('/small', { headers: BR });
      expect(res.headers.get('content-encoding')).toBe('br');
      expect(decode('br', await bytes(res))).toBe('short');
    } finally {
      await other.close();
    }
  });
});

describe('what is never compressed', () => {
  const BR = { 'accept-encoding': 'br, gzip' };

  test('a body below the threshold (1 KiB): as it is, with Vary', async () => {
    const res = await client.get('/small', { headers: BR });
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(res.headers.get('vary')).toBe('Accept-Encoding');
    expect(await res.text()).toBe('short');
  });

  test('a type that does not compress (image/png), or no type at all: no Vary either', async () => {
    for (const path of ['/png', '/untyped']) {
      const res = await client.get(path, { headers: BR });
      expect(res.headers.get('content-encoding')).toBeNull();
      expect(res.headers.get('vary')).toBeNull();
      expect((await bytes(res)).length).toBe(path === '/png' ? PNG.length : PAGE.length);
    }
  });

  test('HEAD: the headers of the page as it is (its length), with Vary', async () => {
    const res = await client.head('/page', { headers: BR });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(res.headers.get('content-length')).toBe(String(PAGE.length));
    expect(res.headers.get('vary')).toBe('Accept-Encoding');
  });

  // A 304 and a 206 carry the Vary their 200 would (RFC 9110, 15.4.5 and 15.3.7): a cache that
  // revalidates or completes a stored response keeps knowing it varies by Accept-Encoding.
  test('204 and 304: not compressed; the 304 with the Vary of its 200', async () => {
    const none = await client.get('/nothing', { headers: BR });
    expect(none.status).toBe(204);
    expect(none.headers.get('content-encoding')).toBeNull();
    const nm = await client.get('/not-modified', { headers: BR });
    expect(nm.status).toBe(304);
    expect(nm.headers.get('content-encoding')).toBeNull();
    expect(nm.headers.get('vary')).toBe('Accept-Encoding');
    const bare = await client.get('/not-modified-bare', { headers: BR });
    expect(bare.status).toBe(304);
    expect(bare.headers.get('vary')).toBe('Accept-Encoding');
  });

  test('a Range request, and a 206', async () => {
    const ranged = await client.get('/page', { headers: { ...BR, range: 'bytes=0-99' } });
    expect(ranged.headers.get('content-encoding')).toBeNull();
    expect((await bytes(ranged)).toString()).toBe(PAGE); // the route ignores ranges: all of it, as it is
    const partial = await client.get('/partial', { headers: BR });
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-encoding')).toBeNull();
    expect(partial.headers.get('vary')).toBe('Accept-Encoding');
    expect((await bytes(partial)).toString()).toBe(PAGE.slice(0, 2000));
  });

  test('a response that already has a Content-Encoding: its bytes untouched', async () => {
    const res = await client.get('/encoded', { headers: BR });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(decode('gzip', await bytes(res))).toBe(PAGE);
  });

  test('Cache-Control: no-transform', async () => {
    const res = await client.get('/no-transform', { headers: BR });
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(res.headers.get('vary')).toBeNull();
    expect(await res.text()).toBe(PAGE);
  });
});

describe('static files', () => {
  const BR = { 'accept-encoding': 'gzip, deflate, br' };

  test('a file without siblings is compressed on the fly; send keeps its weak ETag', async () => {
    const identity = await client.get('/static/plain.css');
    expect(identity.headers.get('content-encoding')).toBeNull();
    expect(identity.headers.get('vary')).toBe('Accept-Encoding');
    expect(await identity.text()).toBe(CSS);
    for (const encoding of ['br', 'gzip']) {
      const res = await client.get('/static/plain.css', {
        headers: { 'accept-encoding': encoding },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-encoding')).toBe(encoding);
      expect(res.headers.get('content-type')).toBe('text/css; charset=utf-8');
      expect(res.headers.get('vary')).toBe('Accept-Encoding');
      expect(res.headers.get('content-length')).toBeNull();
      expect(res.headers.get('etag')).toBe(identity.headers.get('etag'));
      expect(res.headers.get('etag')).toMatch(/^W\//);
      expect(decode(encoding, await bytes(res))).toBe(CSS);
    }
  });

  test('a large file through a client that stops reading: every byte arrives, in order', async () => {
    const base = new URL(client.url('/'));
    const got = await new Promise<{ encoding?: string; body: Buffer }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: base.hostname,
          port: Number(base.port),
          path: '/static/large.txt',
          headers: { 'accept-encoding': 'gzip' },
          agent: false,
        },
        (res) => {
          // Nothing read for a while: the socket, then node's buffer, then the gzip stream fill up.
          res.pause();
          setTimeout(() => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }),
            );
            res.resume();
          }, 300);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(got.encoding).toBe('gzip');
    expect(gunzipSync(got.body).equals(LARGE)).toBe(true);
  });

  test('a file: HEAD, Range and 304 are not compressed, and carry Vary', async () => {
    const head = await client.head('/static/plain.css', { headers: BR });
    expect(head.headers.get('content-encoding')).toBeNull();
    expect(head.headers.get('content-length')).toBe(String(CSS.length));
    const range = await client.get('/static/plain.css', {
      headers: { ...BR, range: 'bytes=5-14' },
    });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-encoding')).toBeNull();
    expect(range.headers.get('vary')).toBe('Accept-Encoding');
    expect(await range.text()).toBe(CSS.slice(5, 15));
    const etag = (await client.get('/static/plain.css', { headers: BR })).headers.get('etag');
    const nm = await client.get('/static/plain.css', {
      headers: { ...BR, 'if-none-match': etag as string },
    });
    expect(nm.status).toBe(304);
    expect(nm.headers.get('content-encoding')).toBeNull();
    expect(nm.headers.get('vary')).toBe('Accept-Encoding');
  });

  test('a small file, an image, a missing one: as they are', async () => {
    const tiny = await client.get('/static/tiny.txt', { headers: BR });
    expect(tiny.headers.get('content-encoding')).toBeNull();
    expect(await tiny.text()).toBe('tiny\n');
    const png = await client.get('/static/image.png', { headers: BR });
    expect(png.headers.get('content-encoding')).toBeNull();
    expect((await bytes(png)).equals(PNG)).toBe(true);
    const missing = await client.get('/static/none.css', { headers: BR });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
  });

  test('a precompressed sibling is sent as it is: br, then gzip, with the original type', async () => {
    const br = await client.get('/static/site.css', { headers: BR });
    expect(br.status).toBe(200);
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(br.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(br.headers.get('vary')).toBe('Accept-Encoding');
    expect(br.headers.get('content-length')).toBe(String(CSS_BR.length));
    expect((await bytes(br)).equals(CSS_BR)).toBe(true); // never compressed again
    const gz = await client.get('/static/site.css', { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect((await bytes(gz)).equals(CSS_GZ)).toBe(true);
    const q = await client.get('/static/site.css', {
      headers: { 'accept-encoding': 'br;q=0.1, gzip;q=0.8' },
    });
    expect(q.headers.get('content-encoding')).toBe('gzip');
    const onlyGz = await client.get('/static/only-gz.css', { headers: BR });
    expect(onlyGz.headers.get('content-encoding')).toBe('gzip');
    expect((await bytes(onlyGz)).equals(CSS_GZ)).toBe(true);
  });

  test('the identity variant of a file with siblings carries Vary; each variant its own ETag', async () => {
    const identity = await client.get('/static/site.css', {
      headers: { 'accept-encoding': 'identity' },
    });
    expect(identity.headers.get('content-encoding')).toBeNull();
    expect(identity.headers.get('vary')).toBe('Accept-Encoding');
    expect(await identity.text()).toBe(CSS);
    const br = await client.get('/static/site.css', { headers: BR });
    const gz = await client.get('/static/site.css', { headers: { 'accept-encoding': 'gzip' } });
    const tags = [identity, br, gz].map((r) => r.headers.get('etag'));
    expect(new Set(tags).size).toBe(3);
    expect(br.headers.get('etag')).toMatch(/-br"$/);
    expect(gz.headers.get('etag')).toMatch(/-gzip"$/);
  });

  test('a precompressed sibling: 304 on its own ETag, ranges over its bytes, HEAD', async () => {
    const br = await client.get('/static/site.css', { headers: BR });
    const etag = br.headers.get('etag') as string;
    const nm = await client.get('/static/site.css', { headers: { ...BR, 'if-none-match': etag } });
    expect(nm.status).toBe(304);
    expect(nm.headers.get('etag')).toBe(etag);
    expect(nm.headers.get('vary')).toBe('Accept-Encoding');
    // The identity variant's ETag does not match the br variant.
    const identityTag = (await client.get('/static/site.css')).headers.get('etag') as string;
    const stale = await client.get('/static/site.css', {
      headers: { ...BR, 'if-none-match': identityTag },
    });
    expect(stale.status).toBe(200);
    const range = await client.get('/static/site.css', { headers: { ...BR, range: 'bytes=0-9' } });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-encoding')).toBe('br');
    expect(range.headers.get('content-range')).toBe(`bytes 0-9/${CSS_BR.length}`);
    expect((await bytes(range)).equals(CSS_BR.subarray(0, 10))).toBe(true);
    const head = await client.head('/static/site.css', { headers: BR });
    expect(head.headers.get('content-encoding')).toBe('br');
    expect(head.headers.get('content-length')).toBe(String(CSS_BR.length));
  });

  test('a sibling that is a link out of the folder, or beside a directory, is never sent', async () => {
    const linked = await client.get('/static/linked.css', { headers: BR });
    expect(linked.status).toBe(200);
    const body = decode(linked.headers.get('content-encoding'), await bytes(linked));
    expect(body).toBe(CSS);
    expect(body).not.toContain('OUTSIDE-SECRET');
    const dir = await client.get('/static/dir', { headers: BR });
    expect(dir.status).toBe(404);
  });

  test('siblings are looked for beside the name asked for; a link inside the folder is followed', async () => {
    const alias = await client.get('/static/alias.css', { headers: BR });
    expect(alias.headers.get('content-encoding')).toBe('br');
    expect(alias.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await bytes(alias)).equals(CSS_BR)).toBe(true);
    const inner = await client.get('/static/inner.css', { headers: BR });
    expect(inner.headers.get('content-encoding')).toBe('gzip');
    expect((await bytes(inner)).equals(CSS_GZ)).toBe(true);
  });

  test('precompressed siblings without the compression plugin', async () => {
    const bare = await testClient(appWith(undefined, []));
    try {
      const br = await bare.get('/static/site.css', { headers: BR });
      expect(br.headers.get('content-encoding')).toBe('br');
      expect((await bytes(br)).equals(CSS_BR)).toBe(true);
      const plain = await bare.get('/static/plain.css', { headers: BR });
      expect(plain.headers.get('content-encoding')).toBeNull();
      expect(plain.headers.get('vary')).toBeNull();
      const page = await bare.get('/page', { headers: BR });
      expect(page.headers.get('content-encoding')).toBeNull();
    } finally {
      await bare.close();
    }
  });
});

describe('request bodies', () => {
  const DOC = { name: 'rococo', tags: Array.from({ length: 50 }, (_, i) => `tag-${i}`) };

  test('gzip, x-gzip, deflate, br and identity bodies are decoded for json()', async () => {
    const raw = Buffer.from(JSON.stringify(DOC));
    const bodies: [string, Uint8Array<ArrayBuffer>][] = [
      ['gzip', gzipSync(raw)],
      ['x-gzip', gzipSync(raw)],
      ['deflate', deflateSync(raw)],
      ['br', brotliCompressSync(raw)],
      ['identity', raw],
      ['GZIP', gzipSync(raw)],
    ];
    for (const [encoding, body] of bodies) {
      const res = await client.post('/json', {
        body,
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      });
      expect({ encoding, status: res.status }).toEqual({ encoding, status: 200 });
      expect(await res.json()).toEqual({ got: DOC });
    }
  });

  test('an empty body is empty whatever its coding', async () => {
    const res = await client.post('/bytes', { body: '', headers: { 'content-encoding': 'gzip' } });
    expect(await res.json()).toEqual({ size: 0 });
  });

  test('a gzipped multipart form reaches form() decoded, file included', async () => {
    const form = new FormData();
    form.append('name', 'report');
    form.append('file', new File(['x'.repeat(5000)], 'report.txt', { type: 'text/plain' }));
    const encoded = new globalThis.Response(form);
    const body = gzipSync(Buffer.from(await encoded.arrayBuffer()));
    const res = await client.post('/form', {
      body,
      headers: {
        'content-type': encoded.headers.get('content-type') as string,
        'content-encoding': 'gzip',
      },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: 'report', file: 'report.txt', size: 5000 });
  });

  test('without the compression plugin too (the kernel reads bodies)', async () => {
    const bare = await testClient(appWith(undefined, []));
    try {
      const res = await bare.post('/echo', {
        body: brotliCompressSync('hello '.repeat(100)),
        headers: { 'content-type': 'text/plain', 'content-encoding': 'br' },
      });
      expect(await res.json()).toEqual({ length: 600, start: 'hello '.repeat(7).slice(0, 40) });
    } finally {
      await bare.close();
    }
  });

  test('an unknown coding is a 415 naming those supported', async () => {
    for (const encoding of ['compress', 'zstd', 'gzip, br']) {
      const res = await client.post('/echo', {
        body: 'abc',
        headers: { 'content-type': 'text/plain', 'content-encoding': encoding },
      });
      expect(res.status).toBe(415);
      expect(res.headers.get('accept-encoding')).toBe('gzip, deflate, br');
      const problem = (await res.json()) as { detail: string };
      expect(problem.detail).toContain(`'${encoding}'`);
      expect(problem.detail).toContain('gzip, deflate, br');
    }
  });

  test('data that does not decode is a 400: garbage, a truncated stream, the wrong coding', async () => {
    const gz = gzipSync('hello '.repeat(1000));
    const cases: [string, Uint8Array<ArrayBuffer>][] = [
      ['gzip', Buffer.from('this is not gzip at all')],
      ['gzip', new Uint8Array(gz.subarray(0, gz.length - 20))],
      ['br', gz],
      ['deflate', gz],
    ];
    for (const [encoding, body] of cases) {
      const res = await client.post('/echo', {
        body,
        headers: { 'content-type': 'text/plain', 'content-encoding': encoding },
      });
      expect({ encoding, status: res.status }).toEqual({ encoding, status: 400 });
      expect(((await res.json()) as { detail: string }).detail).toContain(
        `not valid ${encoding} data`,
      );
    }
  });

  test('MAX_BODY_SIZE bounds the decoded size: a body that inflates past it is a 413', async () => {
    const small = await testClient(
      createApp({ controllers: [Pages], settings: { ACCESS_LOG: false, MAX_BODY_SIZE: 1000 } }),
    );
    try {
      const ok = await small.post('/bytes', {
        body: gzipSync(Buffer.alloc(1000)),
        headers: { 'content-encoding': 'gzip' },
      });
      expect(await ok.json()).toEqual({ size: 1000 });
      const over = await small.post('/bytes', {
        body: gzipSync(Buffer.alloc(1001)),
        headers: { 'content-encoding': 'gzip' },
      });
      expect(over.status).toBe(413);
    } finally {
      await small.close();
    }
  });

  test('a bomb (10 MB of zeros in 10 KB of gzip; 1 GiB in brotli) is a 413 and the process stays small', async () => {
    const gzipBomb = gzipSync(Buffer.alloc(10 * 1024 * 1024), { level: 9 });
    expect(gzipBomb.length).toBeLessThan(20_000);
    const brBomb = await brotliOfZeros(1024); // 1 GiB of zeros
    expect(brBomb.length).toBeLessThan(1024 * 1024);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    try {
      const bombs: [string, Uint8Array<ArrayBuffer>][] = [
        ['gzip', gzipBomb],
        ['br', brBomb],
      ];
      for (const [encoding, body] of bombs) {
        const res = await client.post('/bytes', {
          body,
          headers: { 'content-type': 'application/octet-stream', 'content-encoding': encoding },
        });
        expect({ encoding, status: res.status }).toEqual({ encoding, status: 413 });
        expect(res.headers.get('connection')).toBe('close');
      }
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect((peak - before) / 2 ** 20).toBeLessThan(40);
  }, 30_000);
});

describe('options', () => {
  test('unknown keys and bad values stop startup with ROCOCO_OPTIONS', () => {
    const cases: [unknown, RegExp][] = [
      [{ treshold: 10 }, /unknown option 'treshold'/],
      [{ threshold: -1 }, /threshold must be a whole number/],
      [{ encodings: [] }, /encodings must list some of br, gzip, deflate/],
      [{ encodings: ['zstd'] }, /encodings must list some of/],
      [{ brotliQuality: 12 }, /brotliQuality must be a whole number from 0 to 11/],
      [{ gzipLevel: 0 }, /gzipLevel must be a whole number from 1 to 9/],
    ];
    for (const [options, message] of cases) {
      let error: unknown;
      try {
        compression(options as CompressionOptions);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RococoError);
      expect((error as RococoError).code).toBe('ROCOCO_OPTIONS');
      expect((error as Error).message).toMatch(message);
    }
  });
});

/** `mib` MiB of zeros compressed with brotli, streamed so that they are never in memory. */
function brotliOfZeros(mib: number): Promise<Buffer<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const z = createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 1 } });
    const out: Buffer[] = [];
    z.on('data', (c: Buffer) => out.push(c));
    z.on('end', () => resolve(Buffer.concat(out) as Buffer<ArrayBuffer>));
    z.on('error', reject);
    const chunk = Buffer.alloc(1024 * 1024);
    let n = 0;
    const go = () => {
      while (n < mib) {
        n++;
        if (!z.write(chunk)) {
          z.once('drain', go);
          return;
        }
      }
      z.end();
    };
    go();
  });
}
