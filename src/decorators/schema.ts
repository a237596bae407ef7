import type { Constructor } from '../core/container';
import { handlerMeta } from '../core/metadata';
import { metaKey } from '../core/plugin';

/** Where `@Schema` records, for the `schemas` plugin (and the OpenAPI document). */
export const SCHEMA = metaKey('@Schema', 'schemas');

/** What `@Schema` takes: classes of class-validator / class-transformer. */
export interface SchemaOptions {
  /** The body of POST/PUT/PATCH (JSON, urlencoded or multipart), the query of GET/DELETE: `req.data`. */
  request?: Constructor;
  /** The query string, whatever the method: `req.validQuery`. */
  query?: Constructor;
  /** The route parameters: `req.validParams`. */
  params?: Constructor;
  /** What the handler returns, serialized through it (`@Expose`): a class, or `[Class]` for a list. */
  response?: Constructor | [Constructor];
  /** Success status (200). */
  status?: number;
  /** Unknown properties are a 422 instead of being dropped. */
  forbidUnknown?: boolean;
}

/**
 * Validates a route's input and serializes its output with class-validator and
 * class-transformer classes (rororo's schemas, in decorator form). `@Schema(Class)` validates the
 * body of POST/PUT/PATCH or the query of GET/DELETE into `req.data`; the options form adds
 * `query`, `params`, `response`, `status` and `forbidUnknown`. Failures are 422 problem+json
 * listing every field; everything is compiled at startup.
 *
 * @example
 * @Post('/projects', { name: 'add_project' })
 * @Schema({ request: AddProject, response: ProjectOut, status: 201 })
 * async add(req: Request<AddProject>) { return this.projects.add(req.data); }
 */
export function Schema(schema: Constructor | SchemaOptions): MethodDecorator {
  const options: SchemaOptions = typeof schema === 'function' ? { request: schema } : schema;
  return (target, key) => {
    handlerMeta(target.constructor, String(key)).extras.set(SCHEMA, options);
  };
}
