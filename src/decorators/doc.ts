import { handlerMeta } from '../core/metadata';
import { DOC, type DocOptions } from '../core/openapi';
import { checkOptions } from './options';

/**
 * Documents a route in the OpenAPI document: a summary, a description, tags.
 *
 * @example
 * @Get('/projects', { name: 'projects' })
 * @Doc({ summary: 'All projects', description: 'Ordered by id.' })
 * list() { ... }
 */
export function Doc(options: DocOptions): MethodDecorator {
  checkOptions('@Doc', options, ['summary', 'description', 'tags', 'deprecated', 'hidden']);
  return (target, key) => {
    handlerMeta(target.constructor, String(key)).extras.set(DOC, options);
  };
}
