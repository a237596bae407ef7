import { checkOptions } from '../core/options';
import type { Plugin } from '../core/plugin';
import { TEMPLATE, type TemplateMeta } from '../decorators/template';
import { Templates, type TemplatesOptions } from './templates';
import { checkTemplateUrls } from './url-check';

declare module '../core/application' {
  interface Application {
    /** The nunjucks templates, when the `templates` plugin is installed. */
    readonly templates?: Templates;
  }
}

const OPTION_KEYS = ['dir', 'contextProcessors', 'filters', 'globals'];

/**
 * nunjucks templates (aiohttp_jinja2's role): `@Template` routes render what their handler
 * returns, `render(req, name, context)` renders without it, and `app.templates` is the
 * environment. Every `@Template`'s file is compiled at startup: a missing one stops it.
 *
 * @example
 * createApp({ controllers, plugins: [templates({ dir: 'templates', contextProcessors: [(req) => ({ user: req.state.user })] })] });
 */
export function templates(options: TemplatesOptions): Plugin {
  checkOptions('templates', options, OPTION_KEYS);
  let engine: Templates;
  return {
    name: 'templates',
    setup(app) {
      engine = new Templates(app, options);
      app.decorate('templates', engine);
    },
    route(route) {
      const meta = route.meta.extras.get(TEMPLATE) as TemplateMeta | undefined;
      if (meta === undefined) return;
      route.claim(TEMPLATE);
      route.handler = engine.wrap(route.handler, meta, route.origin);
    },
    ready(app) {
      engine.adopt(app.view);
      checkTemplateUrls(typeof options.dir === 'string' ? [options.dir] : options.dir, (name) =>
        app.router.unknownName(name),
      );
    },
  };
}
