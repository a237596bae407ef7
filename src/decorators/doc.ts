import { handlerMeta } from '../core/metadata';
import { metaKey } from '../core/plugin';
import { checkOptions } from './options';

/** Where `@Doc` records, for the `openapi` plugin; without it, `@Doc` is only not shown. */
export const DOC = metaKey('@Doc', 'openapi', { required: false });

/** What `@Doc` adds to a route's OpenAPI operation. */
export interface DocOptions {
  summary?: string;
  description?: string;
  /** Tags besides the controller's name. */
  tags?: string[];
  /** Marks the operation deprecated. */
  deprecated?: boolean;
  /** Leaves the route out of the document. */
  hidden?: boolean;
  /** Statuses the handler itself answers with, and why: `{ 403: 'Not your project', 409: 'The slug is taken' }`. */
  responses?: Readonly<Record<number, string>>;
  /** Security requirements the handler adds (ANDed with its middlewares'). */
  security?: SecurityRequirements;
}

/**
 * Alternatives of security requirements, as OpenAPI writes them: `[{ session: [] }]` needs the
 * `session` scheme; `[{ csrf: [] }, {}]` makes `csrf` optional.
 */
export type SecurityRequirements = readonly Readonly<Record<string, readonly string[]>>[];

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
  checkOptions('@Doc', options, [
    'summary',
    'description',
    'tags',
    'deprecated',
    'hidden',
    'responses',
    'security',
  ]);
  return (target, key) => {
    handlerMeta(target.constructor, String(key)).extras.set(DOC, options);
  };
}
