import { HTTPError, RococoError } from '../core/errors';
import type { Middleware } from '../core/middleware';
import type { Request } from '../core/request';
import type { FlashMessage } from './flash';
import type { Session } from './session';
import type { SessionStorage } from './storage';

const SLOT = Symbol('rococo.session');
const SESSION_MIDDLEWARES = new WeakSet<Middleware>();

/** @internal Whether `mw` was made by {@link sessions} (csrf() checks it comes first). */
export function isSessionsMiddleware(mw: Middleware): boolean {
  return SESSION_MIDDLEWARES.has(mw);
}

/** @internal The request's session slot, if it goes through the `sessions` middleware. */
export function sessionSlot(req: Request): SessionSlot | undefined {
  return req.state[SLOT] as SessionSlot | undefined;
}

/** One request's session, loaded at most once, and what to do with it after the handler. */
export class SessionSlot {
  /** Flashed in this request, put in the session when it is saved (flash() does not wait). */
  private readonly flashes: FlashMessage[] = [];
  private loading: Promise<Session> | null = null;
  private session: Session | null = null;
  /** The session `newSession` replaced: its stored copy is deleted when the new one is saved. */
  private replaced: Session | null = null;

  constructor(
    readonly storage: SessionStorage,
    readonly req: Request,
  ) {}

  get(): Promise<Session> {
    return (this.loading ??= this.storage.load(this.req).then((s) => (this.session = s)));
  }

  async renew(): Promise<Session> {
    const old = await this.get();
    this.replaced ??= old;
    const fresh = this.storage.fresh();
    this.session = fresh;
    this.loading = Promise.resolve(fresh);
    return fresh;
  }

  flash(message: FlashMessage): void {
    this.flashes.push(message);
  }

  /** The messages waiting in the session and flashed in this request; they are shown once. */
  async takeFlashes(): Promise<FlashMessage[]> {
    const session = await this.get();
    const stored = session.get<FlashMessage[]>(FLASHES_KEY);
    if (stored !== undefined) session.delete(FLASHES_KEY);
    return [...(Array.isArray(stored) ? stored : []), ...this.flashes.splice(0)];
  }

  /** Saves what changed and returns the `Set-Cookie` line to send, if any. */
  async commit(): Promise<string | null> {
    if (this.flashes.length > 0) {
      const session = await this.get();
      const stored = session.get<FlashMessage[]>(FLASHES_KEY);
      session.set(FLASHES_KEY, [
        ...(Array.isArray(stored) ? stored : []),
        ...this.flashes.splice(0),
      ]);
    }
    const session = this.session;
    if (session === null) return null;
    const { storage, req } = this;
    if (this.replaced !== null && this.replaced.id !== null) await storage.destroy(this.replaced);
    if (session.isInvalidated) {
      if (session.id !== null) await storage.destroy(session);
      session.id = null;
      if (session.keys().length === 0)
        return session.isNew && this.replaced === null ? null : storage.clearLine(req);
    }
    if (session.changed) return storage.cookieLine(req, await storage.save(req, session));
    // A renewed session with nothing in it: the old cookie must still go.
    return this.replaced !== null && !this.replaced.isNew ? storage.clearLine(req) : null;
  }
}

/** Where flash messages wait in the session until they are shown. */
export const FLASHES_KEY = '_flashes';

/**
 * Sessions for every request (aiohttp_session's `session_middleware`). Loading is lazy: a
 * request that never calls {@link getSession} costs nothing and sets no cookie. A session that
 * changed is saved after the handler, also when the handler ends by throwing an HTTP error
 * such as a redirect.
 *
 * @example
 * createApp({ middlewares: [sessions(new EncryptedCookieStorage(settings.SESSION_KEYS))] })
 */
export function sessions(storage: SessionStorage): Middleware {
  if (!(storage instanceof Object) || typeof storage.load !== 'function') {
    throw new RococoError(
      'ROCOCO_OPTIONS',
      'sessions(storage): storage must be an EncryptedCookieStorage, a RedisStorage or another SessionStorage',
    );
  }
  const mw: Middleware = async (req, next) => {
    const slot = new SessionSlot(storage, req);
    req.state[SLOT] = slot;
    let res;
    try {
      res = await next();
    } catch (e) {
      if (!(e instanceof HTTPError)) throw e;
      const line = await slot.commit();
      throw line === null ? e : withCookie(e, line);
    }
    addCookie(res.headers, await slot.commit());
    return res;
  };
  SESSION_MIDDLEWARES.add(mw);
  // The cookie a client keeps and sends back; a route that needs a session says so itself.
  mw.openapi = {
    securitySchemes: {
      session: {
        type: 'apiKey',
        in: 'cookie',
        name: storage.cookieName,
        description: 'The session cookie, set by the app (log in first)',
      },
    },
  };
  mw.setup = (app) => {
    storage.setup(app);
    // Templates get the flash messages, shown once; only a session that holds some is touched.
    app.view.addContextProcessor(async (req) => {
      const slot = sessionSlot(req);
      return { messages: slot === undefined ? [] : await slot.takeFlashes() };
    });
  };
  // Named for `rococo routes` and the DEBUG route table, which list middlewares by name.
  Object.defineProperty(mw, 'name', { value: 'sessions' });
  return mw;
}

function addCookie(headers: Record<string, string | string[]>, line: string | null): void {
  if (line === null) return;
  const prev = headers['set-cookie'];
  headers['set-cookie'] =
    prev === undefined ? [line] : Array.isArray(prev) ? [...prev, line] : [prev, line];
  // A response that sets a session must not be kept by a shared cache and served to others.
  if (headers['cache-control'] === undefined) headers['cache-control'] = 'private, no-store';
}

/**
 * A copy of a thrown HTTP error with the session cookie added. The error itself is left alone:
 * it may be a constant that other requests throw too, and must not carry this user's cookie.
 */
function withCookie(e: HTTPError, line: string): HTTPError {
  const copy = Object.create(
    Object.getPrototypeOf(e),
    Object.getOwnPropertyDescriptors(e),
  ) as HTTPError;
  Object.defineProperty(copy, 'headers', {
    value: { ...e.headers },
    enumerable: true,
    writable: true,
    configurable: true,
  });
  addCookie(copy.headers, line);
  return copy;
}

/** @internal The request's session slot; a clear error when the middleware is missing. */
export function slotOf(req: Request, caller: string): SessionSlot {
  const slot = sessionSlot(req);
  if (slot === undefined) {
    throw new RococoError(
      'ROCOCO_SESSION',
      `${caller}: this request has no sessions; install the middleware: ` +
        'createApp({ middlewares: [sessions(new EncryptedCookieStorage(settings.SESSION_KEYS))] })',
    );
  }
  return slot;
}

/**
 * The request's session, loaded on first call (aiohttp_session's `get_session`).
 *
 * @example
 * const session = await getSession(req);
 * const userId = session.get<number>('user_id');
 */
export async function getSession(req: Request): Promise<Session> {
  return slotOf(req, 'getSession').get();
}

/**
 * Replaces the request's session with a new, empty one with a new identity, and drops the old
 * one: call it when a user logs in, so that a session id planted before the login (session
 * fixation) is worth nothing after it.
 *
 * @example
 * const session = await newSession(req);
 * session.set('user_id', user.id);
 */
export async function newSession(req: Request): Promise<Session> {
  return slotOf(req, 'newSession').renew();
}
