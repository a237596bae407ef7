import type { Constructor } from '../core/container';
import { handlerMeta } from '../core/metadata';
import { SCHEMA, type SchemaOptions } from '../core/schema';

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
