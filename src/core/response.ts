import { STATUS_CODES, type ServerResponse } from 'node:http';
import { Readable, pipeline, type Duplex } from 'node:stream';
import { serialize, type SerializeOptions } from 'cookie';
import type { RouteSerializer } from './plugin';
import { appendVary } from './vary';

/** What a response can carry: text, bytes, a stream, or nothing. */
export type ResponseBody = string | Buffer | Uint8Array | Readable | null;

/** Status and headers of a {@link Response}. */
export interface ResponseInit {
  status?: number;
  /** Header names in any case; they are stored in lower case. */
  headers?: Record<string, string | string[]>;
}

/** Options of a cookie set by {@link Response.setCookie} (those of the `cookie` package). */
export type CookieOptions = SerializeOptions;

/**
 * The response a handler or middleware returns (aiohttp's `web.Response`). Mutable until sent,
 * so a middleware can add headers or cookies to what `next()` gave it.
 *
 * @example
 * const res = await next();
 * res.setHeader('x-frame-options', 'DENY');
 * return res;
 */
export class Response {
  status: number;
  /** Lower-case header names; `set-cookie` may hold several values. */
  headers: Record<string, string | string[]>;
  body: ResponseBody;

  constructor(body: ResponseBody = null, init?: ResponseInit) {
    this.body = body;
    this.status = init?.status ?? 200;
    this.headers = {};
    const headers = init?.headers;
    if (headers) for (const k of Object.keys(headers)) this.headers[k.toLowerCase()] = headers[k];
  }

  /** Sets a header, replacing one of the same name. */
  setHeader(name: string, value: string | string[]): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }

  /** A header's value, whatever the case of `name`. */
  getHeader(name: string): string | string[] | undefined {
    return this.headers[name.toLowerCase()];
  }

  /** Adds a `Set-Cookie` header; `path` defaults to `/` and `sameSite` to `lax`. */
  setCookie(name: string, value: string, options?: CookieOptions): this {
    const line = serialize(name, value, { path: '/', sameSite: 'lax', ...options });
    const prev = this.headers['set-cookie'];
    this.headers['set-cookie'] =
      prev === undefined ? [line] : Array.isArray(prev) ? [...prev, line] : [prev, line];
    return this;
  }

  /**
   * Writes this response to node's `ServerResponse`. A body in memory gets its
   * `Content-Length` (node would otherwise fall back to chunked encoding after `writeHead`).
   * Subclasses that stream in their own way (files) override it.
   */
  writeTo(res: ServerResponse): void {
    const body = this.body;
    const headers = this.headers;
    if (body instanceof Readable) {
      res.writeHead(this.status, headers);
      pipeline(body, res, (err) => {
        if (err) res.destroy(err);
      });
      return;
    }
    if (headers['content-length'] === undefined && this.status !== 204 && this.status !== 304) {
      headers['content-length'] = String(
        body === null ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      );
    }
    res.writeHead(this.status, flatHeaders(headers));
    res.end(body ?? undefined);
  }

  /** Tells the client to forget a cookie (same `path` and `domain` as when it was set). */
  deleteCookie(
    name: string,
    options?: Pick<CookieOptions, 'path' | 'domain' | 'secure' | 'sameSite' | 'httpOnly'>,
  ): this {
    return this.setCookie(name, '', { ...options, maxAge: 0, expires: new Date(0) });
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * A JSON response.
 *
 * @example
 * return json({ id }, { status: 201, headers: { location: req.app.url('api.project', { id }) } });
 */
export function json(data: unknown, init?: ResponseInit): Response {
  return withType(new Response(JSON.stringify(data) ?? 'null', init), JSON_TYPE);
}

/** A `text/plain` response. */
export function text(body: string, init?: ResponseInit): Response {
  return withType(new Response(body, init), 'text/plain; charset=utf-8');
}

/** A `text/html` response. */
export function html(body: string, init?: ResponseInit): Response {
  return withType(new Response(body, init), 'text/html; charset=utf-8');
}

/**
 * A redirect response (302 unless told otherwise). Throwing `HTTPFound` does the same from
 * anywhere below a handler.
 */
export function redirect(
  location: string | URL,
  status: 300 | 301 | 302 | 303 | 307 | 308 = 302,
): Response {
  const loc = String(location);
  if (/[\r\n]/.test(loc)) throw new TypeError('Redirect location must not contain CR or LF');
  return new Response(null, { status, headers: { location: loc } });
}

function withType(res: Response, type: string): Response {
  if (res.headers['content-type'] === undefined) res.headers['content-type'] = type;
  return res;
}

/**
 * What a handler returned, as a response: a `Response` as is, an HTTP error as its problem
 * document, `undefined` as 204, a string as text, bytes or a stream as octet-stream, and
 * anything else as JSON.
 */
export function toResponse(value: unknown): Response {
  if (value instanceof Response) return value;
  if (value === undefined) return new Response(null, { status: 204 });
  if (typeof value === 'string') return text(value);
  if (value instanceof Uint8Array || value instanceof Readable) {
    return new Response(value, { headers: { 'content-type': 'application/octet-stream' } });
  }
  if (typeof (value as { toResponse?: unknown }).toResponse === 'function') {
    return (value as { toResponse(): Response }).toResponse();
  }
  return json(value);
}

/**
 * {@link toResponse}, with the route's JSON writer (`RouteBuild.serialize`) asked first about
 * an object that is no plain one nor an array: its text, when it gives one, is the JSON body.
 */
export function toResponseWith(value: unknown, serialize: RouteSerializer | undefined): Response {
  if (
    serialize !== undefined &&
    value !== null &&
    typeof value === 'object' &&
    value.constructor !== Object &&
    !Array.isArray(value) &&
    !(value instanceof Response)
  ) {
    const body = serialize(value);
    if (body !== undefined) return withType(new Response(body), JSON_TYPE);
  }
  return toResponse(value);
}

/**
 * Headers as node's flat `[name, value, name, value...]` list, which `writeHead` walks without
 * the key lookups of an object (callgrind: fewer instructions per response).
 */
function flatHeaders(headers: Record<string, string | string[]>): (string | string[])[] {
  const flat: (string | string[])[] = [];
  // Several values stay one array: node writes a line each, and a name repeated in the list
  // would keep only the last value once a header was set with setHeader (x-request-id).
  for (const name in headers) flat.push(name, headers[name]);
  return flat;
}

/**
 * Writes a response to node's `ServerResponse`. A `Vary` the router already set (route
 * conditions on headers) is merged into the response's own, which writeHead would otherwise
 * replace it with.
 */
export function send(res: ServerResponse, response: Response): void {
  const vary = response.headers.vary;
  if (vary !== undefined) {
    const routed = res.getHeader('vary');
    if (routed !== undefined)
      response.headers.vary = appendVary(
        String(routed),
        Array.isArray(vary) ? vary.join(', ') : vary,
      );
  }
  response.writeTo(res);
}

/**
 * Answers an upgrade request that will not be upgraded with a plain HTTP response, written on
 * the raw socket (node's ServerResponse does not exist for it), then closes the socket.
 */
export function writeRawResponse(socket: Duplex, res: Response): void {
  if (socket.destroyed) return;
  const body =
    typeof res.body === 'string'
      ? Buffer.from(res.body)
      : Buffer.isBuffer(res.body)
        ? res.body
        : res.body instanceof Uint8Array
          ? Buffer.from(res.body)
          : Buffer.alloc(0);
  let head = `HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? ''}\r\n`;
  for (const [name, value] of Object.entries(res.headers)) {
    if (name === 'content-length' || name === 'connection') continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
  }
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  // A peer that never reads must not keep the socket: give the answer a moment, then cut.
  setTimeout(() => socket.destroy(), 1000).unref();
}
