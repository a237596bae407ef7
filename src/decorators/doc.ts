import { handlerMeta } from '../core/metadata';
import { DOC, type DocOptions } from '../core/openapi';
import { checkOptions } from './options';

/**
 * Documents a route in the OpenAPI document: a summary, a description, tags, and the statuses
 * the handler itself answers with (what the framework and middlewares answer is known).
 *
 * @example
 * @Post('/projects', { name: 'add_project' })
 * @Doc({ summary: 'Add a project', responses: { 409: 'The slug is taken' } })
 * add() { ... }
 */
export function Doc(options: DocOptions): MethodDecorator {
  checkOptions('@Doc', options, ['summary', 'description', 'tags', 'deprecated', 'hidden', 'responses', 'security']);
  return (target, key) => {
    handlerMeta(target.constructor, String(key)).extras.set(DOC, options);
  };
}
