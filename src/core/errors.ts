import { STATUS_CODES } from 'node:http';
import { Response } from './response';

/** Options of an {@link HTTPError}: extra headers and RFC 9457 problem fields. */
export interface HTTPErrorInit {
  /** Headers sent with the error response (names in any case). */
  headers?: Record<string, string | string[]>;
  /** Problem `type` URI; `about:blank` by default. */
  type?: string;
  /** Problem `title`; the status text by default. */
  title?: string;
  /** Extension members merged into the problem body, e.g. `{ errors: [...] }`. */
  extensions?: Record<string, unknown>;
}

const PROBLEM_HEADERS = { 'content-type': 'application/problem+json' } as const;

/**
 * Base of every HTTP error: thrown or returned by a handler, it becomes the response.
 * As in aiohttp, redirects are HTTP errors too, so a handler can `throw new HTTPFound(url)`
 * from deep inside a service and a middleware sees it as an exception.
 *
 * The body is an RFC 9457 `application/problem+json` document.
 *
 * @example
 * throw new HTTPNotFound(`No project ${id}`);
 * throw new HTTPError(418, 'short and stout');
 */
export class HTTPError extends Error {
  /** The status of errors of this class; subclasses set it. */
  static readonly status: number = 500;

  readonly status: number;
  readonly detail: string | undefined;
  readonly headers: Record<string, string | string[]>;
  readonly type: string;
  readonly title: string;
  readonly extensions: Record<string, unknown> | undefined;

  constructor(detail?: string, init?: HTTPErrorInit);
  constructor(status: number, detail?: string, init?: HTTPErrorInit);
  constructor(a?: number | string, b?: string | HTTPErrorInit, c?: HTTPErrorInit) {
    const explicit = typeof a === 'number';
    const status = explicit ? a : (new.target as typeof HTTPError).status;
    const detail = explicit ? (b as string | undefined) : a;
    const init = (explicit ? c : (b as HTTPErrorInit | undefined)) ?? {};
    if (!Number.isInteger(status) || status < 300 || status > 599) {
      throw new RangeError(`HTTPError status must be an integer in 300..599, got ${status}`);
    }
    const title = init.title ?? STATUS_CODES[status] ?? 'Error';
    super(detail ?? title);
    this.name = new.target.name;
    this.status = status;
    this.detail = detail;
    this.title = title;
    this.type = init.type ?? 'about:blank';
    this.extensions = init.extensions;
    this.headers = {};
    if (init.headers)
      for (const k of Object.keys(init.headers)) this.headers[k.toLowerCase()] = init.headers[k];
  }

  /** The RFC 9457 problem document of this error. */
  problem(): Record<string, unknown> {
    const body: Record<string, unknown> = {
      type: this.type,
      title: this.title,
      status: this.status,
    };
    if (this.detail !== undefined) body.detail = this.detail;
    if (this.extensions) Object.assign(body, this.extensions);
    return body;
  }

  /** The response this error stands for. */
  toResponse(): Response {
    return new Response(JSON.stringify(this.problem()), {
      status: this.status,
      headers: { ...PROBLEM_HEADERS, ...this.headers },
    });
  }
}

// --- 3xx -----------------------------------------------------------------------------------

/**
 * Base of the redirects: takes the location and answers with an empty body.
 *
 * @example
 * throw new HTTPSeeOther(req.app.url('projects.index'));
 */
export class HTTPRedirection extends HTTPError {
  static override readonly status: number = 302;
  readonly location: string;

  constructor(location: string | URL, init?: HTTPErrorInit) {
    const loc = String(location);
    // A CR or LF would split the header: refuse it here, with a message, not as a 500 in node.
    if (/[\r\n]/.test(loc)) throw new TypeError('Redirect location must not contain CR or LF');
    super(undefined, { ...init, headers: { ...init?.headers, location: loc } });
    this.location = loc;
  }

  override toResponse(): Response {
    return new Response(null, { status: this.status, headers: { ...this.headers } });
  }
}

/** 300 Multiple Choices. */
export class HTTPMultipleChoices extends HTTPRedirection {
  static override readonly status = 300;
}
/** 301 Moved Permanently. */
export class HTTPMovedPermanently extends HTTPRedirection {
  static override readonly status = 301;
}
/** 302 Found: the usual redirect after a form post in aiohttp examples. */
export class HTTPFound extends HTTPRedirection {
  static override readonly status = 302;
}
/** 303 See Other: redirect after POST that makes the client GET the location. */
export class HTTPSeeOther extends HTTPRedirection {
  static override readonly status = 303;
}
/** 307 Temporary Redirect: keeps the method and body. */
export class HTTPTemporaryRedirect extends HTTPRedirection {
  static override readonly status = 307;
}
/** 308 Permanent Redirect: keeps the method and body. */
export class HTTPPermanentRedirect extends HTTPRedirection {
  static override readonly status = 308;
}

// --- 4xx -----------------------------------------------------------------------------------

/** 400 Bad Request. */
export class HTTPBadRequest extends HTTPError {
  static override readonly status = 400;
}
/** 401 Unauthorized. */
export class HTTPUnauthorized extends HTTPError {
  static override readonly status = 401;
}
/** 402 Payment Required. */
export class HTTPPaymentRequired extends HTTPError {
  static override readonly status = 402;
}
/** 403 Forbidden. */
export class HTTPForbidden extends HTTPError {
  static override readonly status = 403;
}
/** 404 Not Found. */
export class HTTPNotFound extends HTTPError {
  static override readonly status = 404;
}

/**
 * 405 Method Not Allowed, with the `Allow` header (as aiohttp, it takes the allowed methods).
 *
 * @example
 * throw new HTTPMethodNotAllowed(['GET', 'HEAD']);
 */
export class HTTPMethodNotAllowed extends HTTPError {
  static override readonly status = 405;
  readonly allowed: readonly string[];

  constructor(allowed: readonly string[], detail?: string, init?: HTTPErrorInit) {
    super(detail, { ...init, headers: { ...init?.headers, allow: allowed.join(', ') } });
    this.allowed = allowed;
  }
}

/** 406 Not Acceptable. */
export class HTTPNotAcceptable extends HTTPError {
  static override readonly status = 406;
}
/** 408 Request Timeout. */
export class HTTPRequestTimeout extends HTTPError {
  static override readonly status = 408;
}
/** 409 Conflict. */
export class HTTPConflict extends HTTPError {
  static override readonly status = 409;
}
/** 410 Gone. */
export class HTTPGone extends HTTPError {
  static override readonly status = 410;
}
/** 411 Length Required. */
export class HTTPLengthRequired extends HTTPError {
  static override readonly status = 411;
}
/** 412 Precondition Failed. */
export class HTTPPreconditionFailed extends HTTPError {
  static override readonly status = 412;
}
/** 413 Content Too Large: a body over `MAX_BODY_SIZE`. */
export class HTTPRequestEntityTooLarge extends HTTPError {
  static override readonly status = 413;
}
/** 414 URI Too Long. */
export class HTTPRequestURITooLong extends HTTPError {
  static override readonly status = 414;
}
/** 415 Unsupported Media Type. */
export class HTTPUnsupportedMediaType extends HTTPError {
  static override readonly status = 415;
}
/** 416 Range Not Satisfiable. */
export class HTTPRequestRangeNotSatisfiable extends HTTPError {
  static override readonly status = 416;
}
/** 417 Expectation Failed. */
export class HTTPExpectationFailed extends HTTPError {
  static override readonly status = 417;
}
/** 421 Misdirected Request. */
export class HTTPMisdirectedRequest extends HTTPError {
  static override readonly status = 421;
}
/** 422 Unprocessable Content: the body parsed but did not validate. */
export class HTTPUnprocessableEntity extends HTTPError {
  static override readonly status = 422;
}
/** 426 Upgrade Required. */
export class HTTPUpgradeRequired extends HTTPError {
  static override readonly status = 426;
}
/** 428 Precondition Required. */
export class HTTPPreconditionRequired extends HTTPError {
  static override readonly status = 428;
}
/** 429 Too Many Requests. */
export class HTTPTooManyRequests extends HTTPError {
  static override readonly status = 429;
}
/** 431 Request Header Fields Too Large. */
export class HTTPRequestHeaderFieldsTooLarge extends HTTPError {
  static override readonly status = 431;
}

// --- 5xx -----------------------------------------------------------------------------------

/** 500 Internal Server Error. */
export class HTTPInternalServerError extends HTTPError {
  static override readonly status = 500;
}
/** 501 Not Implemented. */
export class HTTPNotImplemented extends HTTPError {
  static override readonly status = 501;
}
/** 502 Bad Gateway. */
export class HTTPBadGateway extends HTTPError {
  static override readonly status = 502;
}
/** 503 Service Unavailable: a dependency (database, Redis) is down. */
export class HTTPServiceUnavailable extends HTTPError {
  static override readonly status = 503;
}
/** 504 Gateway Timeout. */
export class HTTPGatewayTimeout extends HTTPError {
  static override readonly status = 504;
}

/**
 * A mistake in the application's declaration, found at startup: the message names the class,
 * the method and what to change; `code` is stable for tests and documentation.
 */
export class RococoError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'RococoError';
  }
}
