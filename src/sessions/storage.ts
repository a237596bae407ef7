import { serialize } from 'cookie';
import type { Application } from '../core/application';
import { RococoError } from '../core/errors';
import type { Request } from '../core/request';
import { Session } from './session';

/** Options of the session cookie, shared by every storage. */
export interface SessionCookieOptions {
  /** The cookie's name; `rococo_session` by default. */
  name?: string;
  domain?: string;
  /** `/` by default. */
  path?: string;
  /** True by default: scripts in the page cannot read the cookie. */
  httpOnly?: boolean;
  /** `lax` by default. */
  sameSite?: 'lax' | 'strict' | 'none';
  /**
   * Lifetime in seconds, 14 days by default. It is the cookie's `Max-Age` and, checked on the
   * server, the session's: a session not saved for that long is gone, whatever the browser keeps.
   */
  maxAge?: number;
  /** `'auto'` by default: `Secure` when the request came over https. */
  secure?: boolean | 'auto';
}

/** The keys of {@link SessionCookieOptions}, for storages that check their options. */
export const COOKIE_OPTION_KEYS = [
  'name',
  'domain',
  'path',
  'httpOnly',
  'sameSite',
  'maxAge',
  'secure',
];

/** Browsers keep at most 4096 bytes of a cookie's name and value. */
export const MAX_COOKIE_SIZE = 4096;

const DEFAULT_MAX_AGE = 14 * 24 * 3600;

/**
 * Where sessions live: subclasses load a request's session and save it, and this base class
 * writes the cookie that carries it (or its id).
 */
export abstract class SessionStorage {
  /** The cookie's name. */
  readonly cookieName: string;
  /** The session's lifetime in seconds. */
  readonly maxAge: number;
  private readonly cookie: Required<
    Pick<SessionCookieOptions, 'path' | 'httpOnly' | 'sameSite' | 'secure'>
  > & { domain?: string };

  constructor(options: SessionCookieOptions, owner: string, extraKeys: readonly string[] = []) {
    for (const key of Object.keys(options)) {
      if (!COOKIE_OPTION_KEYS.includes(key) && !extraKeys.includes(key)) {
        throw new RococoError(
          'ROCOCO_OPTIONS',
          `${owner}: unknown option '${key}' (known: ${[...COOKIE_OPTION_KEYS, ...extraKeys].join(', ')})`,
        );
      }
    }
    this.cookieName = options.name ?? 'rococo_session';
    this.maxAge = options.maxAge ?? DEFAULT_MAX_AGE;
    if (!Number.isInteger(this.maxAge) || this.maxAge <= 0) {
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${owner}: maxAge is in whole seconds and must be positive, got ${options.maxAge}`,
      );
    }
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(this.cookieName)) {
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${owner}: '${this.cookieName}' is not a valid cookie name`,
      );
    }
    const secure = options.secure ?? 'auto';
    const sameSite = options.sameSite ?? 'lax';
    if (sameSite === 'none' && secure === false) {
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `${owner}: browsers refuse a sameSite 'none' cookie that is not secure`,
      );
    }
    this.cookie = {
      path: options.path ?? '/',
      httpOnly: options.httpOnly ?? true,
      sameSite,
      secure,
      domain: options.domain,
    };
  }

  /** The request's session: the stored one its cookie names, or a new empty one. */
  abstract load(req: Request): Promise<Session>;

  /** Stores `session` and returns the cookie value that brings it back. */
  abstract save(req: Request, session: Session): Promise<string>;

  /** Deletes the stored copy of a session, if the storage keeps one. */
  abstract destroy(session: Session): Promise<void>;

  /** Called once by the `sessions` middleware's setup, with the app it serves. */
  setup(_app: Application): void {}

  /** The `Set-Cookie` line that carries `value`. */
  cookieLine(req: Request, value: string): string {
    const line = serialize(this.cookieName, value, {
      ...this.cookieOptions(req),
      maxAge: this.maxAge,
    });
    const size = line.indexOf(';') === -1 ? line.length : line.indexOf(';');
    if (size > MAX_COOKIE_SIZE) {
      throw new RococoError(
        'ROCOCO_SESSION_TOO_LARGE',
        `the session cookie '${this.cookieName}' would be ${size} bytes, more than the ${MAX_COOKIE_SIZE} a browser keeps: ` +
          'store less in the session (an id, not a record), or keep sessions on the server with RedisStorage',
      );
    }
    return line;
  }

  /** The `Set-Cookie` line that makes the browser forget the session. */
  clearLine(req: Request): string {
    return serialize(this.cookieName, '', {
      ...this.cookieOptions(req),
      maxAge: 0,
      expires: new Date(0),
    });
  }

  /** A new, empty session, not stored yet. */
  fresh(): Session {
    return new Session(null);
  }

  private cookieOptions(req: Request) {
    const { secure, ...rest } = this.cookie;
    return { ...rest, secure: secure === 'auto' ? req.protocol === 'https' : secure };
  }
}
