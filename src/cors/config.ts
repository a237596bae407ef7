import { RococoError } from '../core/errors';
import { checkOptions } from '../core/options';
import type { Request } from '../core/request';
import { CORS_OPTION_KEYS, type CorsOptions } from '../decorators/cors';

/** CORS options checked and turned into header values, once, at startup. */
export interface CorsConfig {
  /** `'*'`: any origin, answered with `*` (no credentials, no `Vary: Origin`). */
  readonly any: boolean;
  /** Whether an origin may call (not asked when `any`). */
  readonly allows: (origin: string, req: Request) => boolean;
  readonly credentials: boolean;
  /** `Access-Control-Allow-Methods`, or null for the methods of the path's routes. */
  readonly methods: string | null;
  /** `Access-Control-Allow-Headers`, or null to reflect `Access-Control-Request-Headers`. */
  readonly headers: string | null;
  readonly exposeHeaders: string | null;
  readonly maxAge: string | null;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Checks CORS options (`where` names them in errors: `cors()`, `ProjectsController.show`) and
 * compiles them. A mistake is a `RococoError`: `ROCOCO_OPTIONS` for an unknown key,
 * `ROCOCO_CORS` for a wrong value, `'*'` with credentials above all.
 *
 * @example
 * compileCors({ origins: ['https://app.example.com'], credentials: true }, 'cors()');
 */
export function compileCors(options: CorsOptions, where: string): CorsConfig {
  checkOptions(where, options, CORS_OPTION_KEYS);
  const credentials = options.credentials ?? false;
  if (typeof credentials !== 'boolean') fail(where, 'credentials must be true or false');
  const origins = options.origins ?? [];
  const any = origins === '*';
  if (any && credentials)
    fail(
      where,
      "origins '*' cannot go with credentials: browsers refuse it, and echoing any origin with credentials would let every site act as the user; list the origins",
    );
  const headers = list(where, 'headers', options.headers, credentials);
  const exposeHeaders = list(where, 'exposeHeaders', options.exposeHeaders, credentials);
  const methods = list(where, 'methods', options.methods, credentials);
  const maxAge = options.maxAge;
  if (maxAge !== undefined && (!Number.isInteger(maxAge) || maxAge < 0))
    fail(where, `maxAge must be a whole number of seconds, got ${String(maxAge)}`);
  return {
    any,
    allows: any ? () => true : allowsOf(where, origins),
    credentials,
    methods: methods === null ? null : methods.toUpperCase(),
    headers,
    exposeHeaders: exposeHeaders === '' ? null : exposeHeaders,
    maxAge: maxAge === undefined ? null : String(maxAge),
  };
}

function allowsOf(where: string, origins: unknown): CorsConfig['allows'] {
  if (typeof origins === 'function') return origins as CorsConfig['allows'];
  if (origins instanceof RegExp) {
    // A global or sticky regex keeps lastIndex between tests: every other request would fail.
    if (origins.global || origins.sticky)
      fail(where, `origins ${String(origins)}: drop the g and y flags`);
    return (origin) => origins.test(origin);
  }
  if (!Array.isArray(origins))
    fail(where, "origins must be '*', a list of origins, a RegExp or a function");
  for (const o of origins as unknown[]) {
    if (o === '*') fail(where, "origins: '*' stands alone, not in a list");
    if (typeof o !== 'string' || !isOrigin(o))
      fail(
        where,
        `origins: ${JSON.stringify(o)} is not an origin (scheme://host[:port], no path, no trailing slash)`,
      );
  }
  const set = new Set(origins as string[]);
  return (origin) => set.has(origin);
}

/** Whether `o` is an origin as browsers send it: `URL` gives it back unchanged. */
function isOrigin(o: string): boolean {
  try {
    const url = new URL(o);
    return url.origin === o && url.origin !== 'null';
  } catch {
    return false;
  }
}

/** A list of tokens as one header value; null when not given. */
function list(
  where: string,
  key: string,
  value: readonly string[] | undefined,
  credentials: boolean,
): string | null {
  if (value === undefined) return null;
  if (!Array.isArray(value)) fail(where, `${key} must be a list of names`);
  for (const v of value as unknown[]) {
    if (typeof v !== 'string' || !TOKEN.test(v))
      fail(where, `${key}: ${JSON.stringify(v)} is not a header or method name`);
    // With credentials, browsers read '*' as a name, not a wildcard: say so rather than let it fail in the browser.
    if (v === '*' && credentials) fail(where, `${key}: '*' is no wildcard with credentials`);
  }
  return value.join(', ');
}

function fail(where: string, message: string): never {
  throw new RococoError('ROCOCO_CORS', `${where}: ${message}`);
}
