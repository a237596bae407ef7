import { cors, RococoError, type Plugin, type Request } from '../src';
import type { AppSettings } from './settings';

/**
 * CORS for the JSON API only (`/api`, its OpenAPI document included): pages of the origins in
 * `CORS_ORIGINS` (comma-separated, none by default) may call it with the user's session, and
 * read the `Location` of a new project. Those origins pass the CSRF check of JSON requests on
 * the API too (origins allowed with credentials are trusted: `app.origins`); the HTML pages and
 * the live WebSockets stay same-origin only.
 *
 * @example
 * CORS_ORIGINS=https://tracker-ui.example,http://localhost:5173 npm start
 */
export function apiCors(settings: AppSettings): Plugin {
  const origins = settings.CORS_ORIGINS.split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  for (const o of origins) {
    if (!URL.canParse(o) || new URL(o).origin !== o)
      throw new RococoError(
        'ROCOCO_SETTINGS',
        `CORS_ORIGINS: '${o}' is not an origin (scheme://host[:port], no path, no trailing slash)`,
      );
  }
  const allowed = new Set(origins);
  return cors({
    origins: (origin: string, req: Request) => allowed.has(origin) && isApi(req.path),
    credentials: true,
    exposeHeaders: ['Location'],
    maxAge: 600,
  });
}

function isApi(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}
