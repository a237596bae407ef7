import type { HandlerMeta } from '../core/metadata';
import type { Plugin } from '../core/plugin';
import type { Request } from '../core/request';
import type { Response } from '../core/response';
import { SECURITY_HEADERS, type SecurityHeadersMeta } from '../decorators/security-headers';
import { cspNonce, enableNonces, nonceOf } from './nonce';
import {
  checkHeadersOptions,
  compileHeaders,
  type CompiledHeaders,
  type SecurityHeadersOptions,
} from './options';

/**
 * The security headers of helmet 8 on every response (handlers' results, errors, 404s, static
 * files, the docs page): a Content-Security-Policy, Cross-Origin-Opener-Policy,
 * Cross-Origin-Resource-Policy, Origin-Agent-Cluster, Referrer-Policy, Strict-Transport-Security,
 * X-Content-Type-Options, X-DNS-Prefetch-Control,
 * X-Download-Options, X-Frame-Options, X-Permitted-Cross-Domain-Policies and X-XSS-Protection,
 * and no X-Powered-By. HSTS, COOP, COEP and `upgrade-insecure-requests` go out over HTTPS only,
 * as `req.protocol` sees it (`TRUST_PROXY`): elsewhere browsers ignore them or break on them.
 * Each is configurable or `false`; CSP directives merge with the defaults.
 * Headers are compiled once; a response pays for setting them, and a page that calls
 * `{{ csp_nonce() }}` (or code that calls `cspNonce(req)`) for one nonce. A header the response
 * already has is left as it is. `@SecurityHeaders(...)` changes them per controller or route.
 *
 * @example
 * createApp({ controllers, plugins: [securityHeaders({ contentSecurityPolicy: { directives: { imgSrc: ["'self'", 'https://img.example.com'] } } })] });
 */
export function securityHeaders(options: SecurityHeadersOptions = {}): Plugin {
  checkHeadersOptions('securityHeaders', options);
  const base = compileHeaders('securityHeaders', [options]);
  const perRoute = new WeakMap<HandlerMeta, CompiledHeaders | null>();
  let anyPerRoute = false;
  return {
    name: 'securityHeaders',
    setup(app) {
      enableNonces(app);
      // Called by nunjucks with its context as `this`, which holds the request of the render:
      // no context processor, so a page that does not ask pays nothing.
      app.view.addGlobal('csp_nonce', function (this: { ctx?: { request?: Request } }) {
        const req = this?.ctx?.request;
        if (req === undefined)
          throw new Error('csp_nonce(): this render has no request to give a nonce to');
        return cspNonce(req);
      });
      app.onSend((req, response) => {
        let headers: CompiledHeaders | null = base;
        if (anyPerRoute) {
          const meta = req.route?.handler.meta;
          const own = meta == null ? undefined : perRoute.get(meta);
          if (own !== undefined) headers = own; // null: @SecurityHeaders(false)
        }
        if (headers !== null) addHeaders(headers, req, response);
      });
    },
    route(route) {
      const own = route.meta.extras.get(SECURITY_HEADERS) as SecurityHeadersMeta | undefined;
      if (own !== undefined) route.claim(SECURITY_HEADERS);
      // The controller's lineage, base first, then the method: each layer over the ones before.
      const layers = [...route.controllerValues(SECURITY_HEADERS)] as SecurityHeadersMeta[];
      if (layers.length > 0) route.claim(SECURITY_HEADERS);
      if (own !== undefined) layers.push(own);
      if (layers.length === 0) return;
      const where = `@SecurityHeaders on ${route.origin}`;
      let chain: SecurityHeadersOptions[] = [options];
      let off = false;
      for (const layer of layers) {
        if (layer === false) {
          off = true;
          chain = [options];
        } else {
          off = false;
          chain.push(checkHeadersOptions(where, layer));
        }
      }
      perRoute.set(route.meta, off ? null : compileHeaders(where, chain));
      anyPerRoute = true;
    },
  };
}

/**
 * The response's headers become the compiled ones with its own over them (a header it has is
 * kept): one `Object.assign` from an object of a fixed shape, cheaper than a dozen lookups and
 * stores into the response's (callgrind, `GET /`).
 */
function addHeaders(c: CompiledHeaders, req: Request, response: Response): void {
  const own = response.headers;
  // HSTS, COOP, COEP and upgrade-insecure-requests over HTTPS only: elsewhere browsers ignore
  // them, or (upgrade-insecure-requests) ask for the page's own files over HTTPS.
  const https = c.protocolMatters && req.protocol === 'https';
  const headers = Object.assign({}, https ? c.https : c.http, own);
  const csp = c.csp;
  if (csp !== null && own[csp.name] === undefined) {
    const policy = https ? csp.https : csp.http;
    const nonce = policy.parts === null ? undefined : nonceOf(req);
    if (nonce !== undefined) headers[csp.name] = policy.parts!.join(`'nonce-${nonce}'`);
  }
  if (c.hidePoweredBy && own['x-powered-by'] !== undefined) delete headers['x-powered-by'];
  response.headers = headers;
}
