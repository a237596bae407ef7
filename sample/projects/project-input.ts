import { HTTPUnprocessableEntity } from '../../src';
import type { ProjectInput } from './projects.service';

/**
 * Checks a project body by hand. The schema issue replaces this with `@Schema(AddProject)`;
 * until then the rules live here, and a bad body is a 422 that lists every problem.
 */
export function parseProjectInput(body: unknown): ProjectInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HTTPUnprocessableEntity('The body must be a JSON object');
  }
  const { name, slug, description } = body as Record<string, unknown>;
  const errors: { path: string; messages: string[] }[] = [];
  if (typeof name !== 'string' || name.length < 1 || name.length > 32) {
    errors.push({ path: 'name', messages: ['name must be a string of 1 to 32 characters'] });
  }
  if (typeof slug !== 'string' || !/^[a-z0-9-]{1,32}$/.test(slug)) {
    errors.push({ path: 'slug', messages: ['slug must be 1 to 32 of a-z, 0-9 and -'] });
  }
  if (description !== undefined && (typeof description !== 'string' || description.length > 255)) {
    errors.push({ path: 'description', messages: ['description must be a string of at most 255 characters'] });
  }
  if (errors.length > 0) throw new HTTPUnprocessableEntity('The project is not valid', { extensions: { errors } });
  return { name: name as string, slug: slug as string, ...(description === undefined ? {} : { description: description as string }) };
}
