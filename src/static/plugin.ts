import { checkOptions } from '../core/options';
import type { Plugin } from '../core/plugin';
import { StaticFiles, STATIC_OPTION_KEYS, type StaticOptions } from './files';

declare module '../core/application' {
  interface Application {
    /**
     * The URL of a static file with its content hash (`?v=`), as `static()` in templates; when
     * the `static` plugin is installed.
     *
     * @example
     * app.staticUrl?.('css/site.css') // '/static/css/site.css?v=3f2a9c01b7de'
     */
    readonly staticUrl?: (path: string, mount?: string) => string;
  }
}

/**
 * Serves folders as static files through `send` (ETag, Last-Modified, Range, HEAD), each under
 * a prefix and a route name (`static` by default): `app.url('static', { filename })` is the
 * plain URL, `static(path)` in templates and `app.staticUrl(path)` add a content hash, and
 * files asked for with it are cached for a year.
 *
 * @example
 * createApp({ controllers, plugins: [staticFiles([{ prefix: '/static', dir: join(__dirname, 'static') }])] });
 */
export function staticFiles(mounts: readonly StaticOptions[]): Plugin {
  if (!Array.isArray(mounts))
    throw new TypeError('staticFiles(mounts): give a list of { prefix, dir, name? }');
  for (const o of mounts) checkOptions('staticFiles', o, STATIC_OPTION_KEYS);
  return {
    name: 'static',
    setup(app) {
      const files = new StaticFiles(mounts, app.debug);
      files.addRoutes(app);
      const staticUrl = (path: string, mount = 'static') =>
        files.url(app.router.url(mount, { filename: path }), path, mount);
      app.decorate('staticUrl', staticUrl);
      app.view.addGlobal('static', staticUrl);
    },
  };
}
