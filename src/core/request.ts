import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { parse as parseCookies } from 'cookie';
import type { Application } from './application';
import { decodeText, parseForm, parseJson, readBody } from './body';
import type { HandlerMeta } from './metadata';
import { clientAddress, forwarded } from './proxy';

/** The route a request matched, as middlewares see it through `req.route`. */
export interface MatchedRoute {
  /** Its name (`projects.show`), if it has one. */
  readonly name: string | undefined;
  readonly methods: readonly string[];
  /** Where it was declared: `ProjectsController.show`. */
  readonly origin: string;
  /** Its pattern as declared (`source`: `/projects/<project_id:int>`): a label that is not the raw path. */
  readonly pattern: { readonly source: string };
  /** What the decorators recorded on the handler (null for static files and docs). */
  readonly handler: { readonly meta: HandlerMeta | null; readonly quiet?: boolean };
}

/**
 * The request a handler and its middlewares receive: everything is reachable from it,
 * including the app (`req.app.url(...)`) and its settings, so nothing needs to be global.
 * Query, cookies and body are parsed on first use; the body is read at most once.
 *
 * @example
 * @Post('/projects') async add(req: Request) {
 *   const body = await req.json();
 *   throw new HTTPFound(req.app.url('projects.show', { id: 7 }));
 * }
 */
// Data, Query and Params type what plugins add (the schemas plugin's req.data...): declared by
// augmenting this class, never initialized here, so a request that does not use them pays nothing.
// eslint-disable-next-line @typescript-eslint/no-unused-vars
export class Request<Data = unknown, Query = unknown, Params = unknown> {
  /** The node request, for what rococo does not wrap. */
  readonly raw: IncomingMessage;
  /** The application serving this request. */
  readonly app: Application;
  readonly method: string;
  /** The request target as sent: path and query, percent-encoded. */
  readonly url: string;
  /** The path as sent (percent-encoded, no query string). */
  readonly path: string;
  /** Route parameters, percent-decoded: `<id>` is `params.id`. */
  readonly params: Record<string, string>;
  /** The matched route; null when none matched (the 404 and 405 answers). */
  readonly route: MatchedRoute | null;
  /** The request id: the client's well-formed `X-Request-Id`, or a new one; echoed in the response. */
  readonly id: string;

  // Caches filled on first use; declared rather than initialized, so that a request that never
  // reads its query, cookies or body does not pay for their slots (with the three below,
  // ~6% of the instructions of a small JSON request, measured with callgrind).
  declare private _query: URLSearchParams | undefined;
  declare private _cookies: Record<string, string | undefined> | undefined;
  declare private _state: Record<string | symbol, unknown> | undefined;
  declare private _body: Promise<Buffer> | undefined;
  declare private _json: Promise<unknown> | undefined;
  declare private _form: Promise<FormData> | undefined;
  declare private _log: Logger | undefined;
  private readonly _qs: number;
  /**
   * @internal The body length the kernel's JSON fast path sent, for the access line; -1 when
   * the response went another way (then the line reads the response's Content-Length).
   */
  sentLength: number;

  /** @internal Built by the application for each request. */
  constructor(
    raw: IncomingMessage,
    app: Application,
    path: string,
    qs: number,
    params: Record<string, string>,
    route: MatchedRoute | null,
    id: string,
  ) {
    this.raw = raw;
    this.app = app;
    this.method = raw.method as string;
    this.url = raw.url as string;
    this.path = path;
    this._qs = qs;
    this.params = params;
    this.route = route;
    this.id = id;
    this.sentLength = -1;
  }

  /** The app's logger with this request's id on every line (`reqId`). */
  get log(): Logger {
    if (this._log !== undefined) return this._log;
    const fields = this.app.fieldsOf(this);
    return (this._log = this.app.log.child(
      fields === null ? { reqId: this.id } : { reqId: this.id, ...fields },
    ));
  }

  /** The query string, parsed on first use. */
  get query(): URLSearchParams {
    return (this._query ??= new URLSearchParams(
      this._qs === -1 ? '' : this.url.slice(this._qs + 1),
    ));
  }

  /** Request headers, names in lower case (node's). */
  get headers(): IncomingHttpHeaders {
    return this.raw.headers;
  }

  /**
   * `https` when the request came over TLS, or when a trusted proxy (`TRUST_PROXY`) says so in
   * `X-Forwarded-Proto`; else `http`.
   */
  get protocol(): 'http' | 'https' {
    if ((this.raw.socket as TLSSocket).encrypted === true) return 'https';
    return forwarded(this.raw, this.app.trustProxy, 'x-forwarded-proto')?.toLowerCase() === 'https'
      ? 'https'
      : 'http';
  }

  /** The client's address: the peer's, or what trusted proxies put in `X-Forwarded-For`. */
  get ip(): string {
    return clientAddress(this.raw, this.app.trustProxy);
  }

  /** The host the client asked for (`Host`, or a trusted proxy's `X-Forwarded-Host`), port included. */
  get host(): string {
    return (
      forwarded(this.raw, this.app.trustProxy, 'x-forwarded-host') ?? this.raw.headers.host ?? ''
    );
  }

  /** Cookies sent by the client, parsed on first use. */
  get cookies(): Record<string, string | undefined> {
    return (this._cookies ??= this.raw.headers.cookie ? parseCookies(this.raw.headers.cookie) : {});
  }

  /** A per-request object where middlewares leave things for handlers (a user, a transaction). */
  get state(): Record<string | symbol, unknown> {
    return (this._state ??= {});
  }

  /** The application's settings (deep-frozen). */
  get settings(): Application['settings'] {
    return this.app.settings;
  }

  /** The raw body, read once (413 over `MAX_BODY_SIZE`). */
  buffer(): Promise<Buffer> {
    return (this._body ??= readBody(this.raw, this.app.maxBodySize));
  }

  /** The body as text, decoded with the charset of its `Content-Type`. */
  async text(): Promise<string> {
    return decodeText(await this.buffer(), this.raw.headers['content-type']);
  }

  /** The body parsed as JSON; malformed JSON is a 400. */
  json<T = unknown>(): Promise<T> {
    return (this._json ??= this.buffer().then((body) =>
      parseJson(decodeText(body, this.raw.headers['content-type'])),
    )) as Promise<T>;
  }

  /** The urlencoded or multipart body as a web `FormData` (files as `File`); other types are a 415. */
  form(): Promise<FormData> {
    return (this._form ??= this.buffer().then((body) =>
      parseForm(body, this.raw.headers['content-type']),
    ));
  }
}
