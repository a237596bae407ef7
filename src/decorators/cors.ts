import { checkOptions } from '../core/options';
import { handlerMeta } from '../core/metadata';
import { metaKey, recordOnController } from '../core/plugin';
import type { Request } from '../core/request';

/** Where `@Cors` records, for the `cors` plugin. */
export const CORS = metaKey('@Cors', 'cors');

/**
 * Which browser origins may call: `'*'` (any, never with credentials), a list of exact origins
 * (`'https://app.example.com'`: scheme, host and port, no path), a RegExp tested against the
 * whole `Origin` header, or a function of the origin and the request.
 */
export type CorsOrigins =
  '*' | readonly string[] | RegExp | ((origin: string, req: Request) => boolean);

/** Options of `cors()` (app-wide) and `@Cors` (per controller or route, key by key over them). */
export interface CorsOptions {
  /** Which origins may call; none by default (`[]`). */
  origins?: CorsOrigins;
  /**
   * Whether the browser may send cookies and read the answer (`Access-Control-Allow-Credentials`);
   * false by default. Origins allowed with credentials are also trusted by the CSRF check and
   * the WebSocket handshake (`app.origins`).
   */
  credentials?: boolean;
  /** Methods a preflight allows; by default those the path has routes for. */
  methods?: readonly string[];
  /** Request headers a preflight allows; by default those the preflight asks for. */
  headers?: readonly string[];
  /** Response headers the page's script may read besides the safelisted ones (`Access-Control-Expose-Headers`). */
  exposeHeaders?: readonly string[];
  /** Seconds a browser may keep a preflight's answer (`Access-Control-Max-Age`); unset by default. */
  maxAge?: number;
}

/** The keys {@link CorsOptions} accepts. */
export const CORS_OPTION_KEYS = [
  'origins',
  'credentials',
  'methods',
  'headers',
  'exposeHeaders',
  'maxAge',
];

/**
 * CORS options for a controller's routes (on the class) or one route (on a method), over the
 * app-wide ones of `cors()`, key by key: the method's over the controller's over the app's.
 * `@Cors(false)` turns CORS off there. Only records: the `cors` plugin checks and compiles it
 * at startup.
 *
 * @example
 * @Cors({ origins: ['https://partner.example'], credentials: true })
 * @Controller('/api/partners') class PartnersController {
 *   @Cors({ maxAge: 600 }) @Get('/feed') feed() { ... }
 *   @Cors(false) @Post('/admin') admin() { ... }
 * }
 */
export function Cors(options: CorsOptions | false = {}): ClassDecorator & MethodDecorator {
  if (options !== false) checkOptions('@Cors', options, CORS_OPTION_KEYS);
  return ((target: object, key?: string | symbol) => {
    if (key === undefined) recordOnController(CORS, options)(target as Function);
    else
      handlerMeta((target as { constructor: Function }).constructor, String(key)).extras.set(
        CORS,
        options,
      );
  }) as ClassDecorator & MethodDecorator;
}
