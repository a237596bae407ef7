import type { Request } from './request';

/** Whether a plugin vouches for a browser origin (`https://app.example.com`) on this request. */
export type OriginCheck = (origin: string, req: Request) => boolean;

/**
 * The foreign browser origins the app trusts as its own, besides its own origin: what the
 * CSRF check of JSON requests and the WebSocket handshake's `Origin` check accept. Plugins add
 * checks (the CORS plugin adds the origins it lets send credentials) and those checks consult
 * them, so that no feature imports another and all of them agree on one list. Empty by
 * default: only the app's own origin is trusted.
 *
 * @example
 * app.origins.add((origin) => origin === 'https://admin.example.com');
 * app.origins.trusts(req.headers.origin, req); // true for that origin, on any route
 */
export class TrustedOrigins {
  private readonly checks: OriginCheck[] = [];

  /** Trusts the origins `check` says yes to, from now on. */
  add(check: OriginCheck): this {
    if (typeof check !== 'function') throw new TypeError('app.origins.add: a check is a function');
    this.checks.push(check);
    return this;
  }

  /** Whether some plugin trusts `origin` for this request (the app's own origin is not asked). */
  trusts(origin: string, req: Request): boolean {
    for (const check of this.checks) if (check(origin, req)) return true;
    return false;
  }
}
