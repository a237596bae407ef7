import { handlerMeta } from '../core/metadata';
import { metaKey } from '../core/plugin';
import { checkOptions } from './options';

/** Where `@Template` records, for the `templates` plugin. */
export const TEMPLATE = metaKey('@Template', 'templates');

/** What `@Template` records. */
export interface TemplateMeta {
  name: string;
  status: number;
}

/**
 * Renders what the handler returns as the context of a nunjucks template (aiohttp_jinja2's
 * `@template`). The handler may still return a `Response` or throw an HTTP error. A missing
 * template, or one that does not compile, stops `createApp`.
 *
 * @example
 * @Get('/<project_id:\\d+>', { name: 'show' })
 * @Template('project.html')
 * async show(req: Request) { return { project: await this.projects.get(id) }; }
 */
export function Template(name: string, options?: { status?: number }): MethodDecorator {
  checkOptions(`@Template('${name}')`, options, ['status']);
  return (target, key) => {
    handlerMeta(target.constructor, String(key)).extras.set(TEMPLATE, {
      name,
      status: options?.status ?? 200,
    } satisfies TemplateMeta);
  };
}
