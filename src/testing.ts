import { parseSetCookie } from 'cookie';
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
  /** Sends a request; the answer is a fetch `Response`, redirects not followed. */
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
 * Starts `app` on 127.0.0.1 and a free port, for a test that talks real HTTP to it.
 *
 * @example
 * const client = await testClient(app);
 * const res = await client.post('/api/projects', { json: { name: 'rococo' } });
 * expect(res.status).toBe(302);
 * await client.close();
 */
export async function testClient(app: Application): Promise<TestClient> {
  const base = await app.listen(0, '127.0.0.1');
  const cookies = new Map<string, string>();

  const request = async (method: string, path: string, init: TestRequestInit = {}) => {
    const headers = new Headers(init.headers);
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    } else if (init.form !== undefined) {
      body = init.form instanceof FormData || init.form instanceof URLSearchParams ? init.form : new URLSearchParams(init.form);
    }
    if (cookies.size > 0 && !headers.has('cookie')) {
      headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const res = await fetch(base + path, { method, headers, body, redirect: 'manual' });
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
    close: () => app.close(),
  };
}
