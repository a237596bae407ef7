import { randomBytes } from 'node:crypto';
import { RococoError } from '../core/errors';
import type { Application } from '../core/application';
import type { Request } from '../core/request';

/** The nonces of requests that asked for one: the only requests that pay for one. */
const nonces = new WeakMap<Request, string>();
/** Apps with the plugin: `cspNonce` of another app's request is a mistake, said at once. */
const apps = new WeakSet<Application>();

/** @internal The plugin says which apps send a policy. */
export function enableNonces(app: Application): void {
  apps.add(app);
}

/**
 * This request's CSP nonce: made on the first call (16 random bytes, base64), the same for the
 * rest of the request, and added to the response's `Content-Security-Policy` (`script-src` and
 * `style-src`) by {@link securityHeaders}. Templates call `{{ csp_nonce() }}`. A response whose
 * request never asked carries none.
 *
 * @example
 * return html(`<script nonce="${cspNonce(req)}">start()</script>`);
 */
export function cspNonce(req: Request): string {
  let nonce = nonces.get(req);
  if (nonce !== undefined) return nonce;
  if (!apps.has(req.app))
    throw new RococoError(
      'ROCOCO_PLUGIN',
      "cspNonce(req): the 'securityHeaders' plugin is not installed: add securityHeaders() to createApp({ plugins })",
    );
  nonce = randomBytes(16).toString('base64');
  nonces.set(req, nonce);
  return nonce;
}

/** @internal The nonce of a request, if it asked for one. */
export function nonceOf(req: Request): string | undefined {
  return nonces.get(req);
}
