import { handlerMeta } from '../core/metadata';
import { checkOptions } from '../core/options';
import { metaKey, recordOnController } from '../core/plugin';
import type { SecurityHeadersOptions } from '../security-headers/options';

/** Where `@SecurityHeaders` records (on a method or a class), for the `securityHeaders` plugin. */
export const SECURITY_HEADERS = metaKey('@SecurityHeaders', 'securityHeaders');

/** The keys of `SecurityHeadersOptions`: what `@SecurityHeaders` and `securityHeaders()` accept. */
export const SECURITY_HEADERS_OPTION_KEYS = [
  'contentSecurityPolicy',
  'crossOriginEmbedderPolicy',
  'crossOriginOpenerPolicy',
  'crossOriginResourcePolicy',
  'originAgentCluster',
  'referrerPolicy',
  'strictTransportSecurity',
  'xContentTypeOptions',
  'xDnsPrefetchControl',
  'xDownloadOptions',
  'xFrameOptions',
  'xPermittedCrossDomainPolicies',
  'xXssProtection',
  'hidePoweredBy',
];

/** What `@SecurityHeaders` records: options over the app's, or `false` for no header at all. */
export type SecurityHeadersMeta = SecurityHeadersOptions | false;

/**
 * Changes the security headers of a controller's routes (on the class) or of one route (on a
 * method), over the app's `securityHeaders(...)`: a header given here replaces the app's, `false`
 * drops it, CSP directives are merged one by one; `@SecurityHeaders(false)` sends none. A method's
 * options go over its controller's. Values are checked when the app starts.
 *
 * @example
 * @Get('/embed/<id:int>')
 * @SecurityHeaders({ xFrameOptions: false, contentSecurityPolicy: { directives: { frameAncestors: ['https://partner.example'] } } })
 * embed(req: Request) { ... }
 */
export function SecurityHeaders(options: SecurityHeadersMeta): ClassDecorator & MethodDecorator {
  if (options !== false) checkOptions('@SecurityHeaders', options, SECURITY_HEADERS_OPTION_KEYS);
  return ((target: object, key?: string | symbol) => {
    if (key === undefined) recordOnController(SECURITY_HEADERS, options)(target as Function);
    else
      handlerMeta((target as { constructor: Function }).constructor, String(key)).extras.set(
        SECURITY_HEADERS,
        options,
      );
  }) as ClassDecorator & MethodDecorator;
}
