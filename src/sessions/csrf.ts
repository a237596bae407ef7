import { randomBytes, timingSafeEqual } from 'node:crypto';
import { HTTPForbidden, RococoError } from '../core/errors';
import type { Middleware } from '../core/middleware';
import { CSRF_EXEMPT } from '../decorators/csrf-exempt';
import type { OperationDoc } from '../openapi/document';
import type { Request } from '../core/request';
import { getSession, isSessionsMiddleware, sessionSlot } from './middleware';
import type { Session } from './session';

/** Options of {@link csrf}. */
export interface CsrfOptions {
  /** The form field that carries the token; `csrf_token` by default. */
  field?: string;
  /** The header that carries the token; `X-CSRF-Token` by default. */
  header?: string;
  /**
   * Other origins (`https://admin.example.com`) whose JSON requests are trusted as same-origin,
   * besides those the app's plugins trust (`app.origins`: the CORS plugin's credentialed ones).
   */
  trustedOrigins?: readonly string[];
}

const CSRF_OPTION_KEYS = ['field', 'header', 'trustedOrigins'];
const SECRET_KEY = '_csrf';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const FORM_TYPE = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;
const JSON_TYPE = /^\s*application\/([\w.+-]+\+)?json\s*(;|$)/i;
const TOKEN = /^[A-Za-z0-9_-]{86}$/;

/**
 * Cross-site request forgery protection; needs {@link sessions} before it. POST, PUT, PATCH and
 * DELETE requests must prove they come from the app's own pages:
 * - a form (or any non-JSON body) carries the session's token in the field `csrf_token` or the
 *   header `X-CSRF-Token` (templates: `{{ csrf_input() }}`; scripts: `await csrfToken(req)`);
 * - a JSON request, or one without a `Content-Type` (a DELETE), passes when the browser says
 *   it is same-origin (`Sec-Fetch-Site`, else `Origin`); a request with neither header comes
 *   from no browser, so it cannot carry a victim's cookies, and passes. Cross-site is refused.
 *
 * A missing or wrong token is a 403. `@CsrfExempt()` opts a route out (a webhook).
 *
 * @example
 * createApp({ middlewares: [sessions(storage), csrf()] })
 */
export function csrf(options: CsrfOptions = {}): Middleware {
  for (const key of Object.keys(options)) {
    if (!CSRF_OPTION_KEYS.includes(key))
      throw new RococoError(
        'ROCOCO_OPTIONS',
        `csrf: unknown option '${key}' (known: ${CSRF_OPTION_KEYS.join(', ')})`,
      );
  }
  const field = options.field ?? 'csrf_token';
  const headerName = options.header ?? 'X-CSRF-Token';
  const header = headerName.toLowerCase();
  const trusted = new Set(options.trustedOrigins ?? []);

  const mw: Middleware = async (req, next) => {
    if (
      SAFE.has(req.method) ||
      req.route === null ||
      req.route.handler.meta?.extras.has(CSRF_EXEMPT)
    )
      return next();
    const type = req.headers['content-type'] ?? '';
    // JSON, or no body type at all (a DELETE): no form can send these, so the browser's word
    // on where the request comes from decides.
    if ((type === '' || JSON_TYPE.test(type)) && req.headers[header] === undefined) {
      if (!sameOrigin(req, trusted)) throw new HTTPForbidden('Cross-site request refused (CSRF)');
      return next();
    }
    let token = req.headers[header];
    if (token === undefined && FORM_TYPE.test(type)) {
      const value = (await req.form()).get(field);
      token = typeof value === 'string' ? value : undefined;
    }
    if (typeof token !== 'string' || token === '')
      throw new HTTPForbidden(
        `CSRF token missing: send it in the form field '${field}' or the ${headerName} header`,
      );
    if (!verify(await getSession(req), token))
      throw new HTTPForbidden('CSRF token incorrect: reload the page and try again');
    return next();
  };
  const scheme = {
    type: 'apiKey',
    in: 'header',
    name: headerName,
    description: `The session's CSRF token (in a page: csrf_token(); in the form field '${field}' instead, for forms). A JSON request from a client that is not a browser (no Origin, no Sec-Fetch-Site) needs none.`,
  };
  // Unsafe methods of routes that are not exempt: a 403 without the token; the token is
  // optional ({}) because a JSON client that is no browser passes without one.
  const doc: OperationDoc = {
    responses: { 403: 'Cross-site request refused, or the CSRF token is missing or wrong' },
    security: [{ csrf: [] }, {}],
    securitySchemes: { csrf: scheme },
  };
  mw.openapi = ({ method, route }) =>
    SAFE.has(method) || route.handler.meta?.extras.has(CSRF_EXEMPT) ? undefined : doc;
  mw.setup = (app, chain) => {
    const at = chain.indexOf(mw);
    if (!chain.slice(0, at).some(isSessionsMiddleware)) {
      throw new RococoError(
        'ROCOCO_OPTIONS',
        'csrf() needs sessions: put sessions(storage) before csrf() in createApp({ middlewares })',
      );
    }
    // nunjucks' SafeString keeps csrf_input() from being escaped; loaded by the first page that
    // calls it, so an app that renders no templates never loads nunjucks.
    let SafeString: typeof import('nunjucks').runtime.SafeString | undefined;
    app.view.addContextProcessor(async (req) => {
      if (sessionSlot(req) === undefined) return {}; // a page rendered outside the sessions middleware has no forms to protect
      const session = await getSession(req);
      let token: string | undefined;
      const value = () => (token ??= maskedToken(session));
      return {
        csrf_token: value,
        csrf_input: () =>
          new (SafeString ??= (require('nunjucks') as typeof import('nunjucks')).runtime
            .SafeString)(`<input type="hidden" name="${field}" value="${value()}">`),
      };
    });
  };
  // Named for `rococo routes` and the DEBUG route table, which list middlewares by name.
  Object.defineProperty(mw, 'name', { value: 'csrf' });
  return mw;
}

/**
 * The CSRF token for this request's session, for a page's script to send in `X-CSRF-Token`.
 * Each call gives another masking of the same secret (so compression cannot reveal it).
 *
 * @example
 * return { csrfToken: await csrfToken(req) };
 */
export async function csrfToken(req: Request): Promise<string> {
  return maskedToken(await getSession(req));
}

function secretOf(session: Session, create: boolean): Buffer | null {
  const stored = session.get<string>(SECRET_KEY);
  if (typeof stored === 'string' && stored.length === 43) return Buffer.from(stored, 'base64url');
  if (!create) return null;
  const secret = randomBytes(32);
  session.set(SECRET_KEY, secret.toString('base64url'));
  return secret;
}

function maskedToken(session: Session): string {
  const secret = secretOf(session, true) as Buffer;
  const mask = randomBytes(32);
  const out = Buffer.alloc(64);
  for (let i = 0; i < 32; i++) {
    out[i] = mask[i];
    out[32 + i] = secret[i] ^ mask[i];
  }
  return out.toString('base64url');
}

function verify(session: Session, token: string): boolean {
  const secret = secretOf(session, false);
  if (secret === null || !TOKEN.test(token)) return false;
  const bytes = Buffer.from(token, 'base64url');
  const unmasked = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) unmasked[i] = bytes[32 + i] ^ bytes[i];
  return timingSafeEqual(unmasked, secret);
}

function sameOrigin(req: Request, trusted: Set<string>): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined && (trusted.has(origin) || req.app.origins.trusts(origin, req)))
    return true;
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  if (origin === undefined) return true;
  return origin === `${req.protocol}://${req.host}`;
}
