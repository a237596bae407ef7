import { parseSetCookie } from 'cookie';
import { Agent, request as httpRequest, type RequestOptions } from 'node:http';
import type { Application } from './core/application';

/** What a test request may carry besides method and path. */
export interface TestRequestInit {
  headers?: Record<string, string>;
  /** A raw body, sent as is. */
  body?: string | Uint8Array<ArrayBuffer> | Blob | URLSearchParams | FormData;
  /** Sent as JSON with `Content-Type: application/json`. */
  json?: unknown;
  /** Sent urlencoded (a record or `URLSearchParams`), or multipart (a `FormData`). */
  form?: Record<string, string> | URLSearchParams | FormData;
}

type Shortcut = (path: string, init?: TestRequestInit) => Promise<globalThis.Response>;

/** A client for one running application. */
export interface TestClient {
  /** The absolute URL of a path on the test server. */
  url(path: string): string;
  /** Sends a request (the path as is: encoded, dots kept); a fetch `Response`, redirects not followed. */
  request(method: string, path: string, init?: TestRequestInit): Promise<globalThis.Response>;
  get: Shortcut;
  post: Shortcut;
  put: Shortcut;
  patch: Shortcut;
  delete: Shortcut;
  head: Shortcut;
  options: Shortcut;
  /** Cookies the server has set and not expired, sent back with every request. */
  readonly cookies: Map<string, string>;
  /** Closes the server and runs the app's shutdown and cleanup hooks. */
  close(): Promise<void>;
}

/**
 * Starts `app` on 127.0.0.1 and a free port, for a test that talks real HTTP to it. Requests go
 * out exactly as written (node's http client: no cache headers added, no `..` normalized), and
 * answers come back as fetch `Response`s.
 *
 * @example
 * const client = await testClient(app);
 * const res = await client.post('/api/projects', { json: { name: 'rococo' } });
 * expect(res.status).toBe(302);
 * await client.close();
 */
export async function testClient(app: Application): Promise<TestClient> {
  const base = await app.listen(0, '127.0.0.1');
  const { port } = new URL(base);
  const cookies = new Map<string, string>();
  const agent = new Agent({ keepAlive: true });

  const request = async (method: string, path: string, init: TestRequestInit = {}) => {
    const headers = new Headers(init.headers);
    const payload = await encodeBody(init, headers);
    if (cookies.size > 0 && !headers.has('cookie')) {
      headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    if (payload !== undefined) headers.set('content-length', String(payload.byteLength));
    const res = await send({ agent, host: '127.0.0.1', port: Number(port), method, path, headers: Object.fromEntries(headers) }, payload);
    for (const line of res.headers.getSetCookie()) {
      const c = parseSetCookie(line);
      const expired = (c.maxAge !== undefined && c.maxAge <= 0) || (c.expires !== undefined && c.expires.getTime() <= Date.now());
      if (expired) cookies.delete(c.name);
      else cookies.set(c.name, c.value ?? '');
    }
    return res;
  };
  const shortcut = (method: string): Shortcut => (path, init) => request(method, path, init);

  return {
    url: (path) => base + path,
    request,
    get: shortcut('GET'),
    post: shortcut('POST'),
    put: shortcut('PUT'),
    patch: shortcut('PATCH'),
    delete: shortcut('DELETE'),
    head: shortcut('HEAD'),
    options: shortcut('OPTIONS'),
    cookies,
    close: async () => {
      await app.close(); // in-flight requests finish first; the server closes idle sockets
      agent.destroy();
    },
  };
}

/** The body of a test request as bytes, setting its content type when the caller did not. */
async function encodeBody(init: TestRequestInit, headers: Headers): Promise<Buffer | undefined> {
  let body: TestRequestInit['body'] = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  } else if (init.form !== undefined) {
    body = init.form instanceof FormData || init.form instanceof URLSearchParams ? init.form : new URLSearchParams(init.form);
  }
  if (body === undefined) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  // FormData, URLSearchParams and Blob: let the fetch machinery encode them (multipart boundary).
  const encoded = new globalThis.Response(body);
  const type = encoded.headers.get('content-type');
  if (type && !headers.has('content-type')) headers.set('content-type', type);
  return Buffer.from(await encoded.arrayBuffer());
}

const NO_BODY = new Set([101, 204, 205, 304]);

function send(options: RequestOptions, payload: Buffer | undefined): Promise<globalThis.Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const status = res.statusCode as number;
        const body = NO_BODY.has(status) || options.method === 'HEAD' ? null : Buffer.concat(chunks);
        resolve(new globalThis.Response(body, { status, statusText: res.statusMessage, headers }));
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}
