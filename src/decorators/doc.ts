import { handlerMeta } from '../core/metadata';
import { checkOptions } from './options';

/** The key of `@Doc` data in a handler's metadata. */
export const DOC = Symbol('rococo.doc');

/** What `@Doc` adds to a route's OpenAPI operation. */
export interface DocOptions {
  summary?: string;
  description?: string;
  /** Tags besides the controller's name. */
  tags?: string[];
  /** Marks the operation deprecated. */
  deprecated?: boolean;
}

/**
 * Documents a route in the OpenAPI document: a summary, a description, tags.
 *
 * @example
 * @Get('/projects', { name: 'projects' })
 * @Doc({ summary: 'All projects', description: 'Ordered by id.' })
 * list() { ... }
 */
export function Doc(options: DocOptions): MethodDecorator {
  checkOptions('@Doc', options, ['summary', 'description', 'tags', 'deprecated']);
  return (target, key) => {
    handlerMeta(target.constructor, String(key)).extras.set(DOC, options);
  };
}
