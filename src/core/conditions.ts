import type { IncomingMessage } from 'node:http';
import { RococoError } from './errors';

/**
 * What else a request must have for a route to take it, besides method and path (find-my-way's
 * constraints, aiohttp's custom resource matching): routes with the same method and path may
 * differ by conditions; the first whose conditions hold wins, a route without any takes the rest.
 *
 * @example
 * @Get('/items', { conditions: { headers: { 'accept-version': '2' } } }) listV2() { ... }
 * @Get('/items') list() { ... }
 */
export interface RouteConditions {
  /** The `Host` (port ignored, case-insensitive), or a regex it must match. */
  host?: string | RegExp;
  /** Header values (names in any case): a string to equal, or a regex to match. */
  headers?: Record<string, string | RegExp>;
  /** Your own test of the request. */
  match?: (req: IncomingMessage) => boolean;
}

/** Conditions compiled once, at startup. */
export interface CompiledConditions {
  test: (req: IncomingMessage) => boolean;
  /** The header names responses vary on (`Vary`), lower case. */
  vary: string[];
  /** Equal keys are the same conditions (a duplicate route); null for a custom `match`. */
  key: string | null;
}

/** Compiles a route's conditions; a mistake names `origin`. */
export function compileConditions(c: RouteConditions, origin: string): CompiledConditions {
  for (const k of Object.keys(c)) {
    if (!['host', 'headers', 'match'].includes(k))
      throw new RococoError(
        'ROCOCO_ROUTE_CONDITIONS',
        `${origin}: unknown condition '${k}' (known: host, headers, match)`,
      );
  }
  const tests: ((req: IncomingMessage) => boolean)[] = [];
  const host = c.host;
  if (host !== undefined) {
    if (typeof host === 'string') {
      const want = host.toLowerCase();
      tests.push((req) => hostname(req) === want);
    } else if (host instanceof RegExp) {
      tests.push((req) => host.test(hostname(req)));
    } else
      throw new RococoError(
        'ROCOCO_ROUTE_CONDITIONS',
        `${origin}: host must be a string or a RegExp`,
      );
  }
  const headers = Object.entries(c.headers ?? {}).map(([name, want]) => {
    if (typeof want !== 'string' && !(want instanceof RegExp))
      throw new RococoError(
        'ROCOCO_ROUTE_CONDITIONS',
        `${origin}: headers.${name} must be a string or a RegExp`,
      );
    return [name.toLowerCase(), want] as const;
  });
  for (const [name, want] of headers) {
    tests.push(
      typeof want === 'string'
        ? (req) => req.headers[name] === want
        : (req) => {
            const v = req.headers[name];
            return typeof v === 'string' && want.test(v);
          },
    );
  }
  if (c.match !== undefined) {
    if (typeof c.match !== 'function')
      throw new RococoError(
        'ROCOCO_ROUTE_CONDITIONS',
        `${origin}: match must be a function of the request`,
      );
    tests.push(c.match);
  }
  if (tests.length === 0)
    throw new RococoError('ROCOCO_ROUTE_CONDITIONS', `${origin}: conditions are empty`);
  const key =
    c.match !== undefined
      ? null
      : JSON.stringify([String(host ?? ''), headers.map(([n, w]) => [n, String(w)]).sort()]);
  return {
    test: tests.length === 1 ? tests[0] : (req) => tests.every((t) => t(req)),
    vary: headers.map(([n]) => n),
    key,
  };
}

function hostname(req: IncomingMessage): string {
  const h = (req.headers.host ?? '').toLowerCase();
  // [v6]:port, name:port, name
  const end = h.startsWith('[') ? h.indexOf(']') + 1 : h.indexOf(':');
  return end <= 0 ? h : h.slice(0, end);
}
